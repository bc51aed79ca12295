"""Versioned migrations (issue 15 item 2): a database made by the unversioned schema.sql of earlier releases
and one made from scratch end up identical; each migration runs once, serialised, and never changes after;
a service refuses a schema older than its code and runs on a newer one unless that one says otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from antibully.infra import create_database, drop_database
from antibully.migrate import MigrateError, migrate_database
from antibully.processes import pg_bin_dir
from shared.config import DB_SERVICES, ROOT, Settings
from shared.crypto import new_key_b64
from shared.db import SHARED_SQL, NotMigrated, create_pool
from shared.migrations import MigrationError, expected_version, load_migrations, migrations_dir
from tests.legacy_schema import create_legacy_schema

SCHEMAS = {"intake": "intake", "escalation": "escalation", "notify": "notify", "archive": "archive"}


@pytest.fixture
async def bare_databases(pg_base_url: str) -> AsyncIterator[list[str]]:
    """Two databases nobody has migrated."""
    urls = [await create_database(pg_base_url, prefix="antibully_mig") for _ in range(2)]
    try:
        yield urls
    finally:
        for url in urls:
            await drop_database(pg_base_url, url)


def _dump(url: str) -> str:
    """pg_dump --schema-only of the service schemas: tables, columns (order, types, defaults, nullability),
    constraints, indexes, triggers, functions' source, owners and grants; minus the lines that name the
    run (versions, pg_dump's random \\restrict key)."""
    args = [str(pg_bin_dir() / "pg_dump"), "--schema-only", *(f"--schema={s}" for s in SCHEMAS.values()), url]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    return "\n".join(line for line in out.splitlines()
                     if not re.match(r"(\\restrict|\\unrestrict|-- Dumped (from|by))", line))


async def _fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def _versions(url: str) -> dict[str, list[tuple[int, str, str, int]]]:
    return {s: [tuple(r) for r in await _fetch(
        url, f"SELECT version, name, checksum, requires_code FROM {s}.schema_migrations ORDER BY version")]
        for s in SCHEMAS.values()}


@pytest.mark.parametrize(("made_by", "release"), [("superuser", ""), ("owner", ""), ("superuser", "issue4")])
async def test_a_database_from_the_old_schema_sql_and_a_new_one_migrate_to_the_same(
        bare_databases: list[str], made_by: str, release: str) -> None:
    """The last schema.sql's database as the services made it before issue 14 (as the superuser) or as issue
    14's migrate did (as the owner), and issue 4's, each with data and a stray grant in it; the other database
    made from scratch. pg_dump finds them identical."""
    legacy, fresh = bare_databases
    conn = await asyncpg.connect(legacy)
    try:
        owner = None
        if made_by == "owner":
            owner = "antibully_owner"
            with contextlib.suppress(asyncpg.DuplicateObjectError):  # roles outlive test databases
                await conn.execute(f"CREATE ROLE {owner} NOLOGIN")
        for service, schema in SCHEMAS.items():
            await create_legacy_schema(conn, schema, service, owner, release)
        await conn.execute("GRANT SELECT ON intake.schools TO PUBLIC")
        await conn.execute("INSERT INTO intake.schools (school_id, name) VALUES ('s1', 'x')")
        await conn.execute("SET search_path = archive")  # as the service runs (the ledger's trigger, today's)
        # a case as that release's archive projected it: issue 4's had no kind or reference yet
        columns = "incident_id, school_id, level, reported_at" + (", kind, case_ref" if release != "issue4" else "")
        values = "'3f000000-0000-4000-8000-000000000001', 's1', 'minor', now()" + (
            ", 'incident', 'AB-3F000000'" if release != "issue4" else "")
        await conn.execute(f"INSERT INTO archive.cases ({columns}) VALUES ({values})")
    finally:
        await conn.close()
    adopted = await migrate_database(Settings(database_url=legacy))
    assert sum("adopted" in line for line in adopted) == len(SCHEMAS), adopted
    created = await migrate_database(Settings(database_url=fresh))
    assert not any("adopted" in line for line in created), created
    assert sum("applied 0001_initial" in line for line in created) == len(SCHEMAS), created

    old, new = await asyncio.to_thread(_dump, legacy), await asyncio.to_thread(_dump, fresh)
    assert "CREATE TABLE archive.entries" in new and "GRANT SELECT ON TABLE intake.schema_migrations" in new
    assert "OWNER TO antibully_owner" in new and "CREATE TRIGGER obligations_versioned" in new
    assert old == new
    assert await _versions(legacy) == await _versions(fresh)
    # the data is kept, and what the migrations fill in for older rows (issue 4's) is filled in
    assert await _fetch(legacy, "SELECT name FROM intake.schools") == [("x",)]
    case = await _fetch(legacy, "SELECT kind, case_ref, status FROM archive.cases")
    assert [tuple(r) for r in case] == [("incident", "AB-3F000000", "open")]
    assert await _fetch(legacy, "SELECT sum(incidents), sum(minor) FROM archive.ledger_months") == [(1, 1)]


async def test_migrate_twice_applies_nothing_the_second_time(database: str) -> None:
    before = await _fetch(database, "SELECT version, applied_at FROM archive.schema_migrations")
    again = await migrate_database(Settings(database_url=database))
    assert not any("applied" in line for line in again), again
    assert await _fetch(database, "SELECT version, applied_at FROM archive.schema_migrations") == before
    assert [r["version"] for r in before] == list(range(1, expected_version("archive") + 1))


async def test_two_concurrent_migrates_of_a_fresh_database_apply_each_migration_once(
        bare_databases: list[str]) -> None:
    url = bare_databases[0]
    first, second = await asyncio.gather(*(migrate_database(Settings(database_url=url)) for _ in range(2)))
    applied = [line for line in first + second if "applied" in line]
    assert sorted(applied) == sorted(f"schema {s}: applied {m.name}" for s in SCHEMAS.values()
                                     for m in load_migrations(migrations_dir(s)))
    for schema in SCHEMAS.values():
        rows = await _fetch(url, f"SELECT version, count(*) FROM {schema}.schema_migrations GROUP BY 1 ORDER BY 1")
        assert [tuple(r) for r in rows] == [(v, 1) for v in range(1, expected_version(schema) + 1)]


async def test_the_migrate_lock_is_per_database(bare_databases: list[str]) -> None:
    """The tests migrate many databases of one server at once: a migration holding the lock of one database
    must not hold up another's, and must hold up its own database's."""
    one, other = bare_databases
    holder = await asyncpg.connect(one)
    try:
        await holder.execute("SELECT pg_advisory_lock(hashtext('antibully-migrate'))")
        await asyncio.wait_for(migrate_database(Settings(database_url=other)), timeout=60)
        waiting = asyncio.create_task(migrate_database(Settings(database_url=one)))
        await asyncio.sleep(1.0)
        assert not waiting.done()
        await holder.execute("SELECT pg_advisory_unlock(hashtext('antibully-migrate'))")
        assert any("applied 0001_initial" in line for line in await asyncio.wait_for(waiting, timeout=60))
    finally:
        await holder.close()


async def test_an_applied_migration_that_changed_is_refused(database: str, tmp_path: Path) -> None:
    edited = shutil.copytree(migrations_dir("intake"), tmp_path / "intake")
    with (edited / "0001_initial.sql").open("a", encoding="utf-8") as f:
        f.write("\nALTER TABLE schools ADD COLUMN IF NOT EXISTS motto text;\n")
    with pytest.raises(MigrateError, match=r"schema intake: 0001_initial.sql was changed after it was applied .*"
                                           r"restore it and put the change in a new, higher-numbered migration"):
        await migrate_database(Settings(database_url=database), {"intake": edited})
    assert not await _fetch(database, "SELECT 1 FROM information_schema.columns WHERE column_name = 'motto'")
    # the operator's view: the CLI says so and exits 2 (here a checksum changed in the database instead)
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("UPDATE notify.schema_migrations SET checksum = repeat('0', 64) WHERE version = 1")
    finally:
        await conn.close()
    code, err = await _run({"PATH": "/usr/bin:/bin", "DATABASE_URL": database}, "-m", "antibully.cli", "migrate")
    assert code == 2, err
    assert "antibully migrate: schema notify: 0001_initial.sql was changed after it was applied" in err, err
    assert "Traceback" not in err


def _with(service: str, tmp_path: Path, *extra: tuple[str, str]) -> Path:
    """The service's shipped migrations plus `extra` (name, sql): a later release's, shipped nowhere."""
    directory = shutil.copytree(migrations_dir(service), tmp_path / f"{service}-next")
    for name, sql in extra:
        (directory / name).write_text(sql, encoding="utf-8")
    return directory


async def test_a_second_migration_applies_on_top_and_is_granted(database: str, tmp_path: Path) -> None:
    nxt = _with("intake", tmp_path, ("0002_school_motto.sql",
                                     "ALTER TABLE schools ADD COLUMN motto text;\n"
                                     "CREATE TABLE school_mottos (school_id text PRIMARY KEY, motto text NOT NULL);\n"))
    done = await migrate_database(Settings(database_url=database), {"intake": nxt})
    assert [line for line in done if "applied" in line] == ["schema intake: applied 0002_school_motto"]
    assert not any("applied" in line for line in await migrate_database(Settings(database_url=database),
                                                                        {"intake": nxt}))
    pool = await create_pool(database, "intake", role="antibully_intake", max_size=1, expected_version=2)
    try:  # the new table is the service role's like the others; the version table only to read
        await pool.execute("INSERT INTO school_mottos VALUES ('s', 'm')")
        assert await pool.fetchval("SELECT max(version) FROM schema_migrations") == 2
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pool.execute("DELETE FROM schema_migrations")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pool.execute("INSERT INTO schema_migrations VALUES (3, 'x', 'x', 0)")
    finally:
        await pool.close()
    # the previous release's migrate, run again by mistake, refuses a database it does not know
    with pytest.raises(MigrateError, match=r"applied, which this release does not have.*newer release"):
        await migrate_database(Settings(database_url=database))


async def test_a_failing_migration_is_rolled_back_and_said(database: str, tmp_path: Path) -> None:
    bad = _with("notify", tmp_path, ("0002_broken.sql", "CREATE TABLE half (x int);\nALTER TABLE nowhere ADD y int;\n"))
    with pytest.raises(MigrateError, match=r"schema notify: 0002_broken\.sql failed and was rolled back"):
        await migrate_database(Settings(database_url=database), {"notify": bad})
    assert not await _fetch(database, "SELECT 1 FROM pg_class WHERE relname = 'half'")
    assert [r[0] for r in await _fetch(database, "SELECT version FROM notify.schema_migrations")] == [1]


async def _run(env: dict[str, str], *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, *args, env=env, cwd=ROOT,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, err.decode()


async def _archive_process(database: str, nats_url: str) -> tuple[int, str]:
    """The archive started as a process against `database` (it stops at the database check when refused)."""
    return await _run({"PATH": "/usr/bin:/bin", "NATS_URL": nats_url, "DATABASE_URL": database,
                       "ARCHIVE_DATA_KEY": new_key_b64(), "ARCHIVE_PORT": "0"}, "-m", "services.archive")


async def test_a_service_refuses_a_schema_older_than_its_code(database: str) -> None:
    conn = await asyncpg.connect(database)
    try:  # the release's code expects more than the database has (its migrate was not run)
        await conn.execute("DELETE FROM archive.schema_migrations WHERE version = $1", expected_version("archive"))
    finally:
        await conn.close()
    code, err = await _archive_process(database, "nats://127.0.0.1:9")
    assert code == 3, err
    assert re.search(r"archive cannot start: schema 'archive' is at version \d+, this release needs \d+: run this "
                     r"release's `antibully migrate`", err), err
    assert "Traceback" not in err
    await _fetch(database, "DROP TABLE intake.schema_migrations")  # a database from before versions: the same
    with pytest.raises(NotMigrated, match=r"no version table.*run `antibully migrate`"):
        await create_pool(database, "intake", role="antibully_intake", max_size=1,
                          expected_version=expected_version("intake"))


async def test_a_service_runs_on_a_newer_expand_only_schema_and_refuses_one_that_needs_newer_code(
        settings: Settings, tmp_path: Path) -> None:
    """An older replica restarting during an upgrade: the new release's migrations keep it working (the rule in
    docs/operations.md), unless one of them says it removed what older code uses (`-- requires-code: N`)."""
    from antibully.cli import add_school
    from services.intake.app import running

    database = settings.database_url
    intake_now, archive_now = expected_version("intake"), expected_version("archive")
    expand = (f"{intake_now + 1:04d}_school_motto.sql", "ALTER TABLE schools ADD COLUMN motto text;\n")
    intake_next = _with("intake", tmp_path, expand)
    await migrate_database(Settings(database_url=database), {"intake": intake_next})
    async with running(settings):  # this release's intake on the next release's schema: it starts and works
        assert await add_school(database, "s-newer", "x")
    assert await _fetch(database, "SELECT version FROM intake.schema_migrations ORDER BY 1 DESC LIMIT 1") == [
        (intake_now + 1,)]

    add = (f"{archive_now + 1:04d}_probe_column.sql", "ALTER TABLE recipients ADD COLUMN probe text;\n")
    drop = (f"{archive_now + 2:04d}_drop_probe.sql",
            f"-- requires-code: {archive_now + 1}\nALTER TABLE recipients DROP COLUMN probe;\n")
    await migrate_database(Settings(database_url=database),
                           {"intake": intake_next, "archive": _with("archive", tmp_path, add, drop)})
    code, err = await _archive_process(database, settings.nats_url)
    assert code == 3, err
    assert (f"schema 'archive' is at version {archive_now + 2}, whose migrations need code of version "
            f"{archive_now + 1} or later; this code expects {archive_now}: deploy the newer release") in err, err
    pool = await create_pool(database, "archive", role="antibully_archive", max_size=1,
                             expected_version=archive_now + 1)
    await pool.close()  # the release that expects it runs


@pytest.mark.pure
def test_every_service_has_numbered_migrations_whose_first_makes_the_inbox_and_outbox() -> None:
    body = "\n".join(line for line in SHARED_SQL.read_text(encoding="utf-8").splitlines()
                     if not line.startswith("--"))
    for service in DB_SERVICES:
        migrations = load_migrations(migrations_dir(service))
        assert migrations[0].name == "0001_initial" and expected_version(service) == len(migrations)
        assert body in migrations[0].sql, service  # the probes' copy (shared/messaging.sql) is the same


@pytest.mark.pure
def test_a_gap_or_a_stray_name_in_the_migrations_is_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="without gaps"):
        load_migrations(tmp_path)
    (tmp_path / "0003_c.sql").rename(tmp_path / "2_b.sql")
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        load_migrations(tmp_path)
    (tmp_path / "2_b.sql").rename(tmp_path / "0002_b.sql")
    (tmp_path / "0002_b.sql").write_text("-- requires-code: 2\nALTER TABLE t DROP COLUMN c;")
    assert [(m.version, m.requires_code) for m in load_migrations(tmp_path)] == [(1, 0), (2, 2)]
    (tmp_path / "0002_b.sql").write_text("-- requires-code: 3\nALTER TABLE t DROP COLUMN c;")
    with pytest.raises(MigrationError, match="names a version from 1 to its own"):
        load_migrations(tmp_path)

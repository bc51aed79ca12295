"""Least privilege in PostgreSQL (issue 14): a login role per service, owning nothing, with rights on
its own schema alone; `antibully migrate` the only step that runs DDL. Every test logs in as the
service roles the `database` fixture's migration made (trust auth on the test server)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import sys
from typing import Any

import asyncpg
import pytest

from antibully.infra import create_database, database_url_as, drop_database
from antibully.migrate import MigrateError, migrate_database, scram_verifier, service_schemas
from shared.config import DB_SERVICES, ROOT, Settings
from shared.db import NotMigrated, create_pool
from tests.legacy_schema import create_legacy_schema

SCHEMAS = {"intake": "intake", "escalation": "escalation", "notify": "notify", "archive": "archive"}


async def as_role(settings: Settings, service: str) -> asyncpg.Connection:
    db = settings.service_database(service)
    conn = await asyncpg.connect(db.url, server_settings={"search_path": SCHEMAS[service]})
    assert await conn.fetchval("SELECT current_user") == db.role == f"antibully_{service}"
    return conn


async def test_no_service_role_is_privileged(settings: Settings) -> None:
    admin = await asyncpg.connect(settings.database_url)
    try:
        for service in DB_SERVICES:
            role = settings.service_database(service).role
            row = await admin.fetchrow(
                "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin"
                " FROM pg_roles WHERE rolname = $1", role)
            assert row is not None, role
            assert tuple(row.values()) == (False, False, False, False, False, True), (role, row)
            # a member of no role: nothing to SET ROLE to, no inherited rights
            assert not await admin.fetch("SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member"
                                         " WHERE r.rolname = $1", role)
            owned = await admin.fetchval(
                "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = $1", role)
            assert owned == 0, f"{role} owns {owned} relations"
        owners = await admin.fetch(
            "SELECT DISTINCT n.nspname, pg_get_userbyid(c.relowner) AS owner FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1::text[])",
            list(SCHEMAS.values()))
        assert {r["owner"] for r in owners} == {settings.db_owner_role}
    finally:
        await admin.close()


@pytest.mark.parametrize(("me", "other"), list(itertools.permutations(DB_SERVICES, 2)))
async def test_a_service_cannot_read_another_services_schema(settings: Settings, me: str, other: str) -> None:
    conn = await as_role(settings, me)
    try:
        assert await conn.fetchval("SELECT count(*) FROM inbox") == 0  # its own: yes
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match=f"schema {other}"):
            await conn.fetch(f"SELECT * FROM {SCHEMAS[other]}.inbox")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f"INSERT INTO {SCHEMAS[other]}.inbox (message_id, subject) VALUES ('x', 'y')")
    finally:
        await conn.close()


@pytest.mark.parametrize("service", DB_SERVICES)
async def test_a_service_cannot_run_ddl(settings: Settings, service: str) -> None:
    conn = await as_role(settings, service)
    try:
        for sql in ("CREATE TABLE sneaky (x int)", "CREATE TABLE public.sneaky (x int)",
                    "CREATE SCHEMA sneaky", "ALTER TABLE outbox ADD COLUMN x int", "DROP TABLE inbox",
                    "TRUNCATE inbox", "CREATE ROLE sneaky", "CREATE DATABASE sneaky"):
            with pytest.raises(asyncpg.PostgresError) as caught:
                await conn.execute(sql)
            assert caught.value.sqlstate in ("42501", "42P01"), (sql, caught.value)  # insufficient privilege
    finally:
        await conn.close()


async def test_the_archive_role_cannot_change_or_unprotect_its_chains(settings: Settings) -> None:
    conn = await as_role(settings, "archive")
    try:
        for table in ("entries", "checkpoints", "access_log"):
            column = await conn.fetchval(
                "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum = 1", table)
            for sql in (f"UPDATE {table} SET {column} = {column}", f"DELETE FROM {table}", f"TRUNCATE {table}"):
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match=f"permission denied for table {table}"):
                    await conn.execute(sql)
            for sql in (f"ALTER TABLE {table} DISABLE TRIGGER USER", f"ALTER TABLE {table} DISABLE TRIGGER ALL",
                        f"DROP TABLE {table}", f"ALTER TABLE {table} OWNER TO antibully_archive"):
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match=f"must be owner of table {table}"):
                    await conn.execute(sql)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="case_keys"):
            await conn.execute("DELETE FROM case_keys")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DROP TRIGGER entries_no_update_delete ON entries")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE OR REPLACE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql"
                               " AS $$ BEGIN RETURN NEW; END $$")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("SET session_replication_role = replica")  # the other way to skip triggers
        superuser = await conn.fetchval("SELECT rolname FROM pg_roles WHERE rolsuper LIMIT 1")
        for role in (superuser, settings.db_owner_role, "antibully_intake"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied to set role"):
                await conn.execute(f'SET ROLE "{role}"')
        await conn.execute("RESET ROLE")
        assert await conn.fetchval("SELECT current_user") == "antibully_archive"
        # what it must still do: read and append
        assert await conn.fetchval("SELECT count(*) FROM entries") == 0
    finally:
        await conn.close()


async def test_the_fallback_login_acts_as_the_service_role(settings: Settings) -> None:
    """A service given only DATABASE_URL (a superuser here) still has only its own role's rights."""
    pool = await create_pool(settings.database_url, "archive", role="antibully_archive", max_size=1)
    try:
        assert await pool.fetchval("SELECT current_user") == "antibully_archive"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pool.execute("DELETE FROM entries")
    finally:
        await pool.close()


@pytest.fixture
async def bare_database(pg_base_url: str) -> Any:
    """A database nobody has migrated."""
    url = await create_database(pg_base_url, prefix="antibully_bare")
    try:
        yield url
    finally:
        await drop_database(pg_base_url, url)


async def test_a_service_started_before_migrate_refuses(settings: Settings, bare_database: str) -> None:
    from services.intake.app import running

    bare = settings.model_copy(update={
        "database_url": bare_database,
        **{f"{s}_database_url": database_url_as(bare_database, f"antibully_{s}") for s in DB_SERVICES}})
    with pytest.raises(NotMigrated, match="run `antibully migrate`"):
        async with running(bare):
            pass
    # as a process: one clear line, no traceback, a non-zero exit
    env = {"PATH": "/usr/bin:/bin", "NATS_URL": settings.nats_url, "DATABASE_URL": bare_database,
           "ARCHIVE_DATA_KEY": settings.archive_data_key, "ARCHIVE_PORT": "0"}
    code, err = await _run(env, "-m", "services.archive")
    assert code == 3, err
    assert "archive cannot start" in err and "antibully migrate" in err, err
    assert "Traceback" not in err
    # the CLI's admin commands say the same
    code, err = await _run(env, "-m", "antibully.cli", "schools", "keys", "list", "demo-school")
    assert code == 1 and "antibully migrate" in err, err


async def _run(env: dict[str, str], *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, *args, env=env, cwd=ROOT,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, err.decode()


async def _snapshot(url: str) -> list[Any]:
    """Everything migrate decides: roles' attributes and memberships, owners and ACLs, columns, triggers."""
    conn = await asyncpg.connect(url)
    try:
        schemas = list(SCHEMAS.values())
        return [
            await conn.fetch("SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolinherit,"
                             " rolpassword FROM pg_authid WHERE rolname LIKE 'antibully%' ORDER BY 1"),
            await conn.fetch("SELECT roleid, member FROM pg_auth_members ORDER BY 1, 2"),
            await conn.fetch("SELECT nspname, nspowner, nspacl::text FROM pg_namespace WHERE nspname = ANY($1)"
                             " ORDER BY 1", schemas),
            await conn.fetch("SELECT n.nspname, c.relname, c.relkind, c.relowner, c.relacl::text FROM pg_class c"
                             " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1) ORDER BY 1, 2",
                             schemas),
            await conn.fetch("SELECT p.oid::regprocedure::text, p.proowner, p.proacl::text FROM pg_proc p"
                             " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY($1) ORDER BY 1",
                             schemas),
            await conn.fetch("SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns"
                             " WHERE table_schema = ANY($1) ORDER BY 1, 2, 3", schemas),
            await conn.fetch("SELECT tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1"),
        ]
    finally:
        await conn.close()


async def test_migrate_twice_changes_nothing(database: str) -> None:
    # `database` is migrated once already; a password given in a service's URL is set on its role
    settings = Settings(database_url=database,
                        notify_database_url=database_url_as(database, "antibully_pgroles_notify", "s3cret pass"))
    await migrate_database(settings)
    before = await _snapshot(database)
    assert await migrate_database(settings) == await migrate_database(settings)
    assert await _snapshot(database) == before
    conn = await asyncpg.connect(database)
    try:
        stored = await conn.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = 'antibully_pgroles_notify'")
        assert stored.startswith("SCRAM-SHA-256$4096:")
        assert await conn.fetchval("SELECT has_table_privilege('antibully_pgroles_notify', 'notify.outbox', 'INSERT')")
    finally:
        await conn.close()


def test_scram_verifier_matches_postgres_format() -> None:
    verifier = scram_verifier("pencil", b"0123456789abcdef", 4096)
    assert verifier.startswith("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$")
    assert verifier == scram_verifier("pencil", b"0123456789abcdef", 4096) != scram_verifier("pencil")


async def test_migrate_takes_over_tables_the_superuser_made(bare_database: str) -> None:
    """A database from before issue 14: the services made their tables as the superuser."""
    conn = await asyncpg.connect(bare_database)
    try:
        await create_legacy_schema(conn, "archive", "archive")
        assert await conn.fetchval("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'entries'") \
            == await conn.fetchval("SELECT current_user")
        await migrate_database(Settings(database_url=bare_database))
        assert {r[0] for r in await conn.fetch(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class WHERE relnamespace = 'archive'::regnamespace")} \
            == {"antibully_owner"}
        assert {r[0] for r in await conn.fetch(
            "SELECT DISTINCT pg_get_userbyid(proowner) FROM pg_proc WHERE pronamespace = 'archive'::regnamespace")} \
            == {"antibully_owner"}
    finally:
        await conn.close()


async def test_migrate_refuses_a_service_logging_in_as_the_admin(database: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        admin = await conn.fetchval("SELECT current_user")
    finally:
        await conn.close()
    with pytest.raises(MigrateError, match="ARCHIVE_DATABASE_URL logs in as"):
        await migrate_database(Settings(database_url=database, archive_database_url=database_url_as(database, admin)))
    with pytest.raises(MigrateError, match="share a database role"):
        await migrate_database(Settings(database_url=database,
                                        intake_database_url=database_url_as(database, "antibully_notify")))


async def test_migrate_as_an_owner_that_is_no_superuser(bare_database: str) -> None:
    """The DBA's alternative to a superuser: the owner itself logs in, with CREATEROLE and CREATE on the database."""
    owner = "antibully_pgroles_dba"
    name = bare_database.partition("?")[0].rpartition("/")[2]
    conn = await asyncpg.connect(bare_database)
    try:
        with contextlib.suppress(asyncpg.DuplicateObjectError):  # roles outlive test databases
            await conn.execute(f"CREATE ROLE {owner} LOGIN CREATEROLE")
        await conn.execute(f'GRANT CREATE ON DATABASE "{name}" TO {owner}')
        await migrate_database(Settings(database_url=database_url_as(bare_database, owner), db_owner_role=owner))
        assert {r[0] for r in await conn.fetch(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class WHERE relnamespace = ANY("
            "SELECT oid FROM pg_namespace WHERE nspname IN ('intake', 'escalation', 'notify', 'archive'))")} == {owner}
        assert await conn.fetchval("SELECT has_table_privilege('antibully_archive', 'archive.entries', 'INSERT')")
        assert not await conn.fetchval("SELECT has_table_privilege('antibully_archive', 'archive.entries', 'DELETE')")
    finally:
        await conn.close()


@pytest.mark.pure
def test_delete_is_granted_exactly_where_the_code_deletes() -> None:
    """A DELETE added to a service's code without its table in DELETABLE fails here, not in production."""
    shared = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "shared").rglob("*.py"))
    assert not re.findall(r"DELETE FROM \w+", shared)  # the inbox and outbox are never deleted from
    for spec in service_schemas():
        code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "services" / spec.service).rglob("*.py"))
        assert set(re.findall(r"DELETE FROM (\w+)", code)) == set(spec.deletable), spec.service


async def test_each_role_may_delete_only_where_its_code_does(settings: Settings) -> None:
    admin = await asyncpg.connect(settings.database_url)
    try:
        for spec in service_schemas():
            role = settings.service_database(spec.service).role
            rows = await admin.fetch(
                "SELECT c.relname, has_table_privilege($1, c.oid, 'DELETE') AS can_delete,"
                " has_table_privilege($1, c.oid, 'UPDATE') AS can_update FROM pg_class c"
                " WHERE c.relnamespace = $2::regnamespace AND c.relkind = 'r'", role, spec.schema)
            assert {r["relname"] for r in rows if r["can_delete"]} == set(spec.deletable), spec.service
            no_update = {r["relname"] for r in rows if not r["can_update"]}
            assert no_update == {t for t, p in spec.restricted.items() if "UPDATE" not in p}, spec.service
    finally:
        await admin.close()

"""Versioned migrations (issue 15): numbered SQL files per service schema, applied once each, in order.

A service's migrations are `services/<service>/migrations/NNNN_<name>.sql`, numbered 1, 2, 3… without
gaps. Each schema records what it has applied in its own `schema_migrations` table (version, name,
the file's SHA-256, when, and the oldest code version it still serves). `antibully migrate` applies the
missing ones, each in its own transaction, under a session advisory lock (advisory locks are per
database, so migrations of different databases on one server do not wait for each other).

Version 1 is the schema as the unversioned `schema.sql` left it, and idempotent: a database made
before versions (its tables, no version table) is adopted by applying it again and recording it.
Every later migration runs exactly once and may be plain DDL.

A migration that removes something older code uses (the "contract" half of expand/contract, see
docs/operations.md) says so on a line of its own: `-- requires-code: N`, the lowest version a
service's code must expect to run against the schema once it is applied.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from shared.config import ROOT
from shared.db import Conn, NotMigrated

VERSION_TABLE = "schema_migrations"
_FILE = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")
_REQUIRES = re.compile(r"^-- requires-code: (\d+)\s*$", re.MULTILINE)
_CREATE_VERSION_TABLE = f"""
CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (
    version       int PRIMARY KEY,
    name          text NOT NULL,
    checksum      text NOT NULL,           -- SHA-256 of the file as applied: an applied file never changes
    requires_code int NOT NULL DEFAULT 0,  -- code expecting a lower version may not run against it any more
    applied_at    timestamptz NOT NULL DEFAULT now()
)"""


class MigrationError(RuntimeError):
    """The migrations on disk and in the database disagree (said plainly for the operator)."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str
    requires_code: int


def migrations_dir(service: str) -> Path:
    return ROOT / "services" / service / "migrations"


def load_migrations(directory: Path) -> list[Migration]:
    """The numbered files of `directory` in order; refuses a stray file name or a gap in the numbers."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.fullmatch(path.name)
        if match is None:
            raise MigrationError(f"{path}: a migration is named NNNN_name.sql (lower case, digits, _)")
        data = path.read_bytes()
        sql = data.decode("utf-8")
        version, requires = int(match[1]), _REQUIRES.search(sql)
        if requires and not 0 < int(requires[1]) <= version:
            raise MigrationError(f"{path}: `-- requires-code: N` names a version from 1 to its own ({version})")
        found.append(Migration(version, path.stem, sql, hashlib.sha256(data).hexdigest(),
                               int(requires[1]) if requires else 0))
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise MigrationError(f"{directory}: migrations must be numbered 0001, 0002, … without gaps or twins")
    return found


def expected_version(service: str) -> int:
    """The schema version this code was written for: its highest migration."""
    return len(load_migrations(migrations_dir(service)))


async def apply_migrations(conn: Conn, schema: str, directory: Path, *, role: str | None = None) -> list[str]:
    """Bring `schema` to the last migration of `directory`: each missing one in its own transaction,
    acting as `role` (the owner; None: the connection's own role), then recorded. Serialised per
    schema by a session advisory lock. Returns what it did, line by line."""
    migrations = load_migrations(directory)
    key = f"antibully-migrate-{schema}"
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", key)
    try:
        async with conn.transaction():
            await _act_as(conn, schema, role)
            adopting = await _tables(conn, schema) and not await _has_version_table(conn, schema)
            await conn.execute(_CREATE_VERSION_TABLE)
        applied = {r["version"]: r for r in await conn.fetch(
            f'SELECT version, name, checksum FROM "{schema}".{VERSION_TABLE} ORDER BY version')}
        _check_applied(schema, directory, migrations, applied)
        done: list[str] = []
        for m in migrations:
            if m.version in applied:
                continue
            try:
                async with conn.transaction():
                    await _act_as(conn, schema, role)
                    await conn.execute(m.sql, timeout=3600)  # DDL may rewrite a large table: no statement timeout
                    await conn.execute(f"INSERT INTO {VERSION_TABLE} (version, name, checksum, requires_code)"
                                       " VALUES ($1, $2, $3, $4)", m.version, m.name, m.checksum, m.requires_code)
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"schema {schema}: {m.name}.sql failed and was rolled back, the ones before it "
                                     f"stay applied: {type(exc).__name__}: {exc}") from exc
            how = " (adopted: a database from before versioned migrations)" if adopting and m.version == 1 else ""
            done.append(f"schema {schema}: applied {m.name}{how}")
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", key)


async def migrate(pool: asyncpg.Pool, schema: str, directory: Path) -> list[str]:
    """`apply_migrations` on a connection of `pool` (tests and benchmarks with a schema of their own)."""
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            await conn.execute(f'CREATE SCHEMA "{schema}"')
        return await apply_migrations(conn, schema, directory)


async def schema_version(conn: Conn, schema: str) -> tuple[int, int] | None:
    """(the schema's version, the lowest version code must expect to run on it); None without a version table."""
    if not await _has_version_table(conn, schema):
        return None
    row = await conn.fetchrow(f'SELECT coalesce(max(version), 0) AS version, coalesce(max(requires_code), 0)'
                              f' AS requires_code FROM "{schema}".{VERSION_TABLE}')
    assert row is not None
    return row["version"], row["requires_code"]


async def check_schema_version(conn: Conn, schema: str, role: str | None, expected: int) -> None:
    """Raise NotMigrated unless code expecting version `expected` may run on `schema`, read as `role`.

    A lower version: `antibully migrate` has not run for this release. A higher one is a newer release's
    (an older replica restarting mid-upgrade): it runs, since migrations keep the previous release
    working (docs/operations.md), unless an applied migration says it needs newer code (`requires-code`).
    """
    if role is not None:
        await conn.execute(f'SET ROLE "{role}"')
    try:
        state = await schema_version(conn, schema)
    except asyncpg.InsufficientPrivilegeError:
        raise NotMigrated(f"role {role!r} may not read {schema}.{VERSION_TABLE}: run `antibully migrate` "
                          "(it grants it)") from None
    finally:
        if role is not None:
            await conn.execute("RESET ROLE")
    if state is None:
        raise NotMigrated(f"schema {schema!r} has no version table (it predates versioned migrations): run "
                          "`antibully migrate` (as the database's admin, DATABASE_URL) before starting the services")
    version, requires = state
    if version < expected:
        raise NotMigrated(f"schema {schema!r} is at version {version}, this release needs {expected}: run this "
                          "release's `antibully migrate` (as the database's admin) before starting it")
    if requires > expected:
        raise NotMigrated(f"schema {schema!r} is at version {version}, whose migrations need code of version "
                          f"{requires} or later; this code expects {expected}: deploy the newer release")
    if version > expected:
        logging.getLogger("antibully.db").info(
            "schema %s is at version %d, newer than this code's %d: running (migrations keep the previous "
            "release working)", schema, version, expected)


async def _act_as(conn: Conn, schema: str, role: str | None) -> None:
    if role is not None:
        await conn.execute(f'SET LOCAL ROLE "{role}"')
    await conn.execute("SELECT set_config('search_path', $1, true)", f'"{schema}"')


async def _tables(conn: Conn, schema: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')", schema))


async def _has_version_table(conn: Conn, schema: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $1 AND c.relname = $2", schema, VERSION_TABLE))


def _check_applied(schema: str, directory: Path, migrations: list[Migration],
                   applied: dict[int, asyncpg.Record]) -> None:
    known = {m.version: m for m in migrations}
    for version, row in applied.items():
        m = known.get(version)
        if m is None:
            raise MigrationError(
                f"schema {schema} has migration {row['name']} applied, which this release does not have "
                f"({directory.name}/ ends at {len(migrations)}): the database is newer than this code; "
                "run the newer release's `antibully migrate`")
        if m.checksum != row["checksum"]:
            raise MigrationError(
                f"schema {schema}: {m.name}.sql was changed after it was applied (SHA-256 {row['checksum'][:12]}… "
                f"in the database, {m.checksum[:12]}… on disk): an applied migration is never edited; "
                "restore it and put the change in a new, higher-numbered migration")

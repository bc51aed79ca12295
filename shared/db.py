"""PostgreSQL helpers: one pool per service, pinned to the service's own schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# A connection as handlers get it (from a pool) or as a script opens it.
Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy
# Anything that runs a single statement.
Executor: TypeAlias = Conn | asyncpg.Pool

SHARED_SQL = Path(__file__).with_name("messaging.sql")


class BoundedPool(asyncpg.Pool):
    """A pool whose every acquire is bounded in time: a burst or a dead server gives a prompt,
    transient `TimeoutError` (retried by the consumers, 503 at the HTTP edges), never a hang."""

    acquire_timeout_s: float = 10.0

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self.acquire_timeout_s if timeout is None else timeout)


class NotMigrated(RuntimeError):
    """The database lacks what a service needs: its schema, or its role's rights on it."""


async def create_pool(
    dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10, role: str | None = None,
    acquire_timeout_s: float = 10.0, command_timeout_s: float | None = 30.0, expected_version: int | None = None,
) -> asyncpg.Pool:
    """A pool whose search_path is `schema` alone; the schema must exist (`antibully migrate` makes it).

    With `role` (other than the login itself), every session acts as that role from its start (a
    start-up `role` setting, which survives RESET ALL): a service that falls back to DATABASE_URL
    still has only its own role's rights. Raises NotMigrated, saying what to run, when the schema
    or the role is missing. With `expected_version` (a service's: its highest migration), also when
    the schema's version is lower, or when a migration applied since removed what this code needs
    (`shared.migrations`). Acquiring waits at most `acquire_timeout_s`; a statement runs at most
    `command_timeout_s`.
    """
    conn = await asyncpg.connect(dsn, timeout=acquire_timeout_s)
    try:
        login = await conn.fetchval("SELECT current_user")
        acting = role if role and role != login else None
        if acting is not None:
            if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", acting):
                raise NotMigrated(f"no database role {acting!r}: run `antibully migrate` (as the database's "
                                  "admin, DATABASE_URL) before starting the services")
            if not await conn.fetchval("SELECT pg_has_role($1, 'MEMBER')", acting):
                raise NotMigrated(f"the login {login!r} may not act as {acting!r}: give the service its own "
                                  "URL (<SERVICE>_DATABASE_URL) with that role")
        who = acting or login
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            raise NotMigrated(f"the database has no schema {schema!r}: run `antibully migrate` (as the "
                              "database's admin, DATABASE_URL) before starting the services")
        if not await conn.fetchval("SELECT has_schema_privilege($1, $2, 'USAGE')", who, schema):
            raise NotMigrated(f"role {who!r} has no rights on schema {schema!r}: run `antibully migrate` "
                              "(it grants them)")
        if expected_version is not None:
            from shared.migrations import check_schema_version

            await check_schema_version(conn, schema, acting, expected_version)
    finally:
        await conn.close()
    settings = {"search_path": schema} | ({"role": acting} if acting else {})
    pool = BoundedPool(
        dsn, min_size=min_size, max_size=max_size, max_queries=50_000, max_inactive_connection_lifetime=300.0,
        connect=None, setup=None, init=None, reset=_no_reset, loop=None, connection_class=asyncpg.Connection,
        record_class=asyncpg.Record, server_settings=settings, command_timeout=command_timeout_s,
        timeout=acquire_timeout_s,  # connecting, too
    )
    pool.acquire_timeout_s = acquire_timeout_s
    await pool
    return pool


async def _no_reset(_: asyncpg.Connection) -> None:
    """Skip asyncpg's reset query on every release (a round trip per statement run on the pool).

    Safe because no service keeps session state: no session advisory locks (only transaction
    ones), no LISTEN, no cursors or SET outside a transaction; search_path is a start-up
    setting and survives anyway.
    """


async def apply_schema(conn: Conn, schema: str, *sql_files: Path) -> None:
    """A schema of a test's own (a probe), outside the versioned migrations: created if missing, with the
    shared inbox/outbox tables and the given DDL, as the connection's current role. The services'
    schemas are made by `antibully migrate` from their numbered migrations (shared/migrations.py)."""
    async with conn.transaction():
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute("SELECT set_config('search_path', $1, true)", f'"{schema}"')
        for path in (SHARED_SQL, *sql_files):
            await conn.execute(path.read_text(encoding="utf-8"))

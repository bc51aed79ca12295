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


async def create_pool(
    dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10, role: str | None = None,
    acquire_timeout_s: float = 10.0, command_timeout_s: float | None = 30.0,
) -> asyncpg.Pool:
    """Create the schema if missing, then a pool whose search_path is that schema alone.

    With `role`, every session acts as that role from its start (a start-up `role` setting,
    which survives RESET ALL): a service can log in as the owner yet write with fewer rights.
    Acquiring waits at most `acquire_timeout_s`; a statement runs at most `command_timeout_s`.
    """
    conn = await asyncpg.connect(dsn, timeout=acquire_timeout_s)
    try:
        # Checked first: a role without CREATE on the database may still use an existing schema.
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    finally:
        await conn.close()
    settings = {"search_path": schema} | ({"role": role} if role else {})
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


async def migrate(pool: asyncpg.Pool, schema: str, *sql_files: Path) -> None:
    """Apply the shared inbox/outbox tables and the service's own idempotent DDL, serialised."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"antibully-migrate-{schema}")
        for path in (SHARED_SQL, *sql_files):
            # DDL may rewrite a large table: no statement timeout here
            await conn.execute(path.read_text(encoding="utf-8"), timeout=3600)

"""PostgreSQL helpers: one pool per service, pinned to the service's own schema."""

from __future__ import annotations

from pathlib import Path
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# A connection as handlers get it (from a pool) or as a script opens it.
Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy
# Anything that runs a single statement.
Executor: TypeAlias = Conn | asyncpg.Pool

SHARED_SQL = Path(__file__).with_name("messaging.sql")


async def create_pool(
    dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10, role: str | None = None
) -> asyncpg.Pool:
    """Create the schema if missing, then a pool whose search_path is that schema alone.

    With `role`, every session acts as that role from its start (a start-up `role` setting,
    which survives RESET ALL): a service can log in as the owner yet write with fewer rights.
    """
    conn = await asyncpg.connect(dsn)
    try:
        # Checked first: a role without CREATE on the database may still use an existing schema.
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    finally:
        await conn.close()
    settings = {"search_path": schema} | ({"role": role} if role else {})
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, server_settings=settings, reset=_no_reset
    )
    assert pool is not None
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
            await conn.execute(path.read_text(encoding="utf-8"))

"""Databases as releases before issue 15 made them: each service's whole idempotent schema.sql (with the
shared inbox/outbox) applied in its schema, no version table. The files are frozen copies
(tests/fixtures/legacy_schema: the last ones; issue4/: issue 4's, at 624b21f), so that the adoption
tests keep their meaning after the shipped migrations move on."""

from __future__ import annotations

from pathlib import Path

from shared.db import Conn

LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy_schema"


async def create_legacy_schema(conn: Conn, schema: str, service: str, owner: str | None = None,
                               release: str = "") -> None:
    """What `shared.db.apply_schema(conn, schema, services/<service>/schema.sql)` did: as the connection's
    role (the services at start-up before issue 14), or as `owner` (issue 14's `antibully migrate`);
    with the last schema.sql, or `release`'s (a directory of the fixtures)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"antibully-migrate-{schema}")
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            await conn.execute(f'CREATE SCHEMA "{schema}"' + (f' AUTHORIZATION "{owner}"' if owner else ""))
        if owner:
            await conn.execute(f'SET LOCAL ROLE "{owner}"')
        await conn.execute("SELECT set_config('search_path', $1, true)", f'"{schema}"')
        for path in (LEGACY / release / "messaging.sql", LEGACY / release / f"{service}.sql"):
            await conn.execute(path.read_text(encoding="utf-8"))

"""All SQL of intake."""

from __future__ import annotations

from shared.db import Executor

SCHEMA = "intake"


async def upsert_school(conn: Executor, school_id: str, name: str) -> None:
    await conn.execute(
        "INSERT INTO schools (school_id, name) VALUES ($1, $2)"
        " ON CONFLICT (school_id) DO UPDATE SET name = EXCLUDED.name",
        school_id,
        name,
    )


async def add_key(conn: Executor, key_id: str, school_id: str, secret_sha256: bytes) -> None:
    await conn.execute(
        "INSERT INTO api_keys (key_id, school_id, secret_sha256) VALUES ($1, $2, $3)",
        key_id,
        school_id,
        secret_sha256,
    )


async def active_key(conn: Executor, key_id: str) -> tuple[str, bytes] | None:
    row = await conn.fetchrow(
        "SELECT school_id, secret_sha256 FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL", key_id
    )
    return (row["school_id"], bytes(row["secret_sha256"])) if row else None

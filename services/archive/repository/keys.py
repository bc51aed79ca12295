"""Case data keys (see payloads.py): stored wrapped, shredded when a case expires."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from shared.db import Conn, Executor


async def case_key(conn: Conn, incident_id: uuid.UUID, *, lock: bool = False) -> asyncpg.Record | None:
    """The wrapped key row; `lock` holds off a concurrent shredding until the sealing transaction ends."""
    return await conn.fetchrow(
        "SELECT wrapped_dek, kek_id, shredded_at FROM case_keys WHERE incident_id = $1"
        + (" FOR SHARE" if lock else ""),
        incident_id,
    )


async def add_case_key(conn: Conn, incident_id: uuid.UUID, wrapped: bytes, kek_id: str) -> bool:
    """False when another transaction stored this case's key first (then read that one)."""
    return await conn.fetchval(
        "INSERT INTO case_keys (incident_id, wrapped_dek, kek_id) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING true",
        incident_id, wrapped, kek_id,
    ) is not None


async def keys_to_rewrap(conn: Conn, old_kek_ids: list[str], after: uuid.UUID | None, limit: int
                         ) -> list[asyncpg.Record]:
    """The next `limit` live case keys (by case id, after `after`) wrapped under one of `old_kek_ids`,
    locked for rewrapping; rows another rotation holds are skipped, so two runs share the work."""
    return await conn.fetch(
        "SELECT incident_id, wrapped_dek, kek_id FROM case_keys WHERE wrapped_dek IS NOT NULL"
        " AND kek_id = ANY($1::text[]) AND ($2::uuid IS NULL OR incident_id > $2)"
        " ORDER BY incident_id LIMIT $3 FOR UPDATE SKIP LOCKED",
        old_kek_ids, after, limit,
    )


async def rewrap_case_key(conn: Conn, incident_id: uuid.UUID, old_kek_id: str, wrapped: bytes, kek_id: str) -> bool:
    """Store a case key wrapped anew; False when it was shredded or rewrapped meanwhile."""
    return await conn.fetchval(
        "UPDATE case_keys SET wrapped_dek = $3, kek_id = $4 WHERE incident_id = $1 AND kek_id = $2"
        " AND wrapped_dek IS NOT NULL RETURNING true",
        incident_id, old_kek_id, wrapped, kek_id,
    ) is not None


async def kek_counts(conn: Executor) -> dict[str, int]:
    """Live (not shredded) case keys per KEK id: what each KEK still protects."""
    rows = await conn.fetch("SELECT kek_id, count(*) AS n FROM case_keys WHERE wrapped_dek IS NOT NULL GROUP BY kek_id")
    return {r["kek_id"]: r["n"] for r in rows}


async def shred_expired(conn: Conn, now: datetime, cutoff: datetime, limit: int) -> list[uuid.UUID]:
    """Destroy the keys of up to `limit` cases whose last entry is older than `cutoff`.

    The chain head is locked first, as an append locks it, and skipped while an append holds it.
    """
    rows = await conn.fetch(
        "WITH expired AS (SELECT h.incident_id FROM chain_heads h JOIN case_keys k USING (incident_id)"
        "  WHERE k.wrapped_dek IS NOT NULL AND h.last_at < $2 ORDER BY h.incident_id LIMIT $3"
        "  FOR UPDATE OF h SKIP LOCKED)"
        " UPDATE case_keys k SET wrapped_dek = NULL, shredded_at = $1 FROM expired e"
        " WHERE k.incident_id = e.incident_id RETURNING k.incident_id",
        now, cutoff, limit,
    )
    return [r["incident_id"] for r in rows]


async def key_state(conn: Executor, incident_id: uuid.UUID) -> asyncpg.Record | None:
    """Whether a case's personal data can still be opened (for the read API)."""
    return await conn.fetchrow("SELECT shredded_at FROM case_keys WHERE incident_id = $1", incident_id)

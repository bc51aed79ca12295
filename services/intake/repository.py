"""All SQL of intake."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.db import Conn, Executor

SCHEMA = "intake"


# --- schools and keys -------------------------------------------------------------------

async def upsert_school(conn: Executor, school_id: str, name: str) -> None:
    await conn.execute(
        "INSERT INTO schools (school_id, name) VALUES ($1, $2)"
        " ON CONFLICT (school_id) DO UPDATE SET name = EXCLUDED.name",
        school_id,
        name,
    )


async def school_exists(conn: Executor, school_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM schools WHERE school_id = $1", school_id))


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


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    school_id: str
    created_at: datetime
    revoked_at: datetime | None


async def list_keys(conn: Executor, school_id: str) -> list[KeyInfo]:
    rows = await conn.fetch(
        "SELECT key_id, school_id, created_at, revoked_at FROM api_keys WHERE school_id = $1 ORDER BY created_at",
        school_id,
    )
    return [KeyInfo(**dict(r)) for r in rows]


async def revoke_key(conn: Executor, key_id: str) -> bool:
    done = await conn.fetchval(
        "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL RETURNING 1", key_id
    )
    return bool(done)


# --- idempotency ------------------------------------------------------------------------

@dataclass(frozen=True)
class PriorRequest:
    endpoint: str
    fingerprint: bytes
    status_code: int | None
    response: dict[str, Any] | None


async def claim_request(
    conn: Executor, school_id: str, key: str, endpoint: str, fingerprint: bytes
) -> PriorRequest | None:
    """None when this key is new (and now claimed); otherwise what was stored under it."""
    inserted = await conn.fetchval(
        "INSERT INTO requests (school_id, idem_key, endpoint, fingerprint) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING RETURNING 1",
        school_id, key, endpoint, fingerprint,
    )
    if inserted:
        return None
    row = await conn.fetchrow(
        "SELECT endpoint, fingerprint, status_code, response FROM requests WHERE school_id = $1 AND idem_key = $2",
        school_id, key,
    )
    assert row is not None
    response = json.loads(row["response"]) if row["response"] is not None else None
    return PriorRequest(row["endpoint"], bytes(row["fingerprint"]), row["status_code"], response)


async def complete_request(conn: Executor, school_id: str, key: str, status: int, response: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE requests SET status_code = $3, response = $4::jsonb, completed_at = now()"
        " WHERE school_id = $1 AND idem_key = $2",
        school_id, key, status, json.dumps(response),
    )


# --- incidents and follow-ups -----------------------------------------------------------

async def register_incident(conn: Executor, incident_id: uuid.UUID, school_id: str) -> None:
    await conn.execute(
        "INSERT INTO incidents (incident_id, school_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        incident_id, school_id,
    )


async def mark_incident_accepted(conn: Executor, incident_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE incidents SET accepted_at = coalesce(accepted_at, now()) WHERE incident_id = $1", incident_id
    )


async def incident_owner(conn: Executor, incident_id: uuid.UUID) -> str | None:
    """The owning school of an incident JetStream has acknowledged, or None."""
    owner = await conn.fetchval(
        "SELECT school_id FROM incidents WHERE incident_id = $1 AND accepted_at IS NOT NULL", incident_id
    )
    return str(owner) if owner is not None else None


async def allocate_follow_up(conn: Conn, follow_up_id: uuid.UUID, incident_id: uuid.UUID) -> int:
    """The follow-up's number within its incident; the same id always gets the same number."""
    async with conn.transaction():
        seq = await conn.fetchval("SELECT seq FROM follow_ups WHERE follow_up_id = $1", follow_up_id)
        if seq is not None:
            return int(seq)
        seq = await conn.fetchval(
            "UPDATE incidents SET follow_ups = follow_ups + 1 WHERE incident_id = $1 RETURNING follow_ups",
            incident_id,
        )
        await conn.execute(
            "INSERT INTO follow_ups (follow_up_id, incident_id, seq) VALUES ($1, $2, $3)",
            follow_up_id, incident_id, seq,
        )
        return int(seq)

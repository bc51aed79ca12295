"""All SQL of archive."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from services.archive.chain import GENESIS, Entry
from shared.db import Conn, Executor

SCHEMA = "archive"


async def lock_head(conn: Conn, incident_id: uuid.UUID) -> tuple[int, str]:
    """The chain head of a case, locked until the transaction ends (appends are serialised per case)."""
    await conn.execute(
        "INSERT INTO chain_heads (incident_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING",
        incident_id, GENESIS,
    )
    row = await conn.fetchrow("SELECT seq, hash FROM chain_heads WHERE incident_id = $1 FOR UPDATE", incident_id)
    assert row is not None  # inserted above, in this transaction
    return row["seq"], row["hash"]


async def append(conn: Conn, entry: Entry, payload_ct: bytes) -> None:
    await conn.execute(
        "INSERT INTO entries (incident_id, seq, event_id, event_type, recorded_at, summary, payload_ct,"
        " payload_sha256, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)",
        entry.incident_id, entry.seq, entry.event_id, entry.event_type, entry.recorded_at,
        json.dumps(entry.summary, ensure_ascii=False), payload_ct, entry.payload_sha256, entry.prev_hash, entry.hash,
    )
    await conn.execute(
        "UPDATE chain_heads SET seq = $2, hash = $3 WHERE incident_id = $1", entry.incident_id, entry.seq, entry.hash
    )


async def entries(conn: Executor, incident_id: uuid.UUID) -> list[Entry]:
    rows = await conn.fetch(
        "SELECT incident_id, seq, event_id, event_type, recorded_at, summary, payload_sha256, prev_hash, hash"
        " FROM entries WHERE incident_id = $1 ORDER BY seq",
        incident_id,
    )
    return [Entry(**{**dict(r), "summary": json.loads(r["summary"])}) for r in rows]


async def case_reported(conn: Conn, incident_id: uuid.UUID, school_id: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO cases (incident_id, school_id, reported_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (incident_id) DO UPDATE SET school_id = EXCLUDED.school_id, reported_at = EXCLUDED.reported_at",
        incident_id, school_id, at,
    )


async def case_decided(
    conn: Conn, incident_id: uuid.UUID, school_id: str, level: str, wide: bool,
    reasons: list[dict[str, str]], policy_version: str, at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO cases (incident_id, school_id, level, public_attention_wide, reasons, policy_version, decided_at)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) ON CONFLICT (incident_id) DO UPDATE SET"
        " level = EXCLUDED.level, public_attention_wide = EXCLUDED.public_attention_wide,"
        " reasons = EXCLUDED.reasons, policy_version = EXCLUDED.policy_version, decided_at = EXCLUDED.decided_at",
        incident_id, school_id, level, wide, json.dumps(reasons, ensure_ascii=False), policy_version, at,
    )


async def recipient_status(
    conn: Conn, notification_id: uuid.UUID, incident_id: uuid.UUID, role: str, status: str,
    reason: str | None = None,
) -> None:
    """Events arrive in any order: an outcome never falls back to 'requested', nor anything below 'acknowledged'."""
    await conn.execute(
        "INSERT INTO recipients (notification_id, incident_id, role, status, reason) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (notification_id) DO UPDATE SET"
        " status = CASE WHEN EXCLUDED.status = 'acknowledged' OR recipients.status = 'requested'"
        " THEN EXCLUDED.status ELSE recipients.status END,"
        " reason = coalesce(recipients.reason, EXCLUDED.reason), updated_at = now()",
        notification_id, incident_id, role, status, reason,
    )


async def case(conn: Executor, incident_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM cases WHERE incident_id = $1", incident_id)
    if row is None:
        return None
    out = dict(row)
    out["reasons"] = json.loads(row["reasons"]) if row["reasons"] else []
    return out


async def recipients(conn: Executor, incident_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT notification_id, role, status, reason, updated_at FROM recipients WHERE incident_id = $1"
        " ORDER BY role, notification_id",
        incident_id,
    )
    return [dict(r) for r in rows]

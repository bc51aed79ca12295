"""The chained record: entries and the head of each case's chain (appends, reads, the verifier's stream)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from services.archive.chain import GENESIS, Entry
from shared.db import Conn, Executor


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
        "UPDATE chain_heads SET seq = $2, hash = $3, last_at = $4 WHERE incident_id = $1",
        entry.incident_id, entry.seq, entry.hash, entry.recorded_at,
    )


async def entries(conn: Executor, incident_id: uuid.UUID) -> list[Entry]:
    rows = await conn.fetch(
        "SELECT incident_id, seq, event_id, event_type, recorded_at, summary, payload_sha256, prev_hash, hash"
        " FROM entries WHERE incident_id = $1 ORDER BY seq",
        incident_id,
    )
    return [Entry(**{**dict(r), "summary": json.loads(r["summary"])}) for r in rows]


async def has_entry(conn: Executor, case_id: uuid.UUID, event_type: str, **summary: str) -> bool:
    """Whether the case's record holds an entry of this type whose summary has these values."""
    return bool(await conn.fetchval(
        "SELECT 1 FROM entries WHERE incident_id = $1 AND event_type = $2 AND summary @> $3::jsonb LIMIT 1",
        case_id, event_type, json.dumps(summary)))


async def sealed_payloads(conn: Executor, case_id: uuid.UUID, event_types: list[str]) -> list[dict[str, Any]]:
    """The sealed payloads of a case's entries of these types, in record order."""
    rows = await conn.fetch(
        "SELECT seq, event_id, event_type, payload_ct FROM entries"
        " WHERE incident_id = $1 AND event_type = ANY($2::text[]) ORDER BY seq",
        case_id, event_types,
    )
    return [dict(r) for r in rows]


async def stream_entries(conn: Conn, prefetch: int = 1000) -> AsyncIterator[tuple[Entry, str]]:
    """Every entry in chain order with the SHA-256 of its stored ciphertext; call inside a transaction."""
    async for r in conn.cursor(
        "SELECT incident_id, seq, event_id, event_type, recorded_at, summary, payload_sha256, prev_hash, hash,"
        " encode(sha256(payload_ct), 'hex') AS ct_sha256 FROM entries ORDER BY incident_id, seq",
        prefetch=prefetch,
    ):
        fields = {k: r[k] for k in Entry.__dataclass_fields__}
        yield Entry(**{**fields, "summary": json.loads(r["summary"])}), r["ct_sha256"]

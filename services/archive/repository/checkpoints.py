"""Signed checkpoints of the chain heads: written by the job, streamed and checked by the verifier."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import asyncpg

from services.archive.checkpoint import Checkpoint, Head
from shared.db import Conn


async def lock_checkpoints(conn: Conn) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('antibully-archive-checkpoint'))")


async def moved_heads(conn: Conn) -> list[Head]:
    rows = await conn.fetch(
        "SELECT incident_id, seq, hash FROM chain_heads WHERE seq > checkpointed_seq ORDER BY incident_id"
    )
    return [(r["incident_id"], r["seq"], r["hash"]) for r in rows]


def _checkpoint(r: asyncpg.Record) -> Checkpoint:
    heads = tuple((uuid.UUID(i), int(s), str(h)) for i, s, h in json.loads(r["heads"]))
    return Checkpoint(r["id"], r["created_at"], heads, r["prev_digest"], r["digest"], bytes(r["signature"]),
                      bytes(r["public_key"]), r["key_fingerprint"])


_CHECKPOINT_COLUMNS = "id, created_at, heads, prev_digest, digest, signature, public_key, key_fingerprint"


async def last_checkpoint(conn: Conn) -> Checkpoint | None:
    row = await conn.fetchrow(f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY id DESC LIMIT 1")
    return _checkpoint(row) if row else None


async def add_checkpoint(conn: Conn, cp: Checkpoint) -> None:
    await conn.execute(
        f"INSERT INTO checkpoints ({_CHECKPOINT_COLUMNS}) VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8)",
        cp.id, cp.created_at, json.dumps([[str(i), s, h] for i, s, h in cp.heads]), cp.prev_digest, cp.digest,
        cp.signature, cp.public_key, cp.key_fingerprint,
    )
    await conn.execute(
        "UPDATE chain_heads h SET checkpointed_seq = v.seq FROM unnest($1::uuid[], $2::int[]) AS v(incident_id, seq)"
        " WHERE h.incident_id = v.incident_id AND h.checkpointed_seq < v.seq",
        [i for i, _, _ in cp.heads], [s for _, s, _ in cp.heads],
    )


async def stream_checkpoints(conn: Conn, prefetch: int = 100) -> AsyncIterator[Checkpoint]:
    async for r in conn.cursor(f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY id", prefetch=prefetch):
        yield _checkpoint(r)


async def first_unmatched_head(conn: Conn, checkpoint_id: int) -> tuple[uuid.UUID, int, str | None] | None:
    """The first head a checkpoint recorded that its chain no longer holds: (case, seq, hash now or None)."""
    row = await conn.fetchrow(
        "SELECT (h->>0)::uuid AS incident_id, (h->>1)::int AS seq, e.hash FROM checkpoints c"
        " CROSS JOIN LATERAL jsonb_array_elements(c.heads) AS h"
        " LEFT JOIN entries e ON e.incident_id = (h->>0)::uuid AND e.seq = (h->>1)::int"
        " WHERE c.id = $1 AND e.hash IS DISTINCT FROM h->>2 ORDER BY 1, 2 LIMIT 1",
        checkpoint_id,
    )
    return (row["incident_id"], row["seq"], row["hash"]) if row else None

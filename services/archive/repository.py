"""All SQL of archive."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg

from services.archive.chain import GENESIS, Entry
from services.archive.checkpoint import Checkpoint, Head
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


# --- case data keys (see payloads.py) ---

async def case_key(conn: Conn, incident_id: uuid.UUID, *, lock: bool = False) -> asyncpg.Record | None:
    """The wrapped key row; `lock` holds off a concurrent shredding until the sealing transaction ends."""
    return await conn.fetchrow(
        "SELECT wrapped_dek, shredded_at FROM case_keys WHERE incident_id = $1" + (" FOR SHARE" if lock else ""),
        incident_id,
    )


async def add_case_key(conn: Conn, incident_id: uuid.UUID, wrapped: bytes, kek_id: str) -> bool:
    """False when another transaction stored this case's key first (then read that one)."""
    return await conn.fetchval(
        "INSERT INTO case_keys (incident_id, wrapped_dek, kek_id) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING true",
        incident_id, wrapped, kek_id,
    ) is not None


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


# --- signed checkpoints ---

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


# --- verification (antibully verify): streamed, in one read-only snapshot ---

async def stream_entries(conn: Conn, prefetch: int = 1000) -> AsyncIterator[tuple[Entry, str]]:
    """Every entry in chain order with the SHA-256 of its stored ciphertext; call inside a transaction."""
    async for r in conn.cursor(
        "SELECT incident_id, seq, event_id, event_type, recorded_at, summary, payload_sha256, prev_hash, hash,"
        " encode(sha256(payload_ct), 'hex') AS ct_sha256 FROM entries ORDER BY incident_id, seq",
        prefetch=prefetch,
    ):
        fields = {k: r[k] for k in Entry.__dataclass_fields__}
        yield Entry(**{**fields, "summary": json.loads(r["summary"])}), r["ct_sha256"]


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


# --- the service's role ---

_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


async def grant_app_role(conn: Conn, role: str) -> bool:
    """Make `role` able to run archive and nothing more: no UPDATE/DELETE/TRUNCATE on entries or
    checkpoints, no DELETE of case keys. Creates it (NOLOGIN) when the login role may create roles.

    False when the role neither exists nor can be created (then the login role's rights apply).
    Run as the tables' owner, in the migration's transaction.
    """
    if not _ROLE_NAME.fullmatch(role):
        raise ValueError(f"ARCHIVE_DB_ROLE {role!r} is not a plain lower-case role name")
    me = await conn.fetchrow("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
    assert me is not None
    if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
        if not (me["rolsuper"] or me["rolcreaterole"]):
            return False
        try:
            async with conn.transaction():  # a savepoint: another database's migration may create it first
                await conn.execute(f'CREATE ROLE "{role}" NOLOGIN')
        except asyncpg.DuplicateObjectError:
            pass
    if (me["rolcreaterole"] and not me["rolsuper"]
            and not await conn.fetchval("SELECT pg_has_role(current_user, $1, 'MEMBER')", role)):
        await conn.execute(f'GRANT "{role}" TO CURRENT_USER')  # so that its own sessions may act as it
    await conn.execute(
        f'REVOKE ALL ON ALL TABLES IN SCHEMA "{SCHEMA}" FROM "{role}";'
        f' GRANT USAGE ON SCHEMA "{SCHEMA}" TO "{role}";'
        f' GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{SCHEMA}" TO "{role}";'
        f' REVOKE UPDATE, DELETE ON entries, checkpoints FROM "{role}";'
        f' REVOKE DELETE ON case_keys FROM "{role}";'
        f' GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{SCHEMA}" TO "{role}"'
    )
    return True


async def key_state(conn: Executor, incident_id: uuid.UUID) -> asyncpg.Record | None:
    """Whether a case's personal data can still be opened (for the read API)."""
    return await conn.fetchrow("SELECT shredded_at FROM case_keys WHERE incident_id = $1", incident_id)

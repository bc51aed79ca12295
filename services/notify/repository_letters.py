"""All SQL of notify's letters: bulk claims with a lease, bulk outcomes, the batch's counts, reads.

One statement per batch for each step (unnest arrays), never a round trip per parent.
"""

from __future__ import annotations

import uuid
from typing import Any

from shared.db import Conn, Executor


async def keep_text(conn: Executor, letter_id: uuid.UUID, title: str, body: str) -> None:
    await conn.execute("INSERT INTO letter_texts (letter_id, title, body) VALUES ($1, $2, $3)"
                       " ON CONFLICT (letter_id) DO NOTHING", letter_id, title, body)


async def claim(conn: Conn, letter_id: uuid.UUID, school_id: str, batch_no: int, keys: list[str],
                lease_s: float) -> dict[str, int]:
    """Take the batch's parents that are new, waiting for a retry, or whose sender's lease ran out;
    returns key → attempt number (above 1 after an unknown outcome or a retry)."""
    rows = await conn.fetch(
        "INSERT INTO letter_sends (letter_id, recipient_key, school_id, batch_no, state, lease_until)"
        " SELECT $1, k, $2, $3, 'sending', now() + make_interval(secs => $5) FROM unnest($4::text[]) AS k"
        " ON CONFLICT (letter_id, recipient_key) DO UPDATE SET state = 'sending', lease_until = EXCLUDED.lease_until,"
        " attempts = letter_sends.attempts + 1"
        " WHERE letter_sends.state = 'retry' OR (letter_sends.state = 'sending' AND letter_sends.lease_until < now())"
        " RETURNING recipient_key, attempts", letter_id, school_id, batch_no, keys, lease_s)
    return {r["recipient_key"]: r["attempts"] for r in rows}


async def extend_lease(conn: Executor, letter_id: uuid.UUID, keys: list[str], lease_s: float) -> None:
    await conn.execute("UPDATE letter_sends SET lease_until = now() + make_interval(secs => $3)"
                       " WHERE letter_id = $1 AND recipient_key = ANY($2::text[]) AND state = 'sending'",
                       letter_id, keys, lease_s)


async def settle(conn: Executor, letter_id: uuid.UUID,
                 outcomes: list[tuple[str, str, str | None, str | None, str | None]]) -> None:
    """(key, state, channel, error, provider message id) for each parent handled now, in one statement."""
    if not outcomes:
        return
    keys, states, channels, errors, message_ids = (list(x) for x in zip(*outcomes, strict=True))
    await conn.execute(
        "UPDATE letter_sends s SET state = u.state, channel = u.channel, error = u.error, lease_until = NULL,"
        " message_id = u.mid, sent_at = CASE WHEN u.state = 'sent' THEN now() END"
        " FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u(k, state, channel, error, mid)"
        " WHERE s.letter_id = $1 AND s.recipient_key = u.k AND s.state = 'sending'",
        letter_id, keys, states, channels, errors, message_ids)


async def record_receipts(conn: Executor, provider: str, reports: list[tuple[str, bool]]) -> list[Any]:
    """(provider message id, delivered) → the letters' rows they settle, each only the first time."""
    if not reports:
        return []
    ids, oks = (list(x) for x in zip(*reports, strict=True))
    return list(await conn.fetch(
        "UPDATE letter_sends s SET received_at = now(), receipt_ok = u.ok"
        " FROM unnest($2::text[], $3::boolean[]) AS u(mid, ok)"
        " WHERE s.message_id = u.mid AND s.channel = $1 AND s.received_at IS NULL"
        " RETURNING s.letter_id, s.school_id, s.message_id, u.ok", f"sms/{provider}", ids, oks))


async def batch_counts(conn: Executor, letter_id: uuid.UUID, keys: list[str]) -> dict[str, int]:
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE state = 'sent')::int AS sent, count(*) FILTER (WHERE state = 'failed')::int"
        " AS failed, count(*) FILTER (WHERE state IN ('sending', 'retry'))::int AS open,"
        " count(*) FILTER (WHERE state = 'sent' AND channel LIKE 'sms/%')::int AS by_sms,"
        " count(*) FILTER (WHERE state = 'sent' AND channel LIKE 'email/%')::int AS by_email,"
        " count(*)::int AS known FROM letter_sends WHERE letter_id = $1 AND recipient_key = ANY($2::text[])",
        letter_id, keys)
    assert row is not None
    return dict(row)


async def letter_page(conn: Executor, letter_id: uuid.UUID, key: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT t.title, t.body, s.read_at, s.wrong_at, s.school_id FROM letter_texts t JOIN letter_sends s"
        " ON s.letter_id = t.letter_id AND s.recipient_key = $2 WHERE t.letter_id = $1", letter_id, key)
    return dict(row) if row else None


async def mark_read(conn: Executor, letter_id: uuid.UUID, key: str) -> str | None:
    """The parent's school the first time they read it; None after (counted once)."""
    value = await conn.fetchval(
        "UPDATE letter_sends SET read_at = now() WHERE letter_id = $1 AND recipient_key = $2 AND read_at IS NULL"
        " RETURNING school_id", letter_id, key)
    return str(value) if value is not None else None


async def mark_wrong(conn: Executor, letter_id: uuid.UUID, key: str) -> str | None:
    """The parent's school the first time 号码有误 is pressed for this letter; None after."""
    value = await conn.fetchval(
        "UPDATE letter_sends SET wrong_at = now() WHERE letter_id = $1 AND recipient_key = $2 AND wrong_at IS NULL"
        " RETURNING school_id", letter_id, key)
    return str(value) if value is not None else None

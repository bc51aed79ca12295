"""SQL of notify's shared rate limits and robot digest queue (issue 12)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shared.db import Conn, Executor

# One statement: refill by the time passed, take a token if a whole one is there beyond the caller's reserve
# (what a lower lane must leave for the urgent one), say whether it was taken.
_TAKE = """
INSERT INTO rate_buckets AS b (key, tokens, at, granted) VALUES ($1, $3 - 1, now(), true)
ON CONFLICT (key) DO UPDATE SET
    tokens = least($3, b.tokens + greatest(0, extract(epoch FROM now() - b.at))::float8 * $2)
             - CASE WHEN least($3, b.tokens + greatest(0, extract(epoch FROM now() - b.at))::float8 * $2) >= 1 + $4
                    THEN 1 ELSE 0 END,
    granted = least($3, b.tokens + greatest(0, extract(epoch FROM now() - b.at))::float8 * $2) >= 1 + $4,
    at = greatest(b.at, now())
RETURNING granted, tokens
"""


async def take_token(conn: Executor, key: str, rate_per_s: float, burst: float, reserve: float = 0.0) -> float:
    """0 when a token was taken; else the seconds until the next one beyond `reserve` (nothing taken)."""
    row = await conn.fetchrow(_TAKE, key, rate_per_s, burst, reserve)
    assert row is not None
    if row["granted"]:
        return 0.0
    return max(0.001, (1.0 + reserve - float(row["tokens"])) / rate_per_s)


async def hold(conn: Executor, key: str, rate_per_s: float, seconds: float) -> None:
    """No token for `seconds` (the provider asked us to wait, e.g. a muted robot), for every replica."""
    await conn.execute(
        "INSERT INTO rate_buckets AS b (key, tokens, at, granted)"
        " VALUES ($1, 1 - $2::float8 * $3::float8, now(), false) ON CONFLICT (key) DO UPDATE"
        " SET tokens = least(b.tokens, 1 - $2::float8 * $3::float8), at = greatest(b.at, now())",
        key, rate_per_s, seconds)


@dataclass(frozen=True)
class Queued:
    notification_id: uuid.UUID
    incident_id: uuid.UUID
    role: str
    kind: str
    payload_ct: bytes
    posting: bool  # a digest holding it went to the robot before and its outcome is unknown


async def robot_waiting(conn: Executor, robot_key: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM robot_queue WHERE robot_key = $1 LIMIT 1", robot_key))


async def park(conn: Conn, notification_id: uuid.UUID, robot_key: str, kind: str, incident_id: uuid.UUID,
               role: str, payload_ct: bytes) -> None:
    """Into the robot's queue, and the delivery row 'queued'; inside the caller's transaction."""
    await conn.execute(
        "INSERT INTO robot_queue (notification_id, robot_key, kind, incident_id, role, payload_ct)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (notification_id) DO NOTHING",
        notification_id, robot_key, kind, incident_id, role, payload_ct)
    await conn.execute("UPDATE deliveries SET status = 'queued', channel = $2, lease_until = NULL,"
                       " updated_at = now() WHERE notification_id = $1", notification_id, kind)


async def robots_waiting(conn: Executor) -> list[str]:
    """Robots with notices whose lease is free."""
    rows = await conn.fetch("SELECT DISTINCT robot_key FROM robot_queue"
                            " WHERE lease_until IS NULL OR lease_until < now()")
    return [r["robot_key"] for r in rows]


async def claim(conn: Executor, robot_key: str, lease_s: float, limit: int) -> list[Queued]:
    """The robot's oldest free notices, leased to this replica (other replicas skip them)."""
    rows = await conn.fetch(
        "UPDATE robot_queue SET lease_until = now() + make_interval(secs => $2) WHERE notification_id IN ("
        " SELECT notification_id FROM robot_queue WHERE robot_key = $1"
        " AND (lease_until IS NULL OR lease_until < now()) ORDER BY queued_at LIMIT $3 FOR UPDATE SKIP LOCKED)"
        " RETURNING notification_id, incident_id, role, kind, payload_ct, posting, queued_at",
        robot_key, lease_s, limit)
    rows = sorted(rows, key=lambda r: r["queued_at"])
    return [Queued(r["notification_id"], r["incident_id"], r["role"], r["kind"], r["payload_ct"], r["posting"])
            for r in rows]


async def release(conn: Executor, ids: list[uuid.UUID], *, unsent: bool = False) -> None:
    """Back to waiting. `unsent`: a digest holding them is known not to have gone out (the robot answered
    no), so a later one is not a resend; otherwise an earlier unknown outcome stays counted."""
    await conn.execute("UPDATE robot_queue SET lease_until = NULL, posting = posting AND NOT $2"
                       " WHERE notification_id = ANY($1::uuid[])", ids, unsent)


async def posting(conn: Executor, ids: list[uuid.UUID]) -> None:
    """Committed before the digest goes: a crash after it leaves them ambiguous, and counted so."""
    await conn.execute("UPDATE robot_queue SET posting = true WHERE notification_id = ANY($1::uuid[])", ids)


async def sent(conn: Conn, item: Queued, message_id: str, channel: str) -> int:
    """The notice went out in a digest: its delivery row 'sent' (an ambiguous resend counted); its attempts."""
    await conn.execute("DELETE FROM robot_queue WHERE notification_id = $1", item.notification_id)
    attempts = await conn.fetchval(
        "UPDATE deliveries SET status = 'sent', message_id = $2, channel = $3, lease_until = NULL,"
        " ambiguous_resends = ambiguous_resends + $4::int, updated_at = now() WHERE notification_id = $1"
        " RETURNING attempts", item.notification_id, message_id, channel, int(item.posting))
    return int(attempts or 1)


async def failed(conn: Conn, item: Queued, error: str) -> int:
    await conn.execute("DELETE FROM robot_queue WHERE notification_id = $1", item.notification_id)
    attempts = await conn.fetchval(
        "UPDATE deliveries SET status = 'failed', last_error = $2, lease_until = NULL, updated_at = now()"
        " WHERE notification_id = $1 RETURNING attempts", item.notification_id, error)
    return int(attempts or 1)

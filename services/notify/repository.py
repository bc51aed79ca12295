"""All SQL of notify."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from shared.db import Conn, Executor

SCHEMA = "notify"
# The only tables notify DELETEs from (its role gets DELETE on these alone; tests/test_pg_roles.py checks the code).
DELETABLE = ("robot_queue",)


@dataclass(frozen=True)
class Attempt:
    status: str
    attempts: int
    ambiguous: bool  # the previous attempt may have sent the mail and then crashed

    @property
    def done(self) -> bool:
        return self.status in ("sent", "failed", "queued")  # queued: the robot digest loop finishes it


class Leased(Exception):
    """Another notify process holds this notification right now."""


async def begin_attempt(
    conn: Conn, notification_id: uuid.UUID, incident_id: uuid.UUID, role: str, channel: str,
    lease_s: float,
) -> Attempt:
    """Lock the row and take a lease for this attempt; must run inside a transaction."""
    inserted = await conn.fetchval(
        "INSERT INTO deliveries (notification_id, incident_id, role, channel, status, attempts, lease_until)"
        " VALUES ($1, $2, $3, $4, 'sending', 1, now() + make_interval(secs => $5))"
        " ON CONFLICT (notification_id) DO NOTHING RETURNING true",
        notification_id, incident_id, role, channel, lease_s,
    )
    if inserted:
        return Attempt("sending", 1, ambiguous=False)
    row = await conn.fetchrow(
        "SELECT status, attempts, lease_until > now() AS leased FROM deliveries"
        " WHERE notification_id = $1 FOR UPDATE",
        notification_id,
    )
    assert row is not None  # it conflicted, so it exists (rows are never deleted)
    if row["status"] in ("sent", "failed", "queued"):
        return Attempt(row["status"], row["attempts"], ambiguous=False)
    if row["status"] == "sending" and row["leased"]:
        raise Leased(str(notification_id))
    ambiguous = row["status"] == "sending"
    await conn.execute(
        "UPDATE deliveries SET status = 'sending', attempts = attempts + 1,"
        " ambiguous_resends = ambiguous_resends + $2::int, lease_until = now() + make_interval(secs => $3),"
        " updated_at = now() WHERE notification_id = $1",
        notification_id, int(ambiguous), lease_s,
    )
    return Attempt("sending", row["attempts"] + 1, ambiguous=ambiguous)


async def extend_lease(conn: Executor, notification_id: uuid.UUID, lease_s: float) -> None:
    """A send still under way keeps its lease, so another replica never takes it for abandoned."""
    await conn.execute("UPDATE deliveries SET lease_until = now() + make_interval(secs => $2)"
                       " WHERE notification_id = $1 AND status = 'sending'", notification_id, lease_s)


async def finish(
    conn: Conn, notification_id: uuid.UUID, status: str, *, message_id: str | None = None,
    error: str | None = None, channel: str | None = None,
) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = $2, message_id = coalesce($3, message_id), last_error = $4,"
        " channel = coalesce($5, channel), lease_until = NULL, updated_at = now() WHERE notification_id = $1",
        notification_id, status, message_id, error, channel,
    )


async def acknowledge(conn: Conn, notification_id: uuid.UUID) -> tuple[uuid.UUID, str] | None:
    """(incident id, role) the first time; None when unknown or acknowledged before."""
    row = await conn.fetchrow(
        "UPDATE deliveries SET acknowledged_at = now(), updated_at = now()"
        " WHERE notification_id = $1 AND acknowledged_at IS NULL RETURNING incident_id, role",
        notification_id,
    )
    return (row["incident_id"], row["role"]) if row else None


async def acknowledged_at(conn: Executor, notification_id: uuid.UUID) -> datetime | None:
    at = await conn.fetchval("SELECT acknowledged_at FROM deliveries WHERE notification_id = $1", notification_id)
    return at  # type: ignore[no-any-return]


async def reachability_reported(conn: Executor, day: date, digest: str) -> bool:
    """True the first time this gap is reported today (across replicas)."""
    return bool(await conn.fetchval(
        "INSERT INTO reachability_reports (day, digest) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
        day, digest))


async def keep_notice(conn: Executor, notification_id: uuid.UUID, notice_ct: bytes) -> None:
    await conn.execute("UPDATE deliveries SET notice_ct = $2 WHERE notification_id = $1", notification_id, notice_ct)


async def notice(conn: Executor, notification_id: uuid.UUID) -> bytes | None:
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT notice_ct FROM deliveries WHERE notification_id = $1", notification_id)


async def purge_notices(conn: Executor, older_than: datetime) -> int:
    """Sealed notices whose links have expired: nobody may read them any more."""
    done = await conn.execute("UPDATE deliveries SET notice_ct = NULL WHERE notice_ct IS NOT NULL"
                              " AND created_at < $1", older_than)
    return int(done.split()[-1])


async def record_receipt(conn: Conn, provider: str, message_id: str, code: str
                         ) -> tuple[uuid.UUID, uuid.UUID, str] | None:
    """(notification, incident, role) the first time a receipt for this provider message arrives."""
    row = await conn.fetchrow(
        "UPDATE deliveries SET receipt_code = $3, received_at = now(), updated_at = now()"
        " WHERE message_id = $2 AND channel = $1 AND received_at IS NULL"
        " RETURNING notification_id, incident_id, role",
        f"sms/{provider}", message_id, code)
    return (row["notification_id"], row["incident_id"], row["role"]) if row else None


async def delivery(conn: Executor, notification_id: uuid.UUID) -> tuple[uuid.UUID, str] | None:
    """(incident id, recipient role) of a notice notify has begun to send."""
    row = await conn.fetchrow("SELECT incident_id, role FROM deliveries WHERE notification_id = $1", notification_id)
    return (row["incident_id"], row["role"]) if row else None


async def add_family_message(conn: Conn, message_id: uuid.UUID, notification_id: uuid.UUID, per_day: int) -> str:
    """'added', 'duplicate' (the same form sent again) or 'limited' (too many for this notice today).
    Serialised per notice (its delivery row locked); inside the caller's transaction."""
    await conn.execute("SELECT 1 FROM deliveries WHERE notification_id = $1 FOR UPDATE", notification_id)
    if await conn.fetchval("SELECT 1 FROM family_messages WHERE message_id = $1", message_id):
        return "duplicate"
    recent = await conn.fetchval("SELECT count(*) FROM family_messages WHERE notification_id = $1"
                                 " AND at > now() - interval '24 hours'", notification_id)
    if recent >= per_day:
        return "limited"
    await conn.execute("INSERT INTO family_messages (message_id, notification_id) VALUES ($1, $2)",
                       message_id, notification_id)
    return "added"

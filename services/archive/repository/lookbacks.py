"""Look-backs the bureau requests by hand or imports (lookback_requests), and which a school already has."""

from __future__ import annotations

import uuid
from datetime import datetime

from shared.db import Conn


async def lock_school(conn: Conn, school_id: str) -> None:
    """Requests for one school are serialised until the transaction ends: two imports at once must not both
    find no look-back and schedule one each."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('archive-lookback:' || $1::text))", school_id)


async def recent_lookback(conn: Conn, school_id: str, since: datetime) -> uuid.UUID | None:
    """The school's latest look-back requested or scheduled after `since`, if any."""
    found = await conn.fetchval(
        "SELECT id FROM (SELECT lookback_id AS id, requested_at AS at FROM lookback_requests"
        " WHERE school_id = $1 AND requested_at > $2"
        " UNION ALL SELECT incident_id, reported_at FROM cases WHERE kind = 'lookback' AND school_id = $1"
        " AND reported_at > $2) x ORDER BY at DESC LIMIT 1", school_id, since)
    return found if isinstance(found, uuid.UUID) else None


async def add_lookback_request(conn: Conn, lookback_id: uuid.UUID, school_id: str, jurisdiction: str,
                               requested_by: str, source: str, due_at: datetime | None, at: datetime) -> bool:
    """True when new; the same request again (same id) changes nothing."""
    return bool(await conn.fetchval(
        "INSERT INTO lookback_requests (lookback_id, school_id, jurisdiction, requested_by, source, due_at,"
        " requested_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING 1",
        lookback_id, school_id, jurisdiction, requested_by, source, due_at, at))

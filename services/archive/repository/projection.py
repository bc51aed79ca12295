"""The projection: cases and their recipients, written from events (projection.py) and read by the API."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from shared.db import Conn, Executor


async def case_opened(
    conn: Conn, case_id: uuid.UUID, kind: str, case_ref: str, school_id: str, jurisdiction: str,
    reported_at: datetime, *, risk_level: str | None = None, urgent: bool | None = None,
) -> None:
    """The case's own first event (its report): from now on it is listed and scoped."""
    await conn.execute(
        "INSERT INTO cases (incident_id, kind, case_ref, school_id, jurisdiction, reported_at, risk_level, urgent)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (incident_id) DO UPDATE SET kind = EXCLUDED.kind,"
        " case_ref = EXCLUDED.case_ref, school_id = EXCLUDED.school_id, jurisdiction = EXCLUDED.jurisdiction,"
        " reported_at = EXCLUDED.reported_at, risk_level = EXCLUDED.risk_level, urgent = EXCLUDED.urgent",
        case_id, kind, case_ref, school_id, jurisdiction, reported_at, risk_level, urgent,
    )


async def case_decided(
    conn: Conn, incident_id: uuid.UUID, school_id: str, jurisdiction: str, level: str, wide: bool,
    reasons: list[dict[str, str]], policy_version: str, at: datetime, flags: list[str], police: bool,
) -> None:
    """Flags and a referral to the police accumulate over decisions; level and reasons are the latest."""
    await conn.execute(
        "INSERT INTO cases (incident_id, school_id, jurisdiction, level, public_attention_wide, reasons,"
        " policy_version, decided_at, flags, referred_to_police)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10) ON CONFLICT (incident_id) DO UPDATE SET"
        " school_id = coalesce(cases.school_id, EXCLUDED.school_id),"
        " jurisdiction = coalesce(cases.jurisdiction, EXCLUDED.jurisdiction),"
        " level = EXCLUDED.level, public_attention_wide = EXCLUDED.public_attention_wide,"
        " reasons = EXCLUDED.reasons, policy_version = EXCLUDED.policy_version, decided_at = EXCLUDED.decided_at,"
        " flags = ARRAY(SELECT DISTINCT f FROM unnest(cases.flags || EXCLUDED.flags) AS f ORDER BY f),"
        " referred_to_police = cases.referred_to_police OR EXCLUDED.referred_to_police",
        incident_id, school_id, jurisdiction, level, wide, json.dumps(reasons, ensure_ascii=False), policy_version,
        at, sorted(set(flags)), police,
    )


async def case_deadline_missed(conn: Conn, case_id: uuid.UUID) -> None:
    await conn.execute(
        "INSERT INTO cases (incident_id, missed_deadlines) VALUES ($1, 1)"
        " ON CONFLICT (incident_id) DO UPDATE SET missed_deadlines = cases.missed_deadlines + 1",
        case_id,
    )


async def case_converted(conn: Conn, help_id: uuid.UUID, incident_id: uuid.UUID) -> None:
    await conn.execute(
        "INSERT INTO cases (incident_id, converted_incident_id) VALUES ($1, $2)"
        " ON CONFLICT (incident_id) DO UPDATE SET converted_incident_id = EXCLUDED.converted_incident_id",
        help_id, incident_id,
    )


async def case_rectified(conn: Conn, hazard_id: uuid.UUID, at: datetime) -> None:
    """A hazard's rectification reported complete; the first completion counts."""
    await conn.execute(
        "INSERT INTO cases (incident_id, rectified_at) VALUES ($1, $2)"
        " ON CONFLICT (incident_id) DO UPDATE SET rectified_at = least(cases.rectified_at, EXCLUDED.rectified_at)",
        hazard_id, at,
    )


async def case_answered(conn: Conn, help_id: uuid.UUID, at: datetime) -> None:
    """The school replied to a help request; the first reply counts."""
    await conn.execute(
        "INSERT INTO cases (incident_id, answered_at) VALUES ($1, $2)"
        " ON CONFLICT (incident_id) DO UPDATE SET answered_at = least(cases.answered_at, EXCLUDED.answered_at)",
        help_id, at,
    )


async def backfill_jurisdictions(conn: Executor, by_school: dict[str, str], default: str) -> None:
    """Cases projected before issue 6 have no jurisdiction: take it from the directory."""
    await conn.execute(
        "UPDATE cases SET jurisdiction = coalesce(($1::jsonb) ->> school_id, $2)"
        " WHERE jurisdiction IS NULL AND school_id IS NOT NULL",
        json.dumps(by_school), default,
    )


_STATUS_RANK = ("CASE {} WHEN 'requested' THEN 0 WHEN 'delivered' THEN 1 WHEN 'failed' THEN 1"
                " WHEN 'received' THEN 2 WHEN 'undelivered' THEN 2 WHEN 'acknowledged' THEN 3 ELSE 0 END")


async def recipient_status(
    conn: Conn, notification_id: uuid.UUID, incident_id: uuid.UUID, role: str, status: str,
    reason: str | None = None,
) -> None:
    """Events arrive in any order: the furthest state wins (requested → delivered/failed → received/undelivered
    (the provider's receipt) → acknowledged)."""
    await conn.execute(
        "INSERT INTO recipients (notification_id, incident_id, role, status, reason) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (notification_id) DO UPDATE SET"
        f" status = CASE WHEN {_STATUS_RANK.format('EXCLUDED.status')} > {_STATUS_RANK.format('recipients.status')}"
        " THEN EXCLUDED.status ELSE recipients.status END,"
        " reason = coalesce(recipients.reason, EXCLUDED.reason), updated_at = now()",
        notification_id, incident_id, role, status, reason,
    )


async def case_changed(conn: Conn, case_id: uuid.UUID, *, level: str | None = None, closed: bool = False) -> None:
    """An approved lower level or closure (ChangeResolved), or a look-back reported done. A closure may arrive
    before the case's own first event (another consumer): it is kept for the row that event opens."""
    if closed:
        await conn.execute(
            "INSERT INTO cases (incident_id, level, status) VALUES ($1, $2, 'closed') ON CONFLICT (incident_id)"
            " DO UPDATE SET level = coalesce($2, cases.level), status = 'closed'", case_id, level)
        return
    await conn.execute("UPDATE cases SET level = coalesce($2, level) WHERE incident_id = $1", case_id, level)


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

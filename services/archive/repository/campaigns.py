"""Campaigns (issue 16): started per jurisdiction, the cases of their parts, and the duties progress reads."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from shared.db import Conn, Executor


async def add_campaign(conn: Conn, campaign_id: str, jurisdiction: str, version: str, plan: dict[str, Any],
                       school_ids: list[str], started_at: datetime, started_by: str, event_id: uuid.UUID) -> bool:
    """True when new; a campaign started again in the jurisdiction keeps its first start."""
    return bool(await conn.fetchval(
        "INSERT INTO campaigns (campaign_id, jurisdiction, version, plan, school_ids, started_at, started_by,"
        " event_id) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING 1",
        campaign_id, jurisdiction, version, json.dumps(plan, ensure_ascii=False), school_ids, started_at,
        started_by, event_id))


async def lock_campaign(conn: Conn, campaign_id: str, jurisdiction: str) -> None:
    """Starts of one campaign in one jurisdiction are serialised until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('archive-campaign:' || $1::text || ':' || $2::text))",
                       campaign_id, jurisdiction)


def _row(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["plan"] = json.loads(out["plan"]) if isinstance(out["plan"], str) else out["plan"]
    return out


async def started_campaign(conn: Executor, campaign_id: str, jurisdiction: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM campaigns WHERE campaign_id = $1 AND jurisdiction = $2",
                              campaign_id, jurisdiction)
    return _row(row) if row else None


async def started_campaigns(conn: Executor, jurisdiction: str) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM campaigns WHERE jurisdiction = $1 ORDER BY started_at, campaign_id",
                            jurisdiction)
    return [_row(r) for r in rows]


async def campaign_started_for(conn: Executor, campaign_id: str, school_id: str) -> bool:
    """Whether the campaign was started in a jurisdiction with this school (among its schools at the start)."""
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM campaigns WHERE campaign_id = $1 AND $2 = ANY(school_ids))",
        campaign_id, school_id))


async def duties_of_cases(conn: Executor, case_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    """The duties of these cases (a campaign's parts), by case and deadline."""
    rows = await conn.fetch(
        "SELECT case_id, obligation_id, action_id, label_zh, role, state, due_at, first_due_at, settled_at, missed"
        " FROM duties WHERE case_id = ANY($1::uuid[]) ORDER BY case_id, first_due_at, obligation_id", case_ids)
    return [dict(r) for r in rows]

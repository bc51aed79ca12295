"""Escalation's SQL for campaigns: the starts it has seen and the records filed (migrations/0003)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from shared.campaign_plan import Campaign
from shared.contracts.campaign import CampaignRecordFiled, CampaignStarted
from shared.db import Conn


@dataclass(frozen=True)
class Record:
    record_id: uuid.UUID
    school_id: str
    phase_id: str
    kind: str
    filed_by: str
    filed_at: datetime


async def serialised(conn: Conn, campaign_id: str) -> None:
    """A start and a record of the same campaign handled at once would each miss the other's row: one waits
    for the other's transaction (read committed: it then sees what that one wrote)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('campaign:' || $1::text))", campaign_id)


async def save_start(conn: Conn, event: CampaignStarted) -> None:
    await conn.execute(
        "INSERT INTO campaign_starts (campaign_id, jurisdiction, plan, school_ids, started_at)"
        " VALUES ($1, $2, $3::jsonb, $4, $5) ON CONFLICT DO NOTHING",
        event.campaign_id, event.jurisdiction, Campaign.model_validate(event.plan).model_dump_json(),
        list(event.school_ids), event.occurred_at)


async def plan_for_school(conn: Conn, campaign_id: str, school_id: str) -> Campaign | None:
    """The plan of the campaign as started where this school was one of the schools; None before that."""
    raw = await conn.fetchval("SELECT plan FROM campaign_starts WHERE campaign_id = $1 AND $2 = ANY(school_ids)"
                              " ORDER BY started_at LIMIT 1", campaign_id, school_id)
    return Campaign.model_validate_json(raw) if raw else None


async def save_record(conn: Conn, event: CampaignRecordFiled) -> Record:
    await conn.execute(
        "INSERT INTO campaign_records (record_id, campaign_id, school_id, phase_id, kind, filed_by, filed_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        event.record_id, event.campaign_id, event.school_id, event.phase_id, event.kind.value, event.filed_by,
        event.occurred_at)
    return Record(event.record_id, event.school_id, event.phase_id, event.kind.value, event.filed_by,
                  event.occurred_at)


async def records_of(conn: Conn, campaign_id: str, school_ids: list[str]) -> list[Record]:
    """The records already filed for these schools' parts of the campaign, oldest first."""
    rows = await conn.fetch(
        "SELECT record_id, school_id, phase_id, kind, filed_by, filed_at FROM campaign_records"
        " WHERE campaign_id = $1 AND school_id = ANY($2::text[]) ORDER BY filed_at, record_id",
        campaign_id, school_ids)
    return [Record(**dict(r)) for r in rows]

"""Schools' phase summaries of a campaign (issue 16): the projection, who submitted, the sealed entry of each."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from shared.contracts.campaign import CampaignRecordFiled
from shared.db import Conn, Executor


async def add_summary(conn: Conn, record_id: uuid.UUID, event_id: uuid.UUID, case_id: uuid.UUID, campaign_id: str,
                      phase_id: str, school_id: str, filed_by: str, filed_at: datetime) -> None:
    await conn.execute(
        "INSERT INTO campaign_summaries (record_id, event_id, case_id, campaign_id, phase_id, school_id, filed_by,"
        " filed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (record_id) DO NOTHING",
        record_id, event_id, case_id, campaign_id, phase_id, school_id, filed_by, filed_at)


_NEWEST = (
    "SELECT DISTINCT ON (s.school_id) s.record_id, s.event_id, s.case_id, s.school_id, s.filed_by, s.filed_at,"
    " o.display_name AS filed_by_name,"
    " count(*) OVER (PARTITION BY s.school_id) AS submissions"
    " FROM campaign_summaries s LEFT JOIN officials o ON o.account_id = s.filed_by"
    " WHERE s.campaign_id = $1 AND s.phase_id = $2 AND s.school_id = ANY($3::text[])"
    " ORDER BY s.school_id, s.filed_at DESC, s.n DESC")


async def newest_summaries(conn: Executor, campaign_id: str, phase_id: str, school_ids: list[str]
                           ) -> list[dict[str, Any]]:
    """Per school of `school_ids` that submitted: its newest summary (a later one supersedes), and how many."""
    return [dict(r) for r in await conn.fetch(_NEWEST, campaign_id, phase_id, school_ids)]


async def summary_entry(conn: Executor, case_id: uuid.UUID, event_id: uuid.UUID) -> bytes | None:
    """The sealed payload of the record entry that holds a summary's text and figures."""
    ct = await conn.fetchval("SELECT payload_ct FROM entries WHERE incident_id = $1 AND event_id = $2",
                             case_id, event_id)
    return bytes(ct) if ct is not None else None


async def started_at(conn: Executor, level_case_id: uuid.UUID) -> datetime | None:
    """When the campaign's start in a jurisdiction was recorded (its CampaignStarted entry), if it was."""
    at: datetime | None = await conn.fetchval(
        "SELECT min(recorded_at) FROM entries WHERE incident_id = $1 AND event_type = 'CampaignStarted'",
        level_case_id)
    return at


async def project_summary(conn: Conn, event: CampaignRecordFiled) -> None:
    """A summary filed: who and when, and the sealed entry holding its text (never the text itself)."""
    await add_summary(conn, event.record_id, event.event_id, event.case_id, event.campaign_id, event.phase_id,
                      event.school_id, event.filed_by, event.occurred_at)

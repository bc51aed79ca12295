"""Filing the screening records (issue 16) through the one way every campaign record is filed
(campaign_filing.py): who files for which school, the record's event in the outbox; here, what is particular
to screening — the hazards a return names must be the school's, and a screening's rectifications are filed
as hazards (HazardReported, in the same transaction) that escalation and intake treat like a school's own."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from services.archive.campaign_filing import NO_SUCH_CAMPAIGN, enqueue_record, filing_school, record_event
from services.archive.listing import SHANGHAI
from services.archive.repository import screening as sql
from services.archive.screening import (
    SchoolScreening,
    StudentScreeningReturn,
    check_return,
    check_screening,
    record_id_for,
    return_content,
    return_facts,
    screening_content,
    screening_facts,
    screening_hazards,
    unknown_hazards,
)
from shared.campaign_plan import Campaign
from shared.contracts.campaign import CampaignRecordFiled, RecordKind
from shared.db import Conn
from shared.directory import Directory
from shared.hazard_events import reported_event
from shared.identity import Official
from shared.outbox import enqueue


def _phase(campaign: Campaign, phase_id: str) -> None:
    if phase_id not in {p.id for p in campaign.phases}:
        raise NO_SUCH_CAMPAIGN


async def _ids(conn: Conn, kind: RecordKind, campaign: Campaign, phase_id: str, school_id: str,
               official: Official, body: Any) -> tuple[uuid.UUID, uuid.UUID | None]:
    """This record's id and the one it supersedes: the same request again is the record already filed."""
    now_shown = await sql.latest(conn, kind.value, campaign.id, phase_id, school_id)
    if now_shown is not None:
        shown, before = now_shown
        if record_id_for(kind, campaign.id, phase_id, school_id, official.account_id, body, before) == shown:
            return shown, before
    previous = now_shown[0] if now_shown else None
    return record_id_for(kind, campaign.id, phase_id, school_id, official.account_id, body, previous), previous


async def file_return(pool: asyncpg.Pool, directory: Directory, campaign: Campaign, phase_id: str,
                      official: Official, body: StudentScreeningReturn, now: datetime) -> CampaignRecordFiled:
    kind = RecordKind.student_screening
    school_id = filing_school(directory, official, kind, None)
    _phase(campaign, phase_id)
    check_return(body)
    async with pool.acquire() as conn, conn.transaction():
        unknown_hazards(body, await sql.hazards_of_school(conn, school_id, body.hazard_ids))
        record_id, supersedes = await _ids(conn, kind, campaign, phase_id, school_id, official, body)
        event = record_event(campaign, phase_id, school_id, kind, official, return_facts(body),
                             return_content(body, supersedes), record_id, now)
        await enqueue_record(conn, event)
    return event


async def file_screening(pool: asyncpg.Pool, directory: Directory, campaign: Campaign, phase_id: str,
                         school_id: str, official: Official, body: SchoolScreening,
                         now: datetime) -> tuple[CampaignRecordFiled, list[uuid.UUID]]:
    kind = RecordKind.school_screening
    school_id = filing_school(directory, official, kind, school_id)
    _phase(campaign, phase_id)
    check_screening(body, now.astimezone(SHANGHAI).date())
    async with pool.acquire() as conn, conn.transaction():
        record_id, supersedes = await _ids(conn, kind, campaign, phase_id, school_id, official, body)
        hazards = screening_hazards(body, record_id, school_id, now)
        event = record_event(campaign, phase_id, school_id, kind, official, screening_facts(body),
                             screening_content(body, supersedes, hazards), record_id, now)
        await enqueue_record(conn, event)
        await enqueue(conn, *(reported_event(hazard_id, finding, now) for _, hazard_id, finding in hazards))
    return event, [h for _, h, _ in hazards]

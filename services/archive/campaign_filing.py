"""Filing a record for a school's part of a campaign phase (issue 16): who may file what, and the event.

One way in for every record kind, so that the rules are the same for all: the campaign and its phase must
exist, a school's staff file for their own school only, the bureau for its jurisdiction's schools only, and
each kind has one kind of filer (`FILERS`). The record becomes a `CampaignRecordFiled` (its content sealed
for the archive) in the outbox, in the caller's transaction if given; the archive's own consumer then
chains and projects it, and escalation settles the phase's duties it fulfils.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from services.archive.repository.campaigns import campaign_started_for
from shared.bus_seal import producer
from shared.campaign_plan import Campaign
from shared.contracts.base import derive_id
from shared.contracts.campaign import (
    RECORD_KIND_ZH,
    CampaignRecordFiled,
    CampaignStarted,
    RecordFacts,
    RecordKind,
    campaign_started_id,
)
from shared.db import Conn
from shared.directory import Directory
from shared.errors import ApiError
from shared.identity import Official, OfficialRole
from shared.outbox import enqueue

# who files each kind: a school's own staff, or the bureau about one of its schools
FILERS: dict[RecordKind, OfficialRole] = {
    RecordKind.student_screening: OfficialRole.school,
    RecordKind.summary: OfficialRole.school,
    RecordKind.training: OfficialRole.school,
    RecordKind.school_screening: OfficialRole.bureau,
}

NO_SUCH_CAMPAIGN = ApiError(404, "not_found", "No such campaign or phase.", "没有该专项整治活动或阶段。")
NO_SUCH_SCHOOL = ApiError(404, "not_found", "No such school within your authority.", "您的管辖范围内没有该学校。")


def filing_school(directory: Directory, official: Official, kind: RecordKind, school_id: str | None) -> str:
    """The school a record is filed for, or 403/404: a school's staff need not name their school."""
    filer = FILERS[kind]
    if official.role is not filer:
        who = "a school's staff" if filer is OfficialRole.school else "the bureau"
        raise ApiError(403, "forbidden", f"A {kind.value} record is filed by {who}.",
                       f"{RECORD_KIND_ZH[kind]}应由{'学校' if filer is OfficialRole.school else '教育局'}填报。")
    if official.role is OfficialRole.school:
        if school_id is not None and school_id != official.school_id:
            raise NO_SUCH_SCHOOL
        assert official.school_id is not None
        return official.school_id
    if school_id is None or school_id not in directory.schools \
            or directory.jurisdiction_of(school_id) != official.jurisdiction:
        raise NO_SUCH_SCHOOL
    return school_id


def started_event(campaign: Campaign, directory: Directory, jurisdiction: str, by: str,
                  now: datetime) -> CampaignStarted:
    """A campaign started in a jurisdiction, for every school the directory has there now (pure)."""
    schools = sorted(s for s in directory.schools if directory.jurisdiction_of(s) == jurisdiction)
    return CampaignStarted(event_id=campaign_started_id(campaign.id, jurisdiction), occurred_at=now,
                           campaign_id=campaign.id, version=campaign.version, jurisdiction=jurisdiction,
                           school_ids=schools, started_by=by, plan=campaign.model_dump(mode="json"))


def record_event(campaign: Campaign, phase_id: str, school_id: str, kind: RecordKind, official: Official,
                 facts: RecordFacts, content: dict[str, Any], record_id: uuid.UUID,
                 now: datetime) -> CampaignRecordFiled:
    """The event of a record (pure); 404 for a phase the campaign does not have."""
    if phase_id not in {p.id for p in campaign.phases}:
        raise NO_SUCH_CAMPAIGN
    return CampaignRecordFiled(
        event_id=derive_id("campaign-record-filed", record_id), occurred_at=now, schema_version=2,
        campaign_id=campaign.id, phase_id=phase_id, school_id=school_id, kind=kind, record_id=record_id,
        filed_by=official.account_id, facts=facts, content=content)


NOT_STARTED = ApiError(409, "campaign_not_started", "The campaign has not been started in the school's jurisdiction "
                       "(the bureau starts it: POST /v1/campaigns/{id}/start).",
                       "该专项整治活动尚未在本校所在辖区启动，暂不能填报；请等待教育局启动后再填报。")


async def enqueue_record(conn: Conn, event: CampaignRecordFiled) -> None:
    """In the caller's transaction: the record is published after commit (outbox), its content sealed.
    409 `campaign_not_started` unless the campaign was started in a jurisdiction with this school."""
    if not await campaign_started_for(conn, event.campaign_id, event.school_id):
        raise NOT_STARTED
    await enqueue(conn, producer().sections(event))


async def file_record(pool: asyncpg.Pool, event: CampaignRecordFiled) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await enqueue_record(conn, event)

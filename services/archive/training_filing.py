"""Filing a training session (issue 16) through the one way every campaign record is filed, its projection
into `trainings`, and the list of sessions within a reader's authority."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime

import asyncpg

from services.archive.audit import Access
from services.archive.campaign_filing import file_record, filing_school, record_event
from services.archive.listing import SHANGHAI
from services.archive.reads import log_access
from services.archive.repository import trainings as rows
from services.archive.scopes import scope_for
from services.archive.trainings import Training, TrainingList, TrainingRequest, content_of, facts_of, not_future
from shared.campaign_plan import Campaign
from shared.contracts.base import derive_id
from shared.contracts.campaign import CampaignRecordFiled, RecordKind
from shared.db import Conn
from shared.directory import Directory
from shared.errors import ApiError, FieldError
from shared.identity import Official, OfficialRole

log = logging.getLogger("antibully.archive.trainings")
LIST_LIMIT = 500
FORBIDDEN = ApiError(403, "forbidden", "Training records are the schools' and the bureau's.",
                     "培训记录仅供学校和教育局查阅。")


def invalid(field: str, reason: str, reason_zh: str) -> ApiError:
    return ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                    errors=[FieldError(field=field, reason=reason, reason_zh=reason_zh)])


async def file_training(pool: asyncpg.Pool, directory: Directory, campaign: Campaign, phase_id: str,
                        official: Official, body: TrainingRequest, idempotency_key: str | None,
                        now: datetime) -> CampaignRecordFiled:
    """A school's staff file a session for their own school (403 for anyone else); the same
    Idempotency-Key with the same body again is the same record (a double submit files one session)."""
    school_id = filing_school(directory, official, RecordKind.training, None)
    if not not_future(body.held_on, now.astimezone(SHANGHAI).date()):
        raise invalid("held_on", "A training not held yet cannot be recorded.", "培训日期不能晚于今天。")
    record_id = derive_id("training", school_id, idempotency_key, body.model_dump_json()) if idempotency_key \
        else uuid.uuid4()
    event = record_event(campaign, phase_id, school_id, RecordKind.training, official, facts_of(body),
                         content_of(body, directory.jurisdiction_of(school_id)), record_id, now)
    await file_record(pool, event)
    return event


async def project_training(conn: Conn, event: CampaignRecordFiled) -> None:
    """PROJECTORS[training]: the session's counts and roles (the opened record's content)."""
    c = event.content
    if c is None:  # the archive could not open it: the chain refuses such a message before this point
        log.error("training record %s without content: not projected", event.record_id)
        return
    await rows.insert_training(conn, event.record_id, event.campaign_id, event.phase_id, event.school_id,
                               str(c["jurisdiction"]), date.fromisoformat(c["held_on"]), list(c["audience"]),
                               int(c["participants"]), float(c["hours"]), event.filed_by, event.occurred_at)


async def list_trainings(pool: asyncpg.Pool, official: Official, directory: Directory, school: str | None,
                         first: date | None, last: date | None, purpose: str, now: datetime) -> TrainingList:
    """A school its own sessions, the bureau its jurisdiction's; 403 for the police and the stability office
    (staff training is not within their authority). Logged with its purpose, like every read."""
    if official.role not in (OfficialRole.school, OfficialRole.bureau):
        raise FORBIDDEN
    if first is not None and last is not None and first > last:
        raise invalid("query.from", "'from' is after 'to'.", "起始日期晚于截止日期。")
    stated = {k: v for k, v in (("school", school), ("from", first and first.isoformat()),
                                ("to", last and last.isoformat())) if v}
    await log_access(pool, Access(official, "trainings", purpose, filter=stated), now)
    found = await rows.list_trainings(pool, scope_for(official), school, first, last, LIST_LIMIT + 1)
    items = [Training(**r, school_name=s.name if (s := directory.schools.get(r["school_id"])) else None)
             for r in found[:LIST_LIMIT]]
    return TrainingList(trainings=items, sessions=len(items), hours=round(sum(t.hours for t in items), 1),
                        participants=sum(t.participants for t in items), truncated=len(found) > LIST_LIMIT)

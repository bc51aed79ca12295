"""The bureau starts a campaign in its jurisdiction, and everyone within authority reads its progress.

A start is `CampaignStarted` through the outbox (escalation makes every duty of it; the archive projects
it into `campaigns` and a `campaign` case per school), with the `campaigns` row written in the same
transaction so that a second start, and a school's filing, know at once that it has started. Only a
bureau official starts, and only in its own jurisdiction; the same campaign started again is the same
event. Reads of progress state a purpose and are logged (action `campaign`) before the answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.archive import repository
from services.archive.acts import BUREAU_ONLY
from services.archive.audit import Access
from services.archive.campaign_files import campaign_of
from services.archive.campaign_filing import started_event
from services.archive.campaign_progress import CampaignProgress, CampaignView, campaign_view, progress
from services.archive.reads import log_access
from services.archive.scopes import may_read_ledger
from shared.campaign_plan import Campaign
from shared.contracts.campaign import CampaignStarted, campaign_case_id, campaign_level_case_id
from shared.directory import Directory
from shared.errors import ApiError
from shared.identity import Official, OfficialRole
from shared.outbox import enqueue

FORBIDDEN = ApiError(403, "forbidden", "Campaigns are the schools' and the bureau's; use the case list.",
                     "专项整治仅供学校和教育局使用，请通过案件列表查阅。")
NOT_STARTED = ApiError(404, "not_found", "This campaign has not been started in your jurisdiction.",
                       "本辖区尚未启动该专项整治活动。")


async def start(pool: asyncpg.Pool, campaigns: dict[str, Campaign], directory: Directory, official: Official,
                campaign_id: str, now: datetime) -> tuple[CampaignStarted, bool]:
    """The start's event, and whether it is new (False: started before, the first start's event)."""
    if official.role is not OfficialRole.bureau:
        raise BUREAU_ONLY
    campaign = campaign_of(campaigns, campaign_id)
    event = started_event(campaign, directory, official.jurisdiction, official.account_id, now)
    async with pool.acquire() as conn, conn.transaction():
        await repository.lock_campaign(conn, campaign.id, official.jurisdiction)
        earlier = await repository.started_campaign(conn, campaign.id, official.jurisdiction)
        if earlier is not None:
            return event.model_copy(update={"event_id": earlier["event_id"], "occurred_at": earlier["started_at"],
                                            "school_ids": earlier["school_ids"],
                                            "started_by": earlier["started_by"]}), False
        await repository.add_campaign(conn, campaign.id, event.jurisdiction, event.version, event.plan,
                                      event.school_ids, now, official.account_id, event.event_id)
        await enqueue(conn, event)
    return event, True


def _reader(official: Official) -> Official:
    if not may_read_ledger(official):
        raise FORBIDDEN
    return official


async def views(pool: asyncpg.Pool, campaigns: dict[str, Campaign], official: Official, purpose: str,
                now: datetime) -> list[CampaignView]:
    """Every campaign file, started or not in the reader's jurisdiction."""
    _reader(official)
    await log_access(pool, Access(official, "campaign", purpose, filter={"campaign_id": "*"}), now)
    started = {r["campaign_id"]: r for r in await repository.started_campaigns(pool, official.jurisdiction)}
    return [campaign_view(c, started.get(cid)) for cid, c in sorted(campaigns.items())]


async def read_progress(pool: asyncpg.Pool, campaigns: dict[str, Campaign], directory: Directory,
                        official: Official, campaign_id: str, purpose: str, fmt: str, now: datetime
                        ) -> CampaignProgress | CampaignView:
    """Per school and phase (a school's staff: its own row); the file alone when not started here."""
    _reader(official)
    campaign = campaign_of(campaigns, campaign_id)
    await log_access(pool, Access(official, "campaign", purpose, filter={"campaign_id": campaign_id,
                                                                          "format": fmt}), now)
    started = await repository.started_campaign(pool, campaign.id, official.jurisdiction)
    if started is None:
        return campaign_view(campaign, None)
    return await _progress(pool, directory, official, started, now)


async def _progress(pool: asyncpg.Pool, directory: Directory, official: Official, started: dict[str, Any],
                    now: datetime) -> CampaignProgress:
    schools: list[str] = list(started["school_ids"])
    if official.role is OfficialRole.school:
        schools = [s for s in schools if s == official.school_id]
    bureau = official.role is OfficialRole.bureau
    case_ids = [campaign_case_id(started["campaign_id"], s) for s in schools]
    if bureau:
        case_ids.append(campaign_level_case_id(started["campaign_id"], started["jurisdiction"]))
    rows = await repository.duties_of_cases(pool, case_ids)
    return progress(started, directory, schools, bureau, rows, now)


async def ledger_progress(pool: asyncpg.Pool, directory: Directory, official: Official, school: str | None,
                          now: datetime) -> list[CampaignProgress]:
    """The campaigns started in the reader's jurisdiction, for the ledger workbook (its read is logged there)."""
    out = []
    for started in await repository.started_campaigns(pool, official.jurisdiction):
        found = await _progress(pool, directory, official, started, now)
        if school is not None:
            found = found.model_copy(update={"schools": [s for s in found.schools if s.school_id == school]})
        out.append(found)
    return out

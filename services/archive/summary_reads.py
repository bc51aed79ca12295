"""Phase summaries (issue 16): a school submits its own, the school and the bureau read them (each read logged
with its purpose), the bureau gathers its jurisdiction's for the city summary. The text is kept sealed in the
record; the projection says only who submitted when (repository/summaries.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.archive import payloads
from services.archive.audit import Access
from services.archive.campaign_filing import (
    NO_SUCH_CAMPAIGN,
    NO_SUCH_SCHOOL,
    enqueue_record,
    filing_school,
    record_event,
)
from services.archive.campaign_summaries import (
    Figures,
    PhaseInfo,
    SchoolPhaseSummary,
    SummaryContent,
    SummaryList,
    SummaryStatus,
    SummaryText,
    campaign_period,
    figures_of,
    phase_info,
)
from services.archive.ledger import Ledger, Period, SchoolInfo
from services.archive.ledger_reads import figures_ledger, known_schools
from services.archive.reads import log_access
from services.archive.repository import summaries as rows
from services.archive.scopes import Scope, scope_for
from shared.campaign_plan import Campaign, Phase
from shared.contracts.campaign import CampaignRecordFiled, RecordFacts, RecordKind, campaign_level_case_id
from shared.directory import Directory
from shared.errors import ApiError
from shared.identity import Official

NOT_SUBMITTED = ApiError(404, "not_found", "This school has not submitted a summary for the phase.",
                         "该校尚未提交本阶段总结。")


def phase_of(campaign: Campaign, phase_id: str) -> Phase:
    try:
        return campaign.phase(phase_id)
    except KeyError:
        raise NO_SUCH_CAMPAIGN from None


async def period_of(pool: asyncpg.Pool, campaign: Campaign, jurisdiction: str, now: datetime) -> Period:
    started = await rows.started_at(pool, campaign_level_case_id(campaign.id, jurisdiction))
    return campaign_period(started, now)


async def school_figures(pool: asyncpg.Pool, directory: Directory, campaign: Campaign, school: str,
                         now: datetime) -> Figures:
    """The school's ledger totals for the campaign's period so far: what a summary submitted now attaches."""
    jurisdiction = directory.jurisdiction_of(school)
    period = await period_of(pool, campaign, jurisdiction, now)
    info = SchoolInfo(directory.schools[school].name if school in directory.schools else None, jurisdiction)
    found = await figures_ledger(pool, Scope(school_id=school), period, school, {school: info}, now)
    return figures_of(period, found.schools[0].totals, now)


async def submit(pool: asyncpg.Pool, directory: Directory, campaign: Campaign, phase_id: str, official: Official,
                 text: SummaryText, now: datetime) -> tuple[CampaignRecordFiled, Figures]:
    school = filing_school(directory, official, RecordKind.summary, None)
    phase_of(campaign, phase_id)
    figures = await school_figures(pool, directory, campaign, school, now)
    content = SummaryContent(**text.model_dump(), figures=figures)
    event = record_event(campaign, phase_id, school, RecordKind.summary, official, RecordFacts(),
                         content.model_dump(mode="json"), uuid.uuid4(), now)
    async with pool.acquire() as conn, conn.transaction():
        await enqueue_record(conn, event)
    return event, figures


def _visible(directory: Directory, official: Official, school: str) -> bool:
    scope = scope_for(official)
    return school in directory.schools and scope.school_id in (None, school) \
        and scope.jurisdiction in (None, directory.jurisdiction_of(school))


async def figures_for(pool: asyncpg.Pool, directory: Directory, campaign: Campaign, official: Official,
                      school: str | None, purpose: str, now: datetime) -> Figures:
    """The figures a summary of this school would attach now (the school's form shows them). Logged."""
    school = school or official.school_id
    visible = school is not None and _visible(directory, official, school)
    await log_access(pool, Access(official, "ledger", purpose, filter={"campaign": campaign.id, "school": school,
                                                                       "format": "summary_figures"},
                                  outcome="ok" if visible else "not_found"), now)
    if not visible or school is None:
        raise NO_SUCH_SCHOOL
    return await school_figures(pool, directory, campaign, school, now)


def _status(school: str, info: SchoolInfo, row: dict[str, object] | None) -> SummaryStatus:
    if row is None:
        return SummaryStatus(school_id=school, school_name=info.name, submitted=False)
    return SummaryStatus(school_id=school, school_name=info.name, submitted=True, submitted_at=row["filed_at"],
                         submitted_by=row["filed_by"], submitted_by_name=row["filed_by_name"],
                         submissions=row["submissions"])


async def listing(pool: asyncpg.Pool, directory: Directory, campaign: Campaign, phase_id: str, official: Official,
                  purpose: str, now: datetime) -> SummaryList:
    """Every school of the reader's authority (a school: itself) and whether it submitted. Logged."""
    phase = phase_of(campaign, phase_id)
    await log_access(pool, Access(official, "summaries", purpose, filter={"campaign": campaign.id,
                                                                          "phase": phase_id}), now)
    known = known_schools(directory, official, None)
    found = {r["school_id"]: r for r in await rows.newest_summaries(pool, campaign.id, phase_id, sorted(known))}
    schools = [_status(s, known[s], found.get(s)) for s in sorted(known)]
    done = sum(s.submitted for s in schools)
    return SummaryList(**phase_info(campaign, phase).model_dump(), submitted=done,
                       not_submitted=len(schools) - done, schools=schools)


async def _content(pool: asyncpg.Pool, row: dict[str, object]) -> SummaryContent | None:
    case_id, event_id = row["case_id"], row["event_id"]
    assert isinstance(case_id, uuid.UUID) and isinstance(event_id, uuid.UUID)
    async with pool.acquire() as conn:
        ct = await rows.summary_entry(conn, case_id, event_id)
        plain = await payloads.open_payload(conn, case_id, event_id, ct) if ct is not None else None
    if plain is None:
        return None  # the case key was destroyed
    event = CampaignRecordFiled.model_validate_json(plain, extra="ignore")
    return SummaryContent.model_validate(event.content) if event.content is not None else None


async def one(pool: asyncpg.Pool, directory: Directory, campaign: Campaign, phase_id: str, school: str,
              official: Official, purpose: str, now: datetime) -> SchoolPhaseSummary:
    """A school's newest summary of the phase; 404 outside the reader's authority (logged as not_found)."""
    phase = phase_of(campaign, phase_id)
    visible = _visible(directory, official, school)
    await log_access(pool, Access(official, "summary", purpose,
                                  filter={"campaign": campaign.id, "phase": phase_id, "school": school},
                                  outcome="ok" if visible else "not_found"), now)
    if not visible:
        raise NO_SUCH_SCHOOL
    found = await rows.newest_summaries(pool, campaign.id, phase_id, [school])
    if not found:
        raise NOT_SUBMITTED
    content = await _content(pool, found[0])
    status = _status(school, SchoolInfo(directory.schools[school].name, directory.jurisdiction_of(school)), found[0])
    return SchoolPhaseSummary(**phase_info(campaign, phase).model_dump(), **status.model_dump(),
                              **(content.model_dump() if content else {"unavailable": True}))


@dataclass(frozen=True)
class CityData:
    """What the city summary holds: the phase, the ledger of the period, each school's status and text."""

    info: PhaseInfo
    jurisdiction: str
    ledger: Ledger
    statuses: list[SummaryStatus]
    texts: dict[str, SummaryContent | None]
    generated_at: datetime


async def city(pool: asyncpg.Pool, directory: Directory, campaign: Campaign, phase_id: str, official: Official,
               purpose: str, now: datetime) -> CityData:
    """The bureau's jurisdiction: the ledger for the campaign's period so far and every school's summary. Logged."""
    phase = phase_of(campaign, phase_id)
    await log_access(pool, Access(official, "export", purpose, filter={"campaign": campaign.id, "phase": phase_id,
                                                                       "format": "docx"}), now)
    known = known_schools(directory, official, None)
    period = await period_of(pool, campaign, official.jurisdiction, now)
    ledger = await figures_ledger(pool, scope_for(official), period, None, known, now)
    found = {r["school_id"]: r for r in await rows.newest_summaries(pool, campaign.id, phase_id, sorted(known))}
    statuses = [_status(s, known[s], found.get(s)) for s in sorted(known)]
    texts = {s: await _content(pool, r) for s, r in found.items()}
    return CityData(phase_info(campaign, phase), official.jurisdiction, ledger, statuses, texts, now)

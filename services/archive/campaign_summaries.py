"""Schools' phase summaries of a campaign (issue 16, work plan 四(5)): what a school writes, what is attached.

A school's staff write four texts (成效, 问题, 原因, 下一步); the school's figures from the ledger for the
campaign's period so far are attached at submission and kept with the text, so that the summary always shows
the numbers the school saw when it wrote. The record is a `CampaignRecordFiled` of kind `summary`: its content
(text and figures) sealed, settling the phase's summary duty; a later summary supersedes the earlier in views.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.archive.deps import TEXT
from services.archive.ledger import MAX_MONTHS, Counts, Period
from services.archive.listing import SHANGHAI
from shared.campaign_plan import Campaign, Phase

TEXT_MAX = 5000
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TEXT_MAX, pattern=TEXT)]

SECTIONS_ZH: dict[str, str] = {"achievements": "成效", "problems": "问题", "causes": "原因", "next_steps": "下一步"}
GUIDANCE_ZH = "请概括本校情况，不要写学生姓名或能识别学生的细节。"


class SummaryText(BaseModel):
    """What a school writes: each part required, at most 5000 characters, no child's name."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "achievements": "完成全体学生排查，召开家长会 12 场，建立问题台账。",
        "problems": "个别班级欺凌苗头发现不及时。", "causes": "班主任培训不足，巡查存在盲区。",
        "next_steps": "开展全员培训，加装监控，每月开展一次专项排查。"}]})

    achievements: Text = Field(description="成效: what the school achieved (no child's name).")
    problems: Text = Field(description="问题: the problems that remain.")
    causes: Text = Field(description="原因: their causes.")
    next_steps: Text = Field(description="下一步: what the school will do next.")


class Figures(BaseModel):
    """The school's ledger totals for the campaign's period so far (counts only)."""

    period_from: str = Field(description="YYYY-MM: the month the campaign was started in the jurisdiction.")
    period_to: str = Field(description="YYYY-MM: the month of the count.")
    counted_at: datetime
    totals: Counts


class SummaryContent(SummaryText):
    """The record as kept (sealed): the text and the figures attached at submission."""

    model_config = ConfigDict(extra="ignore")

    figures: Figures


class SummaryFiled(BaseModel):
    record_id: uuid.UUID
    event_id: uuid.UUID
    school_id: str
    status: str = "accepted"
    figures: Figures
    note_zh: str


class SummaryStatus(BaseModel):
    """A school of the reader's authority and its newest summary of the phase, if any."""

    school_id: str
    school_name: str | None
    submitted: bool
    submitted_at: datetime | None = None
    submitted_by: str | None = Field(default=None, description="The account that submitted the newest one.")
    submitted_by_name: str | None = None
    submissions: int = Field(0, description="Summaries submitted for the phase; the newest is the one shown.")


class PhaseInfo(BaseModel):
    campaign_id: str
    title_zh: str
    phase_id: str
    phase_zh: str
    phase_due: date | None = Field(description="The phase's deadline (end of day, Asia/Shanghai), when a date.")


class SummaryList(PhaseInfo):
    submitted: int
    not_submitted: int
    schools: list[SummaryStatus]


class SchoolPhaseSummary(PhaseInfo, SummaryStatus):
    """One school's newest summary: the text (None if its case key was destroyed) and the figures."""

    achievements: str | None = None
    problems: str | None = None
    causes: str | None = None
    next_steps: str | None = None
    figures: Figures | None = None
    unavailable: bool = Field(False, description="The text can no longer be opened (the case key was destroyed).")


def phase_info(campaign: Campaign, phase: Phase) -> PhaseInfo:
    return PhaseInfo(campaign_id=campaign.id, title_zh=campaign.title_zh, phase_id=phase.id, phase_zh=phase.zh,
                     phase_due=phase.due)


def campaign_period(started_at: datetime | None, now: datetime) -> Period:
    """From the month the campaign was started (else January of this year) to this month, Asia/Shanghai;
    at most the ledger's MAX_MONTHS."""
    last = now.astimezone(SHANGHAI).date().replace(day=1)
    first = started_at.astimezone(SHANGHAI).date().replace(day=1) if started_at is not None else last.replace(month=1)
    first = min(first, last)
    back = last.year * 12 + last.month - 1 - (MAX_MONTHS - 1)
    earliest = date(back // 12, back % 12 + 1, 1)
    return Period(max(first, earliest), last)


def figures_of(period: Period, totals: Counts, now: datetime) -> Figures:
    stated = period.stated()
    return Figures(period_from=stated["from"], period_to=stated["to"], counted_at=now, totals=totals)

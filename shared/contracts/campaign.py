"""The work plan as a campaign (issue 16): what schools and the bureau file against a campaign's phases.

A campaign is data (`deploy/campaigns/*.toml`): phases with deadlines, and duties per school and per
bureau office that escalation holds like any other obligation. Each school's part of a campaign is one
case (kind `campaign`, id `campaign_case_id(campaign, school)`) whose chain keeps everything filed for it:
the school's own student screening return, the bureau's screening of the school on the seven aspects,
the phase summary, training sessions held. A filed record settles the duties of its phase that name its
kind (`fulfilled_by` in the campaign file); a later record of the same kind and phase supersedes the
earlier one in the views, both stay in the chain.

Counts and flags travel in clear (`facts`: what escalation and the ledger need); the record's text
(findings, summaries, who was trained) is sealed for the archive (`content`).
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field

from shared.contracts.base import Event, Strict, derive_id
from shared.contracts.incident import Ref, ShortText
from shared.contracts.sealed import SealedSections
from shared.subjects import CAMPAIGN_RECORD_FILED, CAMPAIGN_STARTED


class RecordKind(StrEnum):
    student_screening = "student_screening"  # a school's screening of all its students (its return)
    school_screening = "school_screening"  # the bureau's screening of a school on the seven aspects
    summary = "summary"  # a school's phase summary: 成效, 问题, 原因, 下一步
    training = "training"  # an anti-bullying training session held for the school's staff


RECORD_KIND_ZH: dict[RecordKind, str] = {
    RecordKind.student_screening: "学生排查报告",
    RecordKind.school_screening: "学校排查（七个方面）",
    RecordKind.summary: "阶段总结",
    RecordKind.training: "防欺凌培训",
}


class Aspect(StrEnum):
    """The seven aspects the bureau screens every school on (work plan 二(二))."""

    mechanism = "mechanism"
    rules = "rules"
    staffing = "staffing"
    responsibility = "responsibility"
    publicity = "publicity"
    discipline = "discipline"
    facilities = "facilities"


ASPECT_ZH: dict[Aspect, str] = {
    Aspect.mechanism: "机制建设",
    Aspect.rules: "规章制度",
    Aspect.staffing: "人员配备",
    Aspect.responsibility: "责任落实",
    Aspect.publicity: "宣传教育",
    Aspect.discipline: "教育惩戒",
    Aspect.facilities: "硬件条件",
}


def campaign_case_id(campaign_id: str, school_id: str) -> uuid.UUID:
    """A school's part of a campaign: one case, the same id in every service (no registry needed)."""
    return derive_id("campaign", campaign_id, school_id)


def campaign_level_case_id(campaign_id: str, jurisdiction: str) -> uuid.UUID:
    """The campaign itself in one jurisdiction: its start, and the duties a bureau office owes once."""
    return derive_id("campaign", campaign_id, "jurisdiction", jurisdiction)


class CampaignStarted(Event):
    """The bureau started a campaign in its jurisdiction: escalation creates every duty of every phase.

    Self-contained, so that a replay or a later reader needs no file: `plan` is the campaign file as
    validated (`shared.campaign_plan.Campaign`), `school_ids` the jurisdiction's schools at the start.
    The same campaign started twice in a jurisdiction is the same event (its id is derived)."""

    event_type: ClassVar[str] = "CampaignStarted"
    subject: ClassVar[str] = CAMPAIGN_STARTED

    campaign_id: Ref
    version: ShortText
    jurisdiction: Ref
    school_ids: list[Ref] = Field(max_length=10_000)
    started_by: ShortText = Field(description="The bureau official's account.")
    plan: dict[str, Any] = Field(description="The campaign file as validated, as JSON.")

    @property
    def case_id(self) -> uuid.UUID:
        return campaign_level_case_id(self.campaign_id, self.jurisdiction)

    def campaign(self) -> Any:
        """The plan as `shared.campaign_plan.Campaign` (imported here: that module builds on this one)."""
        from shared.campaign_plan import Campaign

        return Campaign.model_validate(self.plan)


def campaign_started_id(campaign_id: str, jurisdiction: str) -> uuid.UUID:
    return derive_id("campaign-started", campaign_id, jurisdiction)


class RecordFacts(Strict):
    """What may be counted in clear: numbers and flags, never a name or free text."""

    students_screened: int | None = Field(default=None, ge=0)
    parent_talks: int | None = Field(default=None, ge=0, description="Talks with parents held.")
    nothing_found: bool | None = Field(default=None, description="Screened, explicitly nothing found.")
    hazards_filed: int = Field(default=0, ge=0, description="Findings filed as hazards with this record.")
    aspects_with_problems: int | None = Field(default=None, ge=0, le=7)
    training_hours: float | None = Field(default=None, ge=0, le=1000)
    participants: int | None = Field(default=None, ge=0)


class CampaignRecordFiled(Event, SealedSections):
    """A record filed for a school's part of a campaign phase (through the archive, by an account)."""

    event_type: ClassVar[str] = "CampaignRecordFiled"
    subject: ClassVar[str] = CAMPAIGN_RECORD_FILED
    sealed_fields: ClassVar[tuple[str, ...]] = ("content",)

    campaign_id: Ref
    phase_id: Ref
    school_id: Ref
    kind: RecordKind
    record_id: uuid.UUID = Field(description="This record; a later one of the same kind and phase supersedes it.")
    filed_by: ShortText = Field(description="The account that filed it (a school's staff or an official).")
    facts: RecordFacts = Field(default_factory=RecordFacts)
    content: dict[str, Any] | None = Field(
        default=None, description="The record as filed (its kind's model as JSON); sealed for the archive.")

    @property
    def case_id(self) -> uuid.UUID:
        return campaign_case_id(self.campaign_id, self.school_id)

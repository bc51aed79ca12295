"""Escalation's verdict on a report: the level, why, and who must be told."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from shared.contracts.base import Event, IncidentEvent, Strict
from shared.subjects import CHANGE_PROPOSED, DEADLINE_MISSED, ESCALATION_DECIDED, LOOKBACK_SCHEDULED


class Level(StrEnum):
    minor = "minor"
    serious = "serious"
    severe = "severe"
    criminal = "criminal"

    @property
    def rank(self) -> int:
        return list(Level).index(self)


class RecipientRole(StrEnum):
    victim_guardian = "victim_guardian"
    perpetrator_guardian = "perpetrator_guardian"
    school = "school"
    bureau = "bureau"
    police = "police"
    stability_office = "stability_office"
    counsellor = "counsellor"  # the school's psychological counsellor (心理辅导老师)
    official = "official"  # a named escalation contact from the directory (e.g. a bureau leader)
    procuratorate = "procuratorate"  # 检察院: told when the police transfer a case (optional directory contact)
    court = "court"  # 法院: for criminal cases (optional directory contact)
    legal_vice_principal = "legal_vice_principal"  # 法治副校长 of the school (optional directory contact)
    safety_officer = "safety_officer"  # the school's staff 安全员/安全干部 (optional directory contact)


class Reason(Strict):
    code: str
    zh: str
    en: str


class RecipientSummary(Strict):
    """A required recipient without contact data: enough for the record, nothing to leak."""

    notification_id: uuid.UUID
    role: RecipientRole


class ActionDue(Strict):
    """A duty the decision created: a notice to send or a task to do, and by when."""

    action_id: str
    kind: str = Field(description="notice | task")
    role: RecipientRole
    due_at: datetime
    ack_required: bool = False
    student_ref: str | None = Field(default=None, description="The victim's pseudonymous ref, for per-victim tasks.")


class EscalationDecided(IncidentEvent):
    event_type: ClassVar[str] = "EscalationDecided"
    subject: ClassVar[str] = ESCALATION_DECIDED

    school_id: str
    level: Level
    public_attention_wide: bool
    reasons: list[Reason]
    recipients: list[RecipientSummary]
    policy_version: str = Field(description="The rule set that produced this decision.")
    flags: list[str] = Field(default_factory=list, description="e.g. wide_public_attention, late_report, under_rated")
    actions: list[ActionDue] = Field(default_factory=list)


class DeadlineMissed(IncidentEvent):
    """A required action was not done in time: it is re-notified and escalated up the policy's chain."""

    event_type: ClassVar[str] = "DeadlineMissed"
    subject: ClassVar[str] = DEADLINE_MISSED

    obligation_id: uuid.UUID
    action_id: str
    role: RecipientRole
    state: str = Field(description="Where the action stood: pending, delivered (not acknowledged), failed…")
    due_at: datetime
    step: int = Field(ge=1, description="1 the first time, then once per further period not done.")
    escalated_to: str = Field(description="The contact told now (an office, never a person's private data).")
    notification_id: uuid.UUID | None = None


class ChangeProposed(IncidentEvent):
    """A follow-up asks for a lower level or for closure. The decision in force stands until a second,
    different bureau official approves; closure also needs every required action done."""

    event_type: ClassVar[str] = "ChangeProposed"
    subject: ClassVar[str] = CHANGE_PROPOSED

    school_id: str
    follow_up_id: uuid.UUID
    change: str = Field(description="lower | closure")
    level_in_force: Level
    proposed_level: Level | None = None
    open_actions: list[str] = Field(default_factory=list, description="Required actions not done yet.")


class LookBackScheduled(Event):
    """A school with incidents in the policy's recent window gets a look-back review (回头看) by the bureau."""

    event_type: ClassVar[str] = "LookBackScheduled"
    subject: ClassVar[str] = LOOKBACK_SCHEDULED

    lookback_id: uuid.UUID
    school_id: str
    trigger_incident_id: uuid.UUID | None = Field(
        default=None, description="The incident that triggered it; None for one the bureau requested by hand "
        "(LookBackRequested, same lookback_id).")
    due_at: datetime

    @property
    def case_id(self) -> uuid.UUID:
        return self.lookback_id

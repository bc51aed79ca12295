"""Duties: every obligation the policy (or an official) creates, as the record shows it.

Escalation owns the obligations. Each time one changes — created, delivered, acknowledged, done,
missed again, waived, no longer required — it publishes the duty's whole current state as a
`DutyUpdated` with a version, so the archive, intake and the console project it without any
ordering between events (a higher version wins). Who owes a duty discharges it with a
`DutyDischarged` (a school through intake, an official through the archive); escalation decides
what that changes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from shared.contracts.base import IncidentEvent, Strict
from shared.contracts.incident import LongText, Ref, ShortText
from shared.contracts.sealed import Sealed
from shared.subjects import DUTY_DISCHARGED, DUTY_UPDATED


class DutyState(StrEnum):
    open = "open"  # not done yet (a notice not yet delivered, a task not reported)
    delivered = "delivered"  # a notice delivered that its reader must still confirm
    failed = "failed"  # a notice that could not be delivered (still owed)
    done = "done"  # a notice delivered (no confirmation asked) or a task reported done
    acknowledged = "acknowledged"  # the reader confirmed receipt (or was told in person)
    waived = "waived"  # two bureau officials agreed it is not needed
    not_applicable = "not_applicable"  # the policy no longer requires it (the level was lowered, the case closed)

    @property
    def settled(self) -> bool:
        return self in (DutyState.done, DutyState.acknowledged, DutyState.waived, DutyState.not_applicable)


class Escalating(StrEnum):
    chain = "chain"  # each missed deadline tells the next contact in the policy's chain
    reminders = "reminders"  # the chain is used up: the last contact is reminded a bounded number of times
    digest = "digest"  # reminders used up: listed once a day to the bureau's duty room, nothing more per duty


class Duty(Strict):
    """A duty's whole current state; no names and no contact data (students by pseudonymous ref)."""

    obligation_id: uuid.UUID
    action_id: str
    label_zh: str = Field(description="What is owed, in Chinese, as the policy names it.")
    kind: str = Field(description="notice | task")
    role: str = Field(description="Who owes it: school, bureau, police, … or, for a notice, its reader's role.")
    student_ref: str | None = Field(default=None, description="For a per-student duty: the school's ref.")
    notification_id: uuid.UUID | None = Field(default=None, description="The notice that fulfils it.")
    ack_required: bool = False
    state: DutyState
    due_at: datetime = Field(description="The current deadline (moves on by a period after each miss).")
    first_due_at: datetime = Field(description="The original deadline.")
    missed: int = Field(default=0, ge=0, description="Deadlines missed so far (ever late when > 0).")
    escalating: Escalating = Escalating.chain
    settled_at: datetime | None = None
    settled_by: str | None = Field(default=None, description="An official's account, 'school:<id>', or 'system'.")
    how: str | None = Field(default=None, description="follow_up, in_person, phone, link, official_account, "
                            "police_received, delivered, waived, level_lowered, closed …")
    note: str | None = Field(default=None, description="No child's name. v1, and the archive's opened copy.")
    evidence_ref: str | None = None
    note_sealed: Sealed | None = Field(default=None, description="v2: the note as its writer sealed it for the "
                                       "archive (escalation carries it unread).")


def note_context(case_id: object) -> str:
    """A duty's note belongs to its case."""
    return f"duty-note:{case_id}"


def note_column(note: str | None, sealed: Sealed | None) -> str | None:
    """How escalation keeps a note it cannot read: the box's JSON (or an old note in clear)."""
    return sealed.model_dump_json() if sealed is not None else note


def note_from_column(value: str | None) -> tuple[str | None, Sealed | None]:
    if value is not None and value.startswith('{"v":'):
        return None, Sealed.model_validate_json(value)
    return value, None


class DutyUpdated(IncidentEvent):
    """`incident_id` is the case the duty belongs to (an incident, help request, hazard or look-back)."""

    event_type: ClassVar[str] = "DutyUpdated"
    subject: ClassVar[str] = DUTY_UPDATED

    school_id: str
    version: int = Field(ge=1, description="Higher wins: projections keep the newest they have seen.")
    duty: Duty


class DischargeHow(StrEnum):
    follow_up = "follow_up"  # a school reported a task done in a follow-up
    in_person = "in_person"  # a school told a family in person
    phone = "phone"  # a school told a family by phone
    official_account = "official_account"  # an official confirmed a notice from their account
    police_received = "police_received"  # the police recorded that they received the case


class DutyDischarged(IncidentEvent):
    """Someone who owes a duty says it is done. By `obligation_id` (one duty) or by `action_id` (and
    `student_ref`) as a follow-up names tasks. Escalation decides; the archive records it either way."""

    event_type: ClassVar[str] = "DutyDischarged"
    subject: ClassVar[str] = DUTY_DISCHARGED

    school_id: str
    obligation_id: uuid.UUID | None = None
    notification_id: uuid.UUID | None = None
    action_id: str | None = None
    student_ref: Ref | None = None
    how: DischargeHow
    by: ShortText = Field(description="An official's account, or 'school:<id>' with the teacher's role.")
    done_at: AwareDatetime
    note: LongText | None = Field(default=None, description="How it was done; no child's name (v1, and the "
                                  "archive's opened copy).")
    evidence_ref: ShortText | None = Field(default=None, description="Where the evidence is kept (a file ref).")
    note_sealed: Sealed | None = Field(default=None, description="v2: the note sealed for the archive.")

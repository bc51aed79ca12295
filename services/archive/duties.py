"""Duties as the archive shows them (pure): the projected row of a DutyUpdated, a duty's view with
"overdue now" and "ever late", the duty list's filter and cursor.

Overdue and ever late count from a duty's *original* deadline (`first_due_at`): the watchdog moves
`due_at` one period on after each miss, so a duty open since its first deadline stays overdue
however often it was escalated, until someone discharges it.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.archive.listing import decode_position, encode_position
from shared.contracts.duties import DutyState, DutyUpdated

SETTLED_STATES = tuple(s.value for s in DutyState if s.settled)
OPEN_STATES = tuple(s.value for s in DutyState if not s.settled)
# GET /v1/duties?state=…: "open" (not settled, the default), "settled", "all", or one exact state
STATE_CHOICES = ("open", "settled", "all", *(s.value for s in DutyState if s is not DutyState.open))


def duty_row(event: DutyUpdated, jurisdiction: str) -> dict[str, Any]:
    """The projection's row for this version; the note stays in the sealed entry (`note_event_id`)."""
    d = event.duty
    return {
        "obligation_id": d.obligation_id, "case_id": event.incident_id, "school_id": event.school_id,
        "jurisdiction": jurisdiction, "action_id": d.action_id, "label_zh": d.label_zh, "kind": d.kind,
        "role": d.role, "student_ref": d.student_ref, "notification_id": d.notification_id,
        "ack_required": d.ack_required, "state": d.state.value, "due_at": d.due_at, "first_due_at": d.first_due_at,
        "missed": d.missed, "escalating": d.escalating.value, "settled_at": d.settled_at,
        "settled_by": d.settled_by, "how": d.how, "note_event_id": event.event_id if d.note or d.note_sealed else None,
        "evidence_ref": d.evidence_ref, "version": event.version,
    }


def overdue(state: str, first_due_at: datetime, now: datetime) -> bool:
    """Open (not settled) and past its original deadline at `now`."""
    return state not in SETTLED_STATES and first_due_at <= now


def ever_late(missed: int, settled_at: datetime | None, first_due_at: datetime) -> bool:
    """A deadline was missed, or it was settled after its original deadline."""
    return missed > 0 or (settled_at is not None and settled_at > first_due_at)


class DutyView(BaseModel):
    """One duty: what is owed, by whom, by when, and how it was discharged. No names: students by ref."""

    obligation_id: uuid.UUID
    case_id: uuid.UUID
    case_ref: str | None = Field(default=None, description="The case's reference (AB-…, HZ-…, LB-…).")
    school_id: str
    action_id: str = Field(description="The policy's action id (or a built-in: send_follow_up, lookback_review, …).")
    label_zh: str
    kind: str = Field(description="notice | task")
    role: str = Field(description="Who owes it; for a notice, its reader's role.")
    student_ref: str | None
    notification_id: uuid.UUID | None = Field(description="The notice that fulfils it (officials acknowledge "
                                              "it with POST /v1/cases/{id}/acknowledgements).")
    ack_required: bool
    state: DutyState
    due_at: datetime = Field(description="The current deadline (one period on after each miss).")
    first_due_at: datetime = Field(description="The original deadline.")
    overdue: bool = Field(description="Open and past its original deadline now.")
    ever_late: bool = Field(description="A deadline was missed, or it was settled after its original deadline.")
    missed: int
    escalating: str = Field(description="chain | reminders | digest")
    settled_at: datetime | None
    settled_by: str | None = Field(description="An official's account, 'school:<id>[:<teacher's role>]', "
                                   "'link' or 'system'.")
    how: str | None
    has_note: bool = Field(description="A note was given; it is in the personal section (roles that see it).")
    evidence_ref: str | None
    version: int
    updated_at: datetime


def view_of(row: dict[str, Any], now: datetime) -> DutyView:
    fields = {k: v for k, v in row.items() if k in DutyView.model_fields}
    return DutyView(**fields, has_note=row.get("note_event_id") is not None,
                    overdue=overdue(row["state"], row["first_due_at"], now),
                    ever_late=ever_late(row["missed"], row["settled_at"], row["first_due_at"]))


class DutyPage(BaseModel):
    items: list[DutyView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; None on the last page.")


class DutyNote(BaseModel):
    """A duty's note (free text by a school or an official), for roles that see personal data."""

    obligation_id: uuid.UUID
    note: str


@dataclass(frozen=True)
class DutyFilter:
    school_id: str | None = None
    role: str | None = None
    action_id: str | None = None
    state: str = "open"
    overdue: bool | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None

    def states(self) -> list[str] | None:
        """The states asked for; None: every state."""
        match self.state:
            case "all":
                return None
            case "open":
                return list(OPEN_STATES)
            case "settled":
                return list(SETTLED_STATES)
            case exact:
                return [exact]

    def stated(self) -> dict[str, Any]:
        """The filters actually given, for the access log."""
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items()
                if v is not None}


@dataclass(frozen=True)
class DutyCursor:
    """Position after the last duty of a page: duties are listed by current deadline, then by id."""

    due_at: datetime
    obligation_id: uuid.UUID

    def encode(self) -> str:
        return encode_position(self.due_at, self.obligation_id)

    @staticmethod
    def decode(text: str) -> DutyCursor:
        """Raises ValueError for anything that is not a cursor this API gives out (CURSOR_PATTERN)."""
        return DutyCursor(*decode_position(text))

"""A school's duties at the door: intake keeps its own copy of each duty (from DutyUpdated) so that a
school's system can read what it owes with its API key, and marks a family told in person or by phone.

`school_duty` and `discharged_event` are pure; `DutyProjection` is intake's one consumer.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import asyncpg
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.intake import repository_duties
from services.intake.repository_duties import SETTLED, SchoolDuty
from shared.bus_seal import producer
from shared.consumer import Delivery
from shared.contracts import RecipientRole
from shared.contracts.base import derive_id
from shared.contracts.duties import DischargeHow, DutyDischarged, DutyState, DutyUpdated, note_context
from shared.contracts.incident import LongText, not_in_future
from shared.outbox import claim

FAMILY_ROLES = (RecipientRole.victim_guardian.value, RecipientRole.perpetrator_guardian.value)


def school_duty(event: DutyUpdated) -> SchoolDuty:
    d = event.duty
    return SchoolDuty(obligation_id=d.obligation_id, case_id=event.incident_id, school_id=event.school_id,
                      action_id=d.action_id, label_zh=d.label_zh, kind=d.kind, role=d.role, student_ref=d.student_ref,
                      notification_id=d.notification_id, state=d.state.value, due_at=d.due_at,
                      first_due_at=d.first_due_at, version=event.version)


def is_family_notice(duty: SchoolDuty) -> bool:
    return duty.kind == "notice" and duty.role in FAMILY_ROLES


class DutyProjection:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def on_duty_updated(self, event: DutyUpdated, _: Delivery) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if await claim(conn, str(event.event_id), event.subject):
                await repository_duties.upsert_duty(conn, school_duty(event))


class SchoolDutyView(BaseModel):
    """One duty of the school's cases: what, for which student (by the school's ref), by when, its state."""

    obligation_id: uuid.UUID
    case_id: uuid.UUID = Field(description="The incident (or help request, hazard, look-back) it belongs to.")
    action_id: str
    label_zh: str
    kind: str = Field(description="notice | task")
    role: str = Field(description="Who owes it; for a notice, its reader's role (victim_guardian, police, …).")
    student_ref: str | None
    notification_id: uuid.UUID | None
    state: DutyState
    due_at: datetime = Field(description="The current deadline.")
    first_due_at: datetime = Field(description="The original deadline.")
    overdue: bool = Field(description="Open and past its original deadline now.")


def view_of(duty: SchoolDuty, now: datetime) -> SchoolDutyView:
    return SchoolDutyView(obligation_id=duty.obligation_id, case_id=duty.case_id, action_id=duty.action_id,
                          label_zh=duty.label_zh, kind=duty.kind, role=duty.role, student_ref=duty.student_ref,
                          notification_id=duty.notification_id, state=DutyState(duty.state), due_at=duty.due_at,
                          first_due_at=duty.first_due_at,
                          overdue=duty.state not in SETTLED and duty.first_due_at <= now)


class SchoolDutyPage(BaseModel):
    items: list[SchoolDutyView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; None on the last page.")


class ToldHow(StrEnum):
    in_person = "in_person"
    phone = "phone"


class Discharge(BaseModel):
    """A family was told by the school itself: who (a role, not a name), how and when."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    how: ToldHow
    by: Annotated[str, StringConstraints(min_length=1, max_length=24)] = Field(
        description="The teacher's role, not a name.", examples=["班主任"])
    done_at: AwareDatetime
    note: LongText | None = Field(default=None, description="How the family was told; no other child's name.")

    @field_validator("done_at")
    @classmethod
    def _not_future(cls, v: datetime) -> datetime:
        return not_in_future(v)


def discharged_event(duty: SchoolDuty, school_id: str, body: Discharge, idempotency_key: str) -> DutyDischarged:
    """The same key always makes the same event (a retried POST is deduplicated everywhere)."""
    return DutyDischarged(
        event_id=derive_id("duty-discharged", school_id, idempotency_key), incident_id=duty.case_id,
        school_id=school_id, obligation_id=duty.obligation_id, notification_id=duty.notification_id,
        how=DischargeHow(body.how.value), by=f"school:{school_id}:{body.by}", done_at=body.done_at,
        schema_version=2, note_sealed=producer().seal(body.note, note_context(duty.case_id)) if body.note else None)


def encode_cursor(duty: SchoolDutyView) -> str:
    return base64.urlsafe_b64encode(f"{duty.due_at.isoformat()}|{duty.obligation_id}".encode()).decode()


def decode_cursor(text: str) -> tuple[datetime, uuid.UUID]:
    """Raises ValueError for anything that is not a cursor this API gave out."""
    try:
        at, _, oid = base64.urlsafe_b64decode(text.encode()).decode().partition("|")
        due_at, obligation_id = datetime.fromisoformat(at), uuid.UUID(oid)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("not a cursor from this API") from exc
    if due_at.tzinfo is None:
        raise ValueError("not a cursor from this API")
    return due_at, obligation_id

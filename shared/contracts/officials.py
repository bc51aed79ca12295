"""Officials' acts that change a case: approving a proposed change, completing a look-back."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from shared.contracts.base import Event, IncidentEvent
from shared.contracts.escalation import Level
from shared.contracts.sealed import SealedSections
from shared.contracts.text import FreeText
from shared.subjects import CHANGE_APPROVED, CHANGE_RESOLVED, LOOKBACK_COMPLETED


class ChangeApproved(IncidentEvent, SealedSections):
    """A bureau official approves a school's proposed lower level or closure (ChangeProposed).

    Escalation applies the change once a second, different bureau official has approved it.
    """

    event_type: ClassVar[str] = "ChangeApproved"
    subject: ClassVar[str] = CHANGE_APPROVED
    sealed_fields: ClassVar[tuple[str, ...]] = ("comment",)

    follow_up_id: uuid.UUID = Field(description="The follow-up whose proposal is approved.")
    change: Literal["lower", "closure"]
    approver: str = Field(description="The approving official's account id.")
    jurisdiction: str
    comment: FreeText | None = Field(default="", max_length=2000, description="Sealed for the archive from v2 on.")


class ChangeResolved(IncidentEvent):
    """Escalation's answer once enough bureau officials approved: the change applied, or refused and why."""

    event_type: ClassVar[str] = "ChangeResolved"
    subject: ClassVar[str] = CHANGE_RESOLVED

    follow_up_id: uuid.UUID
    change: Literal["lower", "closure"]
    outcome: Literal["applied", "refused"]
    approvers: list[str] = Field(description="The distinct bureau officials who approved, in order.")
    level_before: Level
    level_after: Level
    open_actions: list[str] = Field(default_factory=list, description="Why a closure was refused.")


class LookBackCompleted(Event, SealedSections):
    """The bureau reports a look-back review (回头看) of a school done: its obligation is met."""

    event_type: ClassVar[str] = "LookBackCompleted"
    subject: ClassVar[str] = LOOKBACK_COMPLETED
    sealed_fields: ClassVar[tuple[str, ...]] = ("findings",)

    lookback_id: uuid.UUID
    school_id: str
    by: str = Field(description="The reporting official's account id.")
    findings: FreeText | None = Field(default="", max_length=4000, description="The review's findings (no child's "
                                 "name); sealed for the archive from v2 on.")

    @property
    def case_id(self) -> uuid.UUID:
        return self.lookback_id

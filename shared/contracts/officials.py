"""Officials' acts that change a case: approving a proposed change, completing a look-back."""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import Field

from shared.contracts.base import IncidentEvent
from shared.subjects import CHANGE_APPROVED


class ChangeApproved(IncidentEvent):
    """A bureau official approves a school's proposed lower level or closure (ChangeProposed).

    Escalation applies the change once a second, different bureau official has approved it.
    """

    event_type: ClassVar[str] = "ChangeApproved"
    subject: ClassVar[str] = CHANGE_APPROVED

    follow_up_id: uuid.UUID = Field(description="The follow-up whose proposal is approved.")
    approver: str = Field(description="The approving official's account id.")
    jurisdiction: str
    comment: str = Field(default="", max_length=2000)

"""Emergency help requests (紧急求救): a student or parent asks for help through a school's access code.

The requester may stay anonymous. A help request is its own case; the school must answer it
or convert it into an incident (escalation watches that from issue 4 on).
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from shared.contracts.base import Event, Strict
from shared.contracts.incident import Email, LongText, Phone, ShortText
from shared.contracts.sealed import SealedSections
from shared.contracts.text import NO_CONTROLS
from shared.subjects import HELP_CONVERTED, HELP_MESSAGE_ADDED, HELP_REQUESTED, HELP_RESOLVED

AccessCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{6,16}$", to_upper=True)]
MessageText = Annotated[str, StringConstraints(min_length=1, max_length=2000), NO_CONTROLS]


class RequesterKind(StrEnum):
    student = "student"
    parent = "parent"


class Requester(Strict):
    kind: RequesterKind
    anonymous: bool = True
    name: ShortText | None = None
    grade: ShortText | None = None
    phone: Phone | None = None
    email: Email | None = None

    @model_validator(mode="after")
    def _anonymous_means_anonymous(self) -> Requester:
        if self.anonymous and (self.name or self.phone or self.email):
            raise PydanticCustomError("anonymous_identified", "an anonymous requester gives no name, phone or e-mail")
        if not self.anonymous and not self.name:
            raise PydanticCustomError("name_missing", "a requester who is not anonymous gives a name")
        return self


class HelpRequest(Strict):
    access_code: AccessCode = Field(description="The code the school publishes to its students and parents.")
    requester: Requester
    message: MessageText = Field(description="What is happening, in the requester's words.")
    urgent: bool = Field(default=False, description="In danger now.")


class HelpMessage(Strict):
    text: MessageText


class Author(StrEnum):
    requester = "requester"
    school = "school"


class HelpEvent(Event):
    help_id: uuid.UUID
    school_id: str

    @property
    def case_id(self) -> uuid.UUID:
        return self.help_id


class HelpRequested(HelpEvent, SealedSections):
    """Escalation needs the school, the code and urgency; who asked and what they wrote is for the archive
    (sealed for it from v2 on: `requester` and `message` are None on the bus)."""

    event_type: ClassVar[str] = "HelpRequested"
    subject: ClassVar[str] = HELP_REQUESTED
    sealed_fields: ClassVar[tuple[str, ...]] = ("requester", "message")

    case_code: str
    requester: Requester | None = None
    message: str | None = None
    urgent: bool


class HelpMessageAdded(HelpEvent, SealedSections):
    event_type: ClassVar[str] = "HelpMessageAdded"
    subject: ClassVar[str] = HELP_MESSAGE_ADDED
    sealed_fields: ClassVar[tuple[str, ...]] = ("text",)

    seq: int = Field(ge=2, description="1 is the request's own message.")
    author: Author
    text: str | None = Field(default=None, description="v1 and the archive's copy; sealed for the archive from v2.")


class HelpConverted(HelpEvent):
    """The school turned the help request into an incident report."""

    event_type: ClassVar[str] = "HelpConverted"
    subject: ClassVar[str] = HELP_CONVERTED

    incident_id: uuid.UUID


class HelpResolution(StrEnum):
    no_bullying = "no_bullying"  # looked into: not bullying (the reason says what was found)
    handled_otherwise = "handled_otherwise"  # a real problem, handled without an incident report (the reason says how)


class HelpResolved(HelpEvent, SealedSections):
    """The school closes a help request without converting it into an incident, and says why. The bureau
    sees the reason and may contest it (an official's act); replies alone never close a request."""

    event_type: ClassVar[str] = "HelpResolved"
    subject: ClassVar[str] = HELP_RESOLVED
    sealed_fields: ClassVar[tuple[str, ...]] = ("reason",)

    resolution: HelpResolution
    reason: LongText | None = Field(default=None, description="What the school found and did; no child's name "
                                    "(sealed for the archive from v2 on).")
    by: ShortText = Field(description="The teacher's role, e.g. 班主任 (not a name).")

"""The letter to every parent (致家长的一封信, work plan 二(一); issue 12 item 5).

Archive: the bureau writes a letter and a second bureau official approves it (`LetterApproved`).
Intake owns the schools' guardian rosters: it fans the letter out per school in batches of at most
`MAX_BATCH` recipients (`LetterBatchRequested`) and says what it could not reach (`LetterFannedOut`).
Notify sends each batch once per parent and reports counts per batch (`LetterBatchSent`) and each
parent's first "已阅" (`LetterRead`). Every event's case is the letter: its record is one chain.

A recipient is a pseudonymous key (an HMAC of the roster row at intake), a grade and its contact
routes sealed for notify (LETTER_CONTACT_KEY, shared/letter_routes.py): no contact is readable on the
bus, in JetStream's files or in the archive; counts, logs and subjects never hold one.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import Field

from shared.contracts.base import Event, Strict
from shared.contracts.text import FreeText
from shared.subjects import (
    LETTER_APPROVED,
    LETTER_BATCH_REQUESTED,
    LETTER_BATCH_SENT,
    LETTER_FANNED_OUT,
    LETTER_READ,
    LETTER_RECEIPTS,
    LETTER_WRONG_NUMBER,
)

MAX_BATCH = 500
Grade = str


class LetterAudience(Strict):
    """Empty lists mean everyone: every school of the jurisdiction, every grade."""

    school_ids: list[str] = Field(default_factory=list, max_length=2000)
    grades: list[Grade] = Field(default_factory=list, max_length=50,
                                description="As the schools' rosters write them, e.g. 七年级, 高一.")


class LetterEvent(Event):
    letter_id: uuid.UUID

    @property
    def case_id(self) -> uuid.UUID:
        return self.letter_id


class LetterApproved(LetterEvent):
    """A second bureau official approved the letter: intake fans it out now."""

    event_type: ClassVar[str] = "LetterApproved"
    subject: ClassVar[str] = LETTER_APPROVED

    jurisdiction: str
    title: FreeText = Field(min_length=1, max_length=60)
    body: FreeText = Field(min_length=1, max_length=20000)
    audience: LetterAudience
    created_by: str
    approved_by: str


class LetterRecipient(Strict):
    key: str = Field(min_length=8, max_length=64, description="Pseudonymous: the same parent, the same key.")
    grade: Grade
    sealed_routes: str = Field(min_length=16, max_length=4000, description="The parent's addresses in order (SMS "
                               "first, then e-mail), sealed for notify (shared/letter_routes.py).")


class LetterBatchRequested(LetterEvent):
    event_type: ClassVar[str] = "LetterBatchRequested"
    subject: ClassVar[str] = LETTER_BATCH_REQUESTED

    school_id: str
    batch_no: int = Field(ge=1)
    batches: int = Field(ge=1, description="How many batches this school's share has.")
    title: str
    body: str
    recipients: list[LetterRecipient] = Field(max_length=MAX_BATCH)


class SchoolShare(Strict):
    school_id: str
    recipients: int = Field(ge=0, description="Parents with a contact, in batches.")
    no_contact: int = Field(ge=0, description="Roster rows of the audience with neither phone nor e-mail.")
    merged: int = Field(default=0, ge=0, description="Rows whose parent the letter already reaches through "
                        "another row (a parent of two pupils gets one letter).")
    batches: int = Field(ge=0)
    has_roster: bool = True


class LetterFannedOut(LetterEvent):
    """What intake made of the letter: per school, how many will be sent and how many cannot be reached
    (a school without a roster is listed with has_roster false)."""

    event_type: ClassVar[str] = "LetterFannedOut"
    subject: ClassVar[str] = LETTER_FANNED_OUT

    schools: list[SchoolShare]


class LetterBatchSent(LetterEvent):
    """A batch is done: every recipient sent (a provider accepted) or failed (every address refused)."""

    event_type: ClassVar[str] = "LetterBatchSent"
    subject: ClassVar[str] = LETTER_BATCH_SENT

    school_id: str
    batch_no: int
    sent: int = Field(ge=0)
    failed: int = Field(ge=0)
    by_sms: int = Field(ge=0)
    by_email: int = Field(ge=0)


class LetterRead(LetterEvent):
    """A parent pressed "已阅" on the letter's page (once per parent: the event id derives from the key)."""

    event_type: ClassVar[str] = "LetterRead"
    subject: ClassVar[str] = LETTER_READ

    school_id: str
    recipient_key: str


class LetterWrongNumberReported(LetterEvent):
    """Whoever got the letter pressed "号码有误" on its page: the roster row's contact reached someone else.
    Intake flags the row for its school to correct; the archive counts it per school. Once per parent."""

    event_type: ClassVar[str] = "LetterWrongNumberReported"
    subject: ClassVar[str] = LETTER_WRONG_NUMBER

    school_id: str
    recipient_key: str


class LetterReceipts(LetterEvent):
    """SMS providers' delivery reports (回执) for one school's letters, counted per report push: how many
    handsets got it and how many the carrier gave up on. Each parent's report is counted once."""

    event_type: ClassVar[str] = "LetterReceipts"
    subject: ClassVar[str] = LETTER_RECEIPTS

    school_id: str
    delivered: int = Field(ge=0)
    undelivered: int = Field(ge=0)

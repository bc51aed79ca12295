"""Notification requests and their outcome.

A request carries the minimum its recipient may know: a guardian's request names only
that guardian's own child; officials' requests name no child at all.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from shared.contracts.base import IncidentEvent, Strict
from shared.contracts.escalation import Level, RecipientRole
from shared.contracts.incident import Category
from shared.contracts.sealed import Sealed, SealedSections
from shared.contracts.text import FreeText
from shared.subjects import (
    FAMILY_MESSAGE_ADDED,
    NOTIFICATION_ACKNOWLEDGED,
    NOTIFICATION_DELIVERED,
    NOTIFICATION_FAILED,
    NOTIFICATION_RECEIVED,
    NOTIFICATION_REQUESTED,
)


class ChannelKind(StrEnum):
    email = "email"
    sms = "sms"
    wecom = "wecom"          # a WeCom (企业微信) group robot: the key of its webhook
    dingtalk = "dingtalk"    # a DingTalk (钉钉) robot: its access token
    webhook = "webhook"      # a generic HTTPS endpoint of the recipient's own system


class Address(Strict):
    kind: ChannelKind
    to: str = Field(min_length=1, max_length=500)


class Recipient(Strict):
    """Who a notice is for. An office or official is named by its directory entry (`entry`): notify resolves
    the addresses, robot keys and secrets from its own copy of the directory, so none travels in an event. A
    parent is a box sealed for notify (`sealed`). `addresses`/`email` remain for requests made before that
    (and a family escalation kept in clear before the upgrade)."""

    role: RecipientRole
    display_name: str = Field(description="How the message addresses the reader.")
    email: str | None = Field(default=None, description="None when no address is known: notify reports a failure.")
    addresses: list[Address] = Field(default_factory=list,
                                     description="In the recipient's order of preference; notify falls over in order.")
    entry: str | None = Field(default=None, max_length=200, description="The directory entry notify reaches: an "
                              "official role (bureau, police…), school:<id>, counsellor:<id> or contact:<name>.")
    immediate_first: bool = Field(default=False, description="Of the entry's channels, those seen within minutes "
                                  "first, e-mail last (an urgent help request to the duty room).")
    sealed: Sealed | None = Field(default=None, description="A guardian: the box intake sealed for notify (name, "
                                  "relation, phone, e-mail, child's name), carried forward unread by escalation.")

    def routes(self) -> list[Address]:
        """Where to try, in order, from the event itself; the plain e-mail address of older requests counts as one
        address. A recipient named by `entry` has none here: notify resolves it."""
        if self.addresses:
            return list(self.addresses)
        return [Address(kind=ChannelKind.email, to=self.email)] if self.email else []

    @property
    def reachable(self) -> bool:
        """Whether the request names any way to reach its reader (the record's `has_address`)."""
        return self.entry is not None or self.sealed is not None or bool(self.routes())


class NoticeTask(Strict):
    zh: str
    due_at: datetime


class DigestItem(Strict):
    """One overdue duty in the bureau duty room's daily digest: a case reference, never a name."""

    case_ref: str
    school_name: str
    zh: str = Field(description="What is owed.")
    role: str = Field(description="Who owes it.")
    first_due_at: datetime
    missed: int


class NoticeFacts(Strict):
    """What a notice may say. `child_name` is set only in a guardian's own request."""

    case_ref: str
    school_id: str
    school_name: str
    level: Level | None = Field(default=None, description="None for a case that is not an incident (a help request).")
    reasons_zh: list[str]
    category: Category | None = None
    case_kind_zh: str | None = Field(default=None, description="What kind of case when not an incident.")
    occurred_at: datetime
    child_name: str | None = None
    due_at: datetime | None = Field(default=None, description="By when the reader must act (or confirm).")
    ack_required: bool = False
    tasks: list[NoticeTask] = Field(default_factory=list, description="The school's required tasks.")
    missed: NoticeTask | None = Field(default=None, description="For a deadline_missed notice: what was not done.")
    update_zh: str | None = Field(default=None, description="For a family update: what happened for their child "
                                  "(e.g. 已安排心理辅导), never another child's name.")
    digest: list[DigestItem] = Field(default_factory=list, description="For the daily overdue digest.")
    digest_more: int = Field(default=0, ge=0, description="Overdue duties beyond those listed in `digest` "
                             "(the digest lists the oldest; the rest are in the archive's duty list).")


class Priority(StrEnum):
    """A notice's lane: an urgent one never waits behind a standard one, nor either behind bulk letters."""

    urgent = "urgent"  # the police, the stability office, urgent help, deadlines under an hour
    standard = "standard"
    bulk = "bulk"  # letters to every parent


class NotificationRequested(IncidentEvent):
    event_type: ClassVar[str] = "NotificationRequested"
    subject: ClassVar[str] = NOTIFICATION_REQUESTED

    notification_id: uuid.UUID
    purpose: str = "first_notice"
    recipient: Recipient
    facts: NoticeFacts
    priority: Priority = Priority.standard

    @property
    def routing_subject(self) -> str:
        return f"{NOTIFICATION_REQUESTED}.{self.priority.value}"

    @classmethod
    def consumed_on(cls) -> str:
        return f"{NOTIFICATION_REQUESTED}.>"


class _Outcome(IncidentEvent):
    notification_id: uuid.UUID
    role: RecipientRole
    channel: str
    attempts: int


class NotificationDelivered(_Outcome):
    """A provider accepted the message (sent); a provider's receipt later may confirm the handset got it."""

    event_type: ClassVar[str] = "NotificationDelivered"
    subject: ClassVar[str] = NOTIFICATION_DELIVERED

    provider: str | None = None
    fallbacks: list[str] = Field(default_factory=list,
                                 description="What failed before, as kind/provider:code (e.g. sms/aliyun:http_500).")


class NotificationFailed(_Outcome):
    event_type: ClassVar[str] = "NotificationFailed"
    subject: ClassVar[str] = NOTIFICATION_FAILED

    reason: str = Field(description="A code, never contact data: no_contact, all_refused (retries_exhausted: before"
                        " transient failures waited instead).")
    tried: list[str] = Field(default_factory=list, description="Every attempt as kind/provider:code.")


class NotificationAcknowledged(IncidentEvent):
    """The reader confirmed receipt through the signed link in the notice (once)."""

    event_type: ClassVar[str] = "NotificationAcknowledged"
    subject: ClassVar[str] = NOTIFICATION_ACKNOWLEDGED

    notification_id: uuid.UUID
    role: RecipientRole
    by: str | None = Field(default=None, description="An official's account when confirmed from their archive "
                           "account; None: through the notice's own link.")


class NotificationReceived(IncidentEvent):
    """The provider's delivery receipt (回执): the handset got the SMS, or the carrier gave up."""

    event_type: ClassVar[str] = "NotificationReceived"
    subject: ClassVar[str] = NOTIFICATION_RECEIVED

    notification_id: uuid.UUID
    role: RecipientRole
    provider: str
    delivered: bool
    code: str = Field(description="The carrier's status code, e.g. DELIVERED, MK:0001.")


class FamilyMessageAdded(IncidentEvent, SealedSections):
    """A family writes to the school about its case through its notice's link page. The archive keeps the
    text sealed and shows it to the school (and the bureau); it names no other child."""

    event_type: ClassVar[str] = "FamilyMessageAdded"
    subject: ClassVar[str] = FAMILY_MESSAGE_ADDED
    sealed_fields: ClassVar[tuple[str, ...]] = ("text",)

    notification_id: uuid.UUID = Field(description="The notice whose link the family used.")
    role: RecipientRole
    text: FreeText | None = Field(default=None, min_length=1, max_length=2000, description="Sealed for the archive "
                             "from v2 on (None on the bus).")

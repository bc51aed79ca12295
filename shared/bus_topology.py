"""Who may do what on the bus: each service's durable consumers and the subjects it publishes.

One table, read three ways: `antibully nats-setup` creates every stream and every consumer from it
(with admin rights: services create nothing), `antibully nats-auth` turns it into the server's
authorization block (a user per service, by nkey, with publish and subscribe allow-lists, everything
else denied), and `DurableConsumers.subscribe` refuses a durable that is not in it (so the table
cannot drift from what the services run). Streams come from `shared.subjects.STREAMS`.

What a service's NATS user may do, exactly (see docs/security.md, "NATS: accounts, permissions, TLS"):
- publish its own events' subjects and its dead letters (`ab.dlq.<service>.>`);
- for each of its own durables: `$JS.API.CONSUMER.INFO` and `.MSG.NEXT` (fetch), and `$JS.ACK.…`
  (ack, nak with delay, in_progress heartbeats);
- `$JS.API.STREAM.INFO` of the streams it reads or writes (the start-up check, the dead-letter gauge);
- subscribe only below its own inbox prefix (`_INBOX_<service>`), where replies and fetched messages come.
No stream or consumer create, update, delete or purge; no other service's consumer; no `ab.>`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nats.js import api

from shared.contracts.acts import LookBackRequested, OfficialActed
from shared.contracts.base import Event
from shared.contracts.campaign import CampaignRecordFiled, CampaignStarted
from shared.contracts.disclosure import DisclosureChanged
from shared.contracts.duties import DutyDischarged, DutyUpdated
from shared.contracts.escalation import ChangeProposed, DeadlineMissed, EscalationDecided, LookBackScheduled
from shared.contracts.follow_up import FollowUpReported
from shared.contracts.hazard import HazardProgressed, HazardReported
from shared.contracts.help import HelpConverted, HelpMessageAdded, HelpRequested, HelpResolved
from shared.contracts.incident import IncidentReported
from shared.contracts.letters import (
    LetterApproved,
    LetterBatchRequested,
    LetterBatchSent,
    LetterFannedOut,
    LetterRead,
    LetterReceipts,
    LetterWrongNumberReported,
)
from shared.contracts.notification import (
    FamilyMessageAdded,
    NotificationAcknowledged,
    NotificationDelivered,
    NotificationFailed,
    NotificationReceived,
    NotificationRequested,
    Priority,
)
from shared.contracts.officials import ChangeApproved, ChangeResolved, LookBackCompleted
from shared.contracts.registry import EVENTS
from shared.subjects import DEAD_LETTER_PREFIX, DEAD_LETTERS, STREAMS, stream_for

SERVICES: tuple[str, ...] = ("intake", "escalation", "notify", "archive")
ADMIN = "admin"  # the setup step and the operator's CLI: every right, never given to a service
ROLES: tuple[str, ...] = (*SERVICES, ADMIN)
MAX_ACK_PENDING = 256


def durable_name(service: str, model: type[Event], lane: str | None = None) -> str:
    return f"{service}-{model.event_type}" + (f"-{lane}" if lane else "")


def filter_subject(model: type[Event], lane: str | None = None) -> str:
    return f"{model.subject}.{lane}" if lane else model.consumed_on()


def inbox_prefix(role: str) -> str:
    """Where a role's replies and fetched messages arrive: its own, so no one reads another's."""
    return "_INBOX" if role == ADMIN else f"_INBOX_{role}"


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer: created by the setup step, only bound to by its service."""

    service: str
    stream: str
    durable: str
    filter_subject: str

    def config(self, ack_wait_s: float) -> api.ConsumerConfig:
        return api.ConsumerConfig(
            durable_name=self.durable,
            filter_subject=self.filter_subject,
            ack_policy=api.AckPolicy.EXPLICIT,
            # Unbounded on the server: a transient failure is retried for as long as it takes, and the
            # poison budget is counted by the service, where transient can be told from permanent.
            max_deliver=-1,
            ack_wait=ack_wait_s,
            max_ack_pending=MAX_ACK_PENDING,
        )


@dataclass(frozen=True)
class Grants:
    """A service's part of the bus: the events it publishes and the events (lanes) it consumes."""

    service: str
    publishes: tuple[type[Event], ...]
    consumes: tuple[tuple[type[Event], str | None], ...]

    @property
    def consumers(self) -> tuple[ConsumerSpec, ...]:
        return tuple(ConsumerSpec(self.service, stream_for(model.subject).name, durable_name(self.service, model, lane),
                                  filter_subject(model, lane)) for model, lane in self.consumes)

    @property
    def publish_subjects(self) -> tuple[str, ...]:
        """Its events' subjects (all lanes of a laned type), then its dead letters."""
        own = dict.fromkeys(model.consumed_on() for model in self.publishes)
        return (*own, f"{DEAD_LETTER_PREFIX}.{self.service}.>")

    @property
    def streams(self) -> tuple[str, ...]:
        """The streams it reads or writes, the dead letters included: the only ones it may look up."""
        names = {stream_for(model.subject).name for model in self.publishes} | {c.stream for c in self.consumers}
        return tuple(s.name for s in STREAMS if s.name in names | {DEAD_LETTERS.name})

    def permissions(self) -> dict[str, Any]:
        """The server's allow-lists for this service's user (anything not allowed is denied)."""
        publish = [*self.publish_subjects, *(f"$JS.API.STREAM.INFO.{s}" for s in self.streams)]
        for c in self.consumers:
            publish += [f"$JS.API.CONSUMER.INFO.{c.stream}.{c.durable}",
                        f"$JS.API.CONSUMER.MSG.NEXT.{c.stream}.{c.durable}",
                        f"$JS.ACK.{c.stream}.{c.durable}.>"]
        return {"publish": {"allow": publish}, "subscribe": {"allow": [f"{inbox_prefix(self.service)}.>"]}}


_LANES = tuple(p.value for p in Priority)

TOPOLOGY: dict[str, Grants] = {g.service: g for g in (
    Grants(
        "intake",
        publishes=(IncidentReported, FollowUpReported, HazardReported, HazardProgressed, HelpRequested,
                   HelpMessageAdded, HelpConverted, HelpResolved, DutyDischarged, LetterBatchRequested,
                   LetterFannedOut),
        consumes=((DutyUpdated, None), (OfficialActed, None), (LetterApproved, None),
                  (LetterWrongNumberReported, None), (HazardReported, None)),
    ),
    Grants(
        "escalation",
        publishes=(EscalationDecided, DeadlineMissed, ChangeProposed, LookBackScheduled, ChangeResolved,
                   NotificationRequested, DutyUpdated),
        consumes=tuple((m, None) for m in (
            IncidentReported, FollowUpReported, NotificationDelivered, NotificationFailed, NotificationAcknowledged,
            NotificationReceived, HelpRequested, HelpConverted, HelpResolved, HazardReported, HazardProgressed,
            ChangeApproved, LookBackCompleted, OfficialActed, DutyDischarged, LookBackRequested, CampaignStarted,
            CampaignRecordFiled)),
    ),
    Grants(
        "notify",
        publishes=(NotificationDelivered, NotificationFailed, NotificationAcknowledged, NotificationReceived,
                   FamilyMessageAdded, LetterBatchSent, LetterRead, LetterWrongNumberReported, LetterReceipts),
        consumes=(*((NotificationRequested, lane) for lane in _LANES), (LetterBatchRequested, None)),
    ),
    Grants(
        "archive",
        # and, for an official acting from their account, events another service publishes too: a notice
        # confirmed (notify: by link), a duty discharged and a hazard filed (intake: by a school's system;
        # the archive: the rectifications the bureau's screening of a school orders, issue 16)
        publishes=(OfficialActed, LookBackRequested, ChangeApproved, LookBackCompleted, LetterApproved,
                   NotificationAcknowledged, DutyDischarged, CampaignRecordFiled, CampaignStarted,
                   DisclosureChanged, HazardReported),
        consumes=tuple((m, None) for m in EVENTS),  # the record of everything
    ),
)}


def consumers() -> tuple[ConsumerSpec, ...]:
    return tuple(c for g in TOPOLOGY.values() for c in g.consumers)


def authorization(public_keys: dict[str, str], passwords: dict[str, str] | None = None) -> dict[str, Any]:
    """The server's `authorization` block: one nkey user per role (`public_keys`: role -> public key);
    the services with their allow-lists, the admin unrestricted. `passwords` (user -> password): extra
    unrestricted users, for the test servers' raw clients only."""
    missing = [r for r in ROLES if r not in public_keys]
    if missing:
        raise ValueError(f"no NATS key for {', '.join(missing)}")
    users: list[dict[str, Any]] = [{"nkey": public_keys[ADMIN]}]
    users += [{"nkey": public_keys[s], "permissions": TOPOLOGY[s].permissions()} for s in SERVICES]
    users += [{"user": u, "password": p} for u, p in (passwords or {}).items()]
    return {"users": users}


def authorization_conf(public_keys: dict[str, str], passwords: dict[str, str] | None = None) -> str:
    """The include file deploy/nats.conf reads (`nats-auth.conf`); JSON is valid NATS configuration."""
    body = json.dumps(authorization(public_keys, passwords), indent=2)
    return ("# Generated by `antibully nats-auth` from shared/bus_topology.py: do not edit.\n"
            f"authorization: {body}\n")

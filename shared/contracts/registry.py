"""Every event type on the bus, found once: a new event is a class in one of these modules, nothing more.

The archive subscribes to all of them; tests check that every type has a subject, a stream and a
frozen sample payload (tests/fixtures/payloads_v1/).
"""

from __future__ import annotations

from shared.contracts import (
    acts,
    campaign,
    disclosure,
    duties,
    escalation,
    follow_up,
    hazard,
    help,
    incident,
    letters,
    notification,
    officials,
)
from shared.contracts.base import Event

MODULES = (incident, follow_up, hazard, help, escalation, duties, notification, officials, acts, letters,
           campaign, disclosure)


def _concrete(cls: type[Event]) -> list[type[Event]]:
    out: list[type[Event]] = []
    for sub in cls.__subclasses__():
        if "event_type" in sub.__dict__:
            out.append(sub)
        out.extend(_concrete(sub))
    return out


EVENTS: tuple[type[Event], ...] = tuple(sorted(set(_concrete(Event)), key=lambda e: e.event_type))
BY_TYPE: dict[str, type[Event]] = {e.event_type: e for e in EVENTS}
assert len(BY_TYPE) == len(EVENTS), "two event classes share an event_type"
assert {e.__module__ for e in EVENTS} <= {m.__name__ for m in MODULES}, "an event module is missing from MODULES"

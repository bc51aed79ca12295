"""A notice's lane (pure): who must act within the hour goes first, whatever else is queued.

Urgent: the police and the stability office (公安、维稳), an urgent help request, and any notice
whose reader must act or confirm within the hour. Standard: everything else escalation sends.
Bulk (letters to every parent) is set where letters are made, never here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from shared.contracts import NotificationRequested, RecipientRole
from shared.contracts.base import Event
from shared.contracts.notification import Priority

URGENT_ROLES = frozenset({RecipientRole.police, RecipientRole.stability_office})
URGENT_PURPOSES = frozenset({"help_urgent"})  # urgent_help.PURPOSE: the duty room's "in danger now" notice
URGENT_WITHIN = timedelta(hours=1)


def priority_of(req: NotificationRequested, now: datetime) -> Priority:
    """The lane for one notice; `bulk` is kept (it is only ever set on purpose)."""
    if req.priority == Priority.bulk:
        return Priority.bulk
    due_at = req.facts.due_at
    if (req.recipient.role in URGENT_ROLES or req.purpose in URGENT_PURPOSES
            or (due_at is not None and due_at - now <= URGENT_WITHIN)):
        return Priority.urgent
    return Priority.standard


def prioritised(events: Iterable[Event], now: datetime) -> list[Event]:
    """The events with every notice on its lane; other events unchanged."""
    out: list[Event] = []
    for event in events:
        if isinstance(event, NotificationRequested):
            lane = priority_of(event, now)
            if lane != event.priority:
                event = event.model_copy(update={"priority": lane})
        out.append(event)
    return out

"""Escalation's enqueue: every notice it sends leaves on the lane the priority rule gives it.

One place for every notice escalation makes (incidents, help, acts, watchdog, digests), so a new
kind of notice cannot forget its lane.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.escalation.priority import prioritised
from shared.contracts.base import Event
from shared.db import Conn
from shared.outbox import enqueue as enqueue_events


async def enqueue(conn: Conn, *events: Event) -> None:
    await enqueue_events(conn, *prioritised(events, datetime.now(UTC)))

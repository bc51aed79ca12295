"""Escalation's subscriber logic: translate, decide, record and enqueue in one transaction."""

from __future__ import annotations

import asyncpg

from services.escalation import repository
from services.escalation.directory import Directory
from services.escalation.domain import decide
from services.escalation.notices import plan
from shared.bus import Delivery
from shared.contracts import IncidentReported
from shared.outbox import OutboxRelay, claim, enqueue


class EscalationHandlers:
    def __init__(self, pool: asyncpg.Pool, relay: OutboxRelay, directory: Directory) -> None:
        self.pool = pool
        self.relay = relay
        self.directory = directory

    async def on_incident_reported(self, event: IncidentReported, _: Delivery) -> None:
        decided, requests = plan(event, decide(event.report.indicators), self.directory)
        async with self.pool.acquire() as conn, conn.transaction():
            if await claim(conn, str(event.event_id), event.subject):
                await repository.save_decision(conn, decided)
                await enqueue(conn, decided, *requests)
        self.relay.kick()

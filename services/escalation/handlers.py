"""Escalation's subscriber logic: translate, decide, record and enqueue in one transaction."""

from __future__ import annotations

import asyncpg

from services.escalation import repository
from services.escalation.directory import Directory
from services.escalation.domain import decide
from services.escalation.notices import plan
from services.escalation.policy_store import PolicyStore
from shared.bus import Delivery
from shared.contracts import IncidentReported
from shared.outbox import OutboxRelay, claim, enqueue


class EscalationHandlers:
    def __init__(self, pool: asyncpg.Pool, relay: OutboxRelay, directory: Directory, policies: PolicyStore) -> None:
        self.pool = pool
        self.relay = relay
        self.directory = directory
        self.policies = policies

    async def on_incident_reported(self, event: IncidentReported, _: Delivery) -> None:
        decision = decide(event.report, self.policies.current(), reported_at=event.occurred_at)
        decided, requests = plan(event, decision, self.directory)
        async with self.pool.acquire() as conn, conn.transaction():
            if await claim(conn, str(event.event_id), event.subject):
                await repository.save_decision(conn, decided)
                await enqueue(conn, decided, *requests)
        self.relay.kick()

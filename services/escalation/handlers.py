"""Escalation's subscriber logic: translate, decide, record and enqueue in one transaction."""

from __future__ import annotations

import asyncpg

from services.escalation import repository
from services.escalation.directory import Directory
from services.escalation.domain import decide
from services.escalation.notices import plan
from services.escalation.obligations import obligations_for
from services.escalation.policy_store import PolicyStore
from shared.bus import Delivery
from shared.contracts import IncidentReported, NotificationDelivered, NotificationFailed
from shared.contracts.base import Event
from shared.contracts.follow_up import FollowUpReported
from shared.outbox import OutboxRelay, claim, enqueue


class EscalationHandlers:
    def __init__(self, pool: asyncpg.Pool, relay: OutboxRelay, directory: Directory, policies: PolicyStore) -> None:
        self.pool = pool
        self.relay = relay
        self.directory = directory
        self.policies = policies

    async def on_incident_reported(self, event: IncidentReported, _: Delivery) -> None:
        policy = self.policies.current()
        decision = decide(event.report, policy, reported_at=event.occurred_at)
        decided, requests = plan(event, decision, self.directory)
        official_facts = requests[0].facts.model_copy(
            update={"child_name": None, "due_at": None, "ack_required": False, "tasks": []})
        async with self.pool.acquire() as conn, conn.transaction():
            if await claim(conn, str(event.event_id), event.subject):
                await repository.save_decision(conn, decided)
                await repository.save_facts(conn, event.incident_id, official_facts)
                await repository.save_obligations(conn, obligations_for(event, decision, requests, policy))
                await enqueue(conn, decided, *requests)
        self.relay.kick()

    async def on_notification_outcome(self, event: Event, _: Delivery) -> None:
        """A notice delivered (or finally failed) moves its obligation on; the watchdog sees the rest."""
        assert isinstance(event, NotificationDelivered | NotificationFailed)
        async with self.pool.acquire() as conn, conn.transaction():
            if await claim(conn, str(event.event_id), event.subject):
                await repository.notice_outcome(conn, event.notification_id,
                                                delivered=isinstance(event, NotificationDelivered))

    async def on_follow_up(self, event: FollowUpReported, _: Delivery) -> None:
        """Tasks a follow-up reports as done: counselling per victim, a sanction, the warning talk."""
        f = event.follow_up
        async with self.pool.acquire() as conn, conn.transaction():
            if not await claim(conn, str(event.event_id), event.subject):
                return
            for c in f.counselling:
                await repository.tasks_done(conn, event.incident_id, "counselling", c.student_ref)
            if f.sanctions:
                await repository.tasks_done(conn, event.incident_id, "disciplinary_sanction")
            if f.measures_taken:
                await repository.tasks_done(conn, event.incident_id, "criticism_and_warning_talk")

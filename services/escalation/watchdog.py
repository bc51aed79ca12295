"""The deadline watchdog: every action not done in time fires DeadlineMissed once per period,
tells the next contact in the policy's chain, and gets its next deadline — a bounded number of
times (obligations.plan_miss); then the duty moves to the duty room's daily digest (daily_digest.py),
which the watchdog's loop sends too.

All state is in PostgreSQL: a restart loses nothing, and replicas never fire the same miss
twice (the overdue rows are locked with SKIP LOCKED and advanced in the same transaction).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime

import asyncpg
from prometheus_client import CollectorRegistry, Counter

from services.escalation import repository
from services.escalation.campaign_duties import for_campaign
from services.escalation.daily_digest import DailyDigest
from services.escalation.duties import label_zh, publish
from services.escalation.obligations import Miss, plan_miss
from services.escalation.outbox import enqueue
from services.escalation.policy_store import PolicyStore
from services.escalation.repository import Obligation
from shared.contracts import (
    DeadlineMissed,
    NoticeFacts,
    NotificationRequested,
    Recipient,
    RecipientRole,
)
from shared.contracts.base import derive_id, utcnow
from shared.contracts.notification import NoticeTask
from shared.directory import Directory
from shared.health import Dependencies
from shared.outbox import OutboxRelay
from shared.tasks import every

log = logging.getLogger("antibully.escalation.watchdog")



class Watchdog:
    def __init__(self, pool: asyncpg.Pool, relay: OutboxRelay, directory: Directory, policies: PolicyStore,
                 registry: CollectorRegistry, deps: Dependencies, clock: Callable[[], datetime] = utcnow,
                 interval_s: float = 5.0) -> None:
        self.pool = pool
        self.relay = relay
        self.directory = directory
        self.policies = policies
        self.clock = clock
        self.interval_s = interval_s
        self.missed = Counter("antibully_deadlines_missed", "Required actions not done in time",
                              ["action", "step"], registry=registry)
        self.digest = DailyDigest(pool, relay, directory, policies, registry)
        self.loop = every("deadline-watchdog", interval_s, self._drain, deps)

    async def _drain(self) -> None:
        while await self.tick() > 0:
            pass
        async with self.pool.acquire() as conn, conn.transaction():
            if await publish(conn, self.policies.current()):  # whatever a crash left unpublished
                self.relay.kick()
        await self.digest.run(self.clock())

    async def tick(self, now: datetime | None = None) -> int:
        """Handle every obligation overdue at `now` (a batch); returns how many fired."""
        now = now or self.clock()
        reminders = self.policies.current().timing.reminders_after_chain
        async with self.pool.acquire() as conn, conn.transaction():
            overdue = await repository.overdue(conn, now)
            facts: dict[uuid.UUID, NoticeFacts | None] = {}
            for ob in overdue:
                if ob.incident_id not in facts:
                    facts[ob.incident_id] = await repository.case_facts(conn, ob.incident_id)
                miss = plan_miss(ob, now, reminders)
                notice = self._notice(ob, miss, facts[ob.incident_id])
                await repository.missed(conn, ob.obligation_id, miss.step, miss.next_due, miss.escalating.value)
                await enqueue(conn, self._event(ob, miss, notice), *([notice] if notice else []))
                self.missed.labels(ob.action_id, str(min(miss.step, 5))).inc()
                log.warning("DEADLINE MISSED: %s of incident %s (%s, step %d) → %s", ob.action_id, ob.incident_id,
                            ob.state, miss.step, miss.target or "the daily digest")
            await publish(conn, self.policies.current())
        if overdue:
            self.relay.kick()
        return len(overdue)

    def _recipient(self, ob: Obligation, target: str) -> Recipient:
        role = RecipientRole(target) if target in RecipientRole.__members__ else RecipientRole.official
        return self.directory.recipient(target, ob.school_id, role) or Recipient(role=role, display_name=target)

    def _notice(self, ob: Obligation, miss: Miss, facts: NoticeFacts | None) -> NotificationRequested | None:
        if facts is None or miss.target is None:
            return None  # no facts to tell; or the duty moves to the digest: nobody is told of it alone
        what = label_zh(ob.action_id, self.policies.current(), ob.label_zh)
        notification_id = derive_id("deadline-missed-notice", ob.obligation_id, miss.step)
        # the one who owes it is reminded; anyone up the chain is asked to see to it
        purpose, facts = for_campaign("deadline_reminder" if miss.target == ob.role else "deadline_missed", facts,
                                      ob.role)
        return NotificationRequested(
            event_id=notification_id, incident_id=ob.incident_id, notification_id=notification_id, purpose=purpose,
            recipient=self._recipient(ob, miss.target),
            facts=facts.model_copy(update={
                "missed": NoticeTask(zh=what, due_at=ob.due_at),
                "due_at": miss.next_due, "ack_required": False, "tasks": [], "child_name": None}),
        )

    def _event(self, ob: Obligation, miss: Miss, notice: NotificationRequested | None) -> DeadlineMissed:
        return DeadlineMissed(
            event_id=derive_id("deadline-missed", ob.obligation_id, miss.step), incident_id=ob.incident_id,
            obligation_id=ob.obligation_id, action_id=ob.action_id, role=RecipientRole(ob.role), state=ob.state,
            due_at=ob.due_at, step=miss.step,
            escalated_to=notice.recipient.display_name if notice else miss.target or self._digest_label(),
            notification_id=notice.notification_id if notice else None,
        )

    def _digest_label(self) -> str:
        """Where a duty goes once its reminders are used up: the record says so when it moves."""
        return f"{self.directory.officials.bureau.name}（每日逾期汇总）"

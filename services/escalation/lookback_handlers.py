"""Escalation's subscriber for a look-back the bureau requested by hand (LookBackRequested).

Scheduled exactly like one a first incident triggers (the review duty, LookBackScheduled, the bureau's
notice), under the request's own id: the same request twice (a double click, a re-imported row, a
redelivery) is one look-back. A request is the bureau's explicit wish, so the policy's window (at most
one per school per `lookback_window`) does not hold it back; the archive reports duplicates to the
bureau when it asks.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from services.escalation import repository
from services.escalation.lookback import schedule_requested
from services.escalation.outbox import enqueue
from services.escalation.policy_store import PolicyStore
from shared.consumer import Delivery
from shared.contracts.acts import LookBackRequested
from shared.db import Conn
from shared.directory import Directory
from shared.outbox import OutboxRelay, claim


class LookBackHandling:
    """Mixed into EscalationHandlers, whose transaction (`_work`) publishes every duty it changed."""

    relay: OutboxRelay
    directory: Directory
    policies: PolicyStore

    def _work(self) -> AbstractAsyncContextManager[Conn]:
        raise NotImplementedError

    async def on_lookback_requested(self, event: LookBackRequested, _: Delivery) -> None:
        scheduled, review, facts, notice = schedule_requested(event, self.policies.current(), self.directory)
        async with self._work() as conn:
            if await claim(conn, str(event.event_id), event.subject):
                # serialised with a first incident's look-back of the same school (repository.lookback_since)
                await repository.lookback_since(conn, event.school_id, event.occurred_at)
                if not await repository.has_obligation(conn, event.lookback_id, review.action_id):
                    await repository.save_facts(conn, event.lookback_id, facts)
                    await repository.save_obligations(conn, [review])
                    await enqueue(conn, scheduled, notice)
        self.relay.kick()

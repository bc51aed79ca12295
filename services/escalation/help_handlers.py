"""Escalation's subscribers for help requests: the answer duty and, for an urgent request, the duty room.

A school's plain reply does not meet the answer duty (it is only a message): the duty is met by a
conversion into an incident or by a resolution that gives a reason, which the bureau sees and may
contest. A contest reopens the duty (the bureau's act); a later resolution or conversion meets it again.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from services.escalation import repository
from services.escalation.help_watch import ANSWER, answer_obligation
from services.escalation.outbox import enqueue
from services.escalation.policy_store import PolicyStore
from services.escalation.urgent_help import duty_room_notice
from shared.consumer import Delivery
from shared.contracts.base import Event
from shared.contracts.help import HelpConverted, HelpRequested, HelpResolved
from shared.db import Conn
from shared.directory import Directory
from shared.failures import NotYet
from shared.outbox import OutboxRelay, claim


class HelpHandling:
    """Mixed into EscalationHandlers, whose transaction (`_work`) publishes every duty it changed."""

    relay: OutboxRelay
    directory: Directory
    policies: PolicyStore

    def _work(self) -> AbstractAsyncContextManager[Conn]:
        raise NotImplementedError

    async def on_help_requested(self, event: HelpRequested, _: Delivery) -> None:
        """The school is told now and must answer by the policy's deadline; an urgent request also reaches
        the bureau's duty room at once, which must confirm it. The watchdog sees to the rest."""
        policy = self.policies.current()
        obligation, facts, notice = answer_obligation(event, policy, self.directory)
        urgent = duty_room_notice(event, facts.model_copy(update={"due_at": None}), policy, self.directory)
        async with self._work() as conn:
            if await claim(conn, str(event.event_id), event.subject):
                await repository.save_facts(conn, event.help_id, facts.model_copy(update={"due_at": None}))
                await repository.save_obligations(conn, [obligation, *([urgent[0]] if urgent else [])])
                await enqueue(conn, notice, *([urgent[1]] if urgent else []))
        self.relay.kick()

    async def on_help_settled(self, event: Event, _: Delivery) -> None:
        """A conversion into an incident, or a resolution with a reason, meets the answer duty."""
        assert isinstance(event, HelpConverted | HelpResolved)
        how = "converted" if isinstance(event, HelpConverted) else "resolved"
        note = event.resolution.value if isinstance(event, HelpResolved) else None  # the reason stays in the record
        async with self._work() as conn:
            if await claim(conn, str(event.event_id), event.subject):
                if not await repository.has_obligation(conn, event.help_id, ANSWER):
                    raise HelpNotSeenYet(str(event.help_id))
                await repository.tasks_done(conn, event.help_id, ANSWER, by="school", how=how, note=note)


class HelpNotSeenYet(NotYet):
    """The help request's own event has not been handled yet (another consumer): wait, never dead-letter."""

    def __init__(self, help_id: str) -> None:
        super().__init__(None, f"help request {help_id} not handled yet")

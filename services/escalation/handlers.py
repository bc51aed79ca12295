"""Escalation's subscriber logic: translate, decide, record and enqueue in one transaction."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from services.escalation import repository
from services.escalation.approvals import resolution_notices, resolve
from services.escalation.campaign_handlers import CampaignHandling
from services.escalation.discharge import discharged, follow_up_tasks, lowered
from services.escalation.domain import decide
from services.escalation.duties import publish
from services.escalation.families import Families
from services.escalation.family_updates import News
from services.escalation.hazard_watch import RECTIFY, rectify_obligation
from services.escalation.help_handlers import HelpHandling
from services.escalation.lookback import LOOKBACK, schedule_lookback
from services.escalation.lookback_handlers import LookBackHandling
from services.escalation.notices import family_refs, plan, plan_raise
from services.escalation.obligations import FOLLOW_UP, CaseRef, follow_up_due, obligations_for
from services.escalation.outbox import enqueue
from services.escalation.persons import repeat_indicators, with_earlier_cases
from services.escalation.policy_store import PolicyStore
from services.escalation.pseudonyms import Pseudonyms
from services.escalation.raise_level import proposed_changes, raise_on_follow_up
from shared.consumer import Delivery
from shared.contracts import (
    ChangeProposed,
    IncidentReported,
    Indicators,
    NotificationAcknowledged,
    NotificationDelivered,
    NotificationFailed,
)
from shared.contracts.base import Event, derive_id
from shared.contracts.duties import DutyDischarged
from shared.contracts.follow_up import FollowUpReported
from shared.contracts.hazard import HazardProgressed, HazardReported
from shared.contracts.notification import NotificationReceived
from shared.contracts.officials import ChangeApproved, ChangeResolved, LookBackCompleted
from shared.db import Conn
from shared.directory import Directory
from shared.failures import NotYet
from shared.outbox import OutboxRelay, claim

log = logging.getLogger("antibully.escalation")


class EscalationHandlers(HelpHandling, LookBackHandling, CampaignHandling):
    def __init__(self, pool: asyncpg.Pool, relay: OutboxRelay, directory: Directory, policies: PolicyStore,
                 pseudonyms: Pseudonyms | None, families: Families | None = None) -> None:
        self.pool = pool
        self.relay = relay
        self.directory = directory
        self.policies = policies
        self.pseudonyms = pseudonyms
        self.families = families or Families(None, pseudonyms)

    @asynccontextmanager
    async def _work(self) -> AsyncIterator[Conn]:
        """One transaction; before it commits, every duty it changed is published (DutyUpdated)."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn
            await publish(conn, self.policies.current())

    def _students(self, school_id: str, refs_roles: list[tuple[str, str]]) -> list[tuple[bytes, str]]:
        if self.pseudonyms is None:
            return []
        return [(self.pseudonyms.of(school_id, ref), role) for ref, role in refs_roles]

    async def on_incident_reported(self, event: IncidentReported, _: Delivery) -> None:
        policy = self.policies.current()
        report = event.facts  # the rules' facts only: names, contacts and free text are sealed for others
        students = self._students(event.school_id, [(s.ref, s.role.value) for s in report.students])
        # across schools: intake's pseudonym of the national student number, where the school gave one
        students += [(bytes.fromhex(s.person_key), s.role.value) for s in report.students if s.person_key]
        perpetrators = [p for p, role in students if role == "perpetrator"]
        earlier = await repository.earlier_cases(self.pool, perpetrators, event.incident_id,
                                                 ["perpetrator", "involved"]) if perpetrators else []
        decision = decide(report, policy, reported_at=event.occurred_at, earlier_cases=tuple(earlier))
        decided, requests = plan(event, decision, self.directory)
        official_facts = requests[0].facts.model_copy(
            update={"child_name": None, "due_at": None, "ack_required": False, "tasks": []})
        async with self._work() as conn:
            if await claim(conn, str(event.event_id), event.subject):
                await repository.save_decision(conn, decided)
                await repository.save_facts(conn, event.incident_id, official_facts)
                await repository.remember_students(conn, event.incident_id, official_facts.case_ref, event.school_id,
                                                   event.occurred_at, students)
                if not await repository.lookback_since(conn, event.school_id,
                                                       event.occurred_at - policy.timing.lookback_window):
                    scheduled, review, review_facts, review_notice = schedule_lookback(event, policy, self.directory)
                    await repository.save_facts(conn, scheduled.lookback_id, review_facts)
                    await repository.save_obligations(conn, [review])
                    await enqueue(conn, scheduled, review_notice)
                case = CaseRef(event.incident_id, event.school_id, event.occurred_at)
                await self.families.remember(conn, case, report.students)
                await repository.save_obligations(conn, [
                    *obligations_for(case, decision, requests, policy, family_refs(event, decision, self.directory)),
                    follow_up_due(case, policy)])
                await enqueue(conn, decided, *requests)
        self.relay.kick()

    async def on_notification_outcome(self, event: Event, _: Delivery) -> None:
        """A notice delivered (or finally failed) moves its obligation on; the watchdog sees the rest."""
        assert isinstance(event, NotificationDelivered | NotificationFailed)
        async with self._work() as conn:
            if await claim(conn, str(event.event_id), event.subject):
                await repository.notice_outcome(conn, event.notification_id,
                                                delivered=isinstance(event, NotificationDelivered))

    async def on_received(self, event: NotificationReceived, _: Delivery) -> None:
        """An SMS the carrier could not deliver leaves its duty undone: the watchdog chases it up the chain."""
        if event.delivered:
            return
        async with self._work() as conn:
            if await claim(conn, str(event.event_id), event.subject):
                await repository.notice_undelivered(conn, event.notification_id)
        log.warning("notification %s undelivered (%s): its duty is open again", event.notification_id, event.code)

    async def on_acknowledged(self, event: NotificationAcknowledged, _: Delivery) -> None:
        """The reader confirmed (through the link, or an official from their account): the notice's
        obligation is met, whatever its delivery state said."""
        async with self._work() as conn:
            if await claim(conn, str(event.event_id), event.subject):
                await repository.notice_acknowledged(conn, event.notification_id, by=event.by or "link",
                                                     how="official_account" if event.by else "link")

    async def on_discharged(self, event: DutyDischarged, _: Delivery) -> None:
        """Someone who owes a duty says it is done (discharge.py decides what that changes)."""
        async with self._work() as conn:
            if await claim(conn, str(event.event_id), event.subject):
                await discharged(conn, event)

    async def on_follow_up(self, event: FollowUpReported, _: Delivery) -> None:
        """Tasks it reports done are done; worse indicators raise the level at once."""
        f = event.facts
        async with self._work() as conn:
            if not await claim(conn, str(event.event_id), event.subject):
                return
            current = await repository.in_force(conn, event.incident_id)
            if current is None:
                # The report's own consumer has not decided yet (another consumer, no ordering between them).
                raise CaseNotSeenYet(str(event.incident_id))
            # this follow-up is the one owed; the next is owed one period from now (closure comes with approval)
            await repository.tasks_done(conn, event.incident_id, FOLLOW_UP)
            policy = self.policies.current()
            case = CaseRef(event.incident_id, event.school_id, event.occurred_at)
            await repository.save_obligations(conn, [follow_up_due(case, policy, after=event.follow_up_id)])
            await follow_up_tasks(conn, event)
            earlier = await self.families.follow_up(conn, event, current, policy)
            await self.families.measures(conn, event, current.facts, policy)
            for change, level in proposed_changes(current.level, f.indicators, f.propose_closure, policy):
                proposed = ChangeProposed(
                    event_id=derive_id("change-proposed", event.follow_up_id, change), incident_id=event.incident_id,
                    school_id=event.school_id, follow_up_id=event.follow_up_id, change=change,
                    level_in_force=current.level, proposed_level=level,
                    open_actions=await repository.open_actions(conn, event.incident_id))
                await repository.save_proposal(conn, proposed)
                await enqueue(conn, proposed)
                log.warning("incident %s: %s proposed; awaiting a second bureau official's approval",
                            event.incident_id, change)
            indicators = repeat_indicators(f.indicators, earlier)  # a newly found perpetrator may be a repeat
            if indicators is not None:
                await self._raise(conn, event, case, indicators, earlier)
        self.relay.kick()

    async def _raise(self, conn: Conn, event: FollowUpReported, case: CaseRef, indicators: Indicators,
                     earlier: tuple[str, ...]) -> None:
        """Worse indicators raise the level at once: the new duties, who must newly act, both families."""
        policy = self.policies.current()
        current = await repository.in_force(conn, event.incident_id)  # with the students just added
        if current is None or current.facts is None:
            return
        raised = raise_on_follow_up(current.level, indicators, policy, current.victims, current.required,
                                    current.flags)
        if raised is None:
            return
        raised = with_earlier_cases(raised, earlier)
        decided, requests = plan_raise(event, raised, current.facts, self.directory)
        await repository.raise_level(conn, decided)
        facts = current.facts.model_copy(update={"level": raised.level, "reasons_zh": [r.zh for r in raised.reasons]})
        await repository.save_facts(conn, event.incident_id, facts)
        await repository.save_obligations(conn, obligations_for(case, raised, requests, policy))
        await enqueue(conn, decided, *requests)
        await self.families.tell(conn, case, facts, News.level_raised, policy, raised.level)

    async def on_change_approved(self, event: ChangeApproved, _: Delivery) -> None:
        """Count a bureau official's approval; once enough different officials agree, apply or refuse."""
        async with self._work() as conn:
            if not await claim(conn, str(event.event_id), event.subject):
                return
            proposal = await repository.pending_proposal(conn, event.follow_up_id, event.change)
            current = await repository.in_force(conn, event.incident_id)
            if proposal is None or current is None:
                # unknown, already resolved, or the proposal's own follow-up not handled yet: the archive
                # keeps the approval either way; a resolved proposal needs no more
                if current is None:
                    raise CaseNotSeenYet(str(event.incident_id))
                return
            approvers = await repository.approve(conn, event.follow_up_id, event.change, event.approver)
            resolution = resolve(proposal, current.level, approvers,
                                 await repository.open_actions(conn, event.incident_id),
                                 self.policies.current().timing.approvals_required)
            if resolution is None:
                return
            resolved = ChangeResolved(
                event_id=derive_id("change-resolved", event.follow_up_id, event.change),
                incident_id=event.incident_id, follow_up_id=event.follow_up_id, change=proposal.change,
                outcome=resolution.outcome, approvers=approvers, level_before=current.level,
                level_after=resolution.level_after, open_actions=list(resolution.open_actions))
            await repository.resolve_proposal(conn, resolved)
            if resolved.change == "lower" and resolved.outcome == "applied":
                await lowered(conn, event.incident_id, resolved.level_after, current.flags, self.policies.current())
            notices = (resolution_notices(resolved, current.facts, self.policies.current(), self.directory)
                       if current.facts else [])
            await enqueue(conn, resolved, *notices)
            if resolved.change == "closure" and resolved.outcome == "applied":
                await self.families.closed(conn, event.incident_id, current.facts, event.occurred_at,
                                           self.policies.current())
            log.warning("incident %s: %s %s after %d approvals", event.incident_id, event.change,
                        resolution.outcome, len(approvers))
        self.relay.kick()

    async def on_lookback_completed(self, event: LookBackCompleted, _: Delivery) -> None:
        async with self._work() as conn:
            if await claim(conn, str(event.event_id), event.subject):
                if not await repository.has_obligation(conn, event.lookback_id, LOOKBACK):
                    raise CaseNotSeenYet(str(event.lookback_id))
                await repository.tasks_done(conn, event.lookback_id, LOOKBACK)

    async def on_hazard_reported(self, event: HazardReported, _: Delivery) -> None:
        """The rectification plan's due date becomes a deadline the watchdog holds the school to."""
        obligation, facts = rectify_obligation(event, self.directory)
        finding = event.facts
        students = self._students(event.school_id, [(s.ref, s.role.value) for s in finding.students])
        students += [(bytes.fromhex(s.person_key), s.role.value) for s in finding.students if s.person_key]
        async with self._work() as conn:
            if await claim(conn, str(event.event_id), event.subject):
                await repository.save_facts(conn, event.hazard_id, facts)
                await repository.save_obligations(conn, [obligation])
                await repository.remember_students(conn, event.hazard_id, facts.case_ref, event.school_id,
                                                   finding.found_at, students)

    async def on_hazard_progressed(self, event: HazardProgressed, _: Delivery) -> None:
        if not event.facts.completed:
            return
        async with self._work() as conn:
            if await claim(conn, str(event.event_id), event.subject):
                if not await repository.has_obligation(conn, event.hazard_id, RECTIFY):
                    raise CaseNotSeenYet(str(event.hazard_id))
                await repository.tasks_done(conn, event.hazard_id, RECTIFY)


class CaseNotSeenYet(NotYet):
    """Events of one case reach different consumers in any order: this one waits (never dead-lettered)
    until the case itself (the report's decision, the help request, the hazard) has been handled."""

    def __init__(self, case_id: str) -> None:
        super().__init__(None, f"case {case_id} not handled yet")

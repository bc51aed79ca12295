"""Escalation applies an official's act (`OfficialActed`): translate, plan (acts.py, pure), record and enqueue
in one transaction, with every duty it changed published (DutyUpdated) before it commits.

Acts that change nothing owed (a note, a police case number, a 训诫, an outcome) are only recorded by the
archive; so is an act that no longer applies (a raise to a level not higher, any steering of a closed case).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from services.escalation import repository
from services.escalation import repository_acts as acts_db
from services.escalation.acts import (
    CONTESTED_ZH,
    Planned,
    agreed,
    plan_contest,
    plan_follow_up_order,
    plan_raise,
    plan_told,
    plan_transfer,
    raise_to,
)
from services.escalation.approvals import Proposal, resolution_notices, resolve
from services.escalation.duties import publish
from services.escalation.families import Families
from services.escalation.family_updates import News
from services.escalation.handlers import CaseNotSeenYet
from services.escalation.help_watch import ANSWER
from services.escalation.obligations import CaseRef
from services.escalation.outbox import enqueue
from services.escalation.policy import Policy
from services.escalation.policy_store import PolicyStore
from services.escalation.repository_acts import CaseNow
from shared.consumer import Delivery
from shared.contracts import RecipientRole
from shared.contracts.acts import Act, OfficialActed
from shared.contracts.base import derive_id
from shared.contracts.officials import ChangeResolved
from shared.db import Conn
from shared.directory import Directory
from shared.outbox import OutboxRelay, claim

log = logging.getLogger("antibully.escalation.acts")

RECORD_ONLY = frozenset({Act.add_note, Act.police_case_number, Act.police_warning_given, Act.police_outcome})


class OfficialActs:
    def __init__(self, pool: asyncpg.Pool, relay: OutboxRelay, directory: Directory, policies: PolicyStore,
                 families: Families) -> None:
        self.families = families
        self.pool = pool
        self.relay = relay
        self.directory = directory
        self.policies = policies

    @asynccontextmanager
    async def _work(self) -> AsyncIterator[Conn]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn
            await publish(conn, self.policies.current())

    async def on_official_acted(self, event: OfficialActed, _: Delivery) -> None:
        if event.act in RECORD_ONLY:
            return
        async with self._work() as conn:
            if not await claim(conn, str(event.event_id), event.subject):
                return
            await acts_db.lock_case(conn, event.incident_id)
            outcome = await self._apply(conn, event, self.policies.current())
        self.relay.kick()
        log.info("official act %s on case %s: %s", event.act.value, event.incident_id, outcome)

    async def _apply(self, conn: Conn, act: OfficialActed, policy: Policy) -> str:
        if act.act is Act.waive_duty:
            return await self._waive(conn, act, policy)
        if act.act is Act.contest_help_resolution:
            return await self._contest(conn, act, policy)
        case = await acts_db.case_now(conn, act.incident_id)
        if case is None:
            raise CaseNotSeenYet(str(act.incident_id))  # the report's decision is not made yet
        if act.act is Act.police_received:
            return f"{await acts_db.police_received(conn, act.incident_id, act.official)} police notice(s) received"
        if act.act is Act.police_transferred:
            return await self._save(conn, plan_transfer(act, case.facts, self.directory))
        if case.closed:
            return "the case is closed: recorded only"
        match act.act:
            case Act.raise_level:
                decision = raise_to(act, case, policy)
                if decision is None:
                    return "not higher than the level in force: recorded only"
                decided, planned = plan_raise(act, decision, case, policy, self.directory)
                await repository.raise_level(conn, decided)
                facts = case.facts.model_copy(update={"level": decision.level,
                                                      "reasons_zh": [r.zh for r in decision.reasons]}) \
                    if case.facts else None
                if facts is not None:
                    await repository.save_facts(conn, act.incident_id, facts)
                await self.families.tell(conn, CaseRef(act.incident_id, act.school_id, act.occurred_at), facts,
                                         News.level_raised, policy, decision.level)
                return await self._save(conn, planned)
            case Act.refer_to_police:
                return await self._save(conn, plan_told(act, case, RecipientRole.police, "referred_to_police",
                                                        "教育局决定移送公安机关", policy, self.directory))
            case Act.flag_public_attention:
                await acts_db.add_flag(conn, act.incident_id, "wide_public_attention")
                return await self._save(conn, plan_told(
                    act, case, RecipientRole.stability_office, "public_attention_flagged",
                    "教育局认定该事件社会关注度高、影响较大", policy, self.directory))
            case Act.order_follow_up:
                return await self._save(conn, plan_follow_up_order(act, case, self.directory))
            case Act.close_case:
                return await self._close(conn, act, case, policy)
        return "recorded only"

    async def _save(self, conn: Conn, planned: Planned) -> str:
        await repository.save_obligations(conn, planned.obligations)
        if planned.events:
            await enqueue(conn, *planned.events)
        return f"{len(planned.obligations)} duties, {len(planned.events)} events"

    async def _waive(self, conn: Conn, act: OfficialActed, policy: Policy) -> str:
        """Waived once enough different bureau officials asked for the same duty (not if settled meanwhile)."""
        assert act.obligation_id is not None
        duty = await acts_db.duty(conn, act.obligation_id)
        if duty is None or duty.incident_id != act.incident_id:
            return "no such duty of this case: recorded only"
        approvers = await repository.approve(conn, act.obligation_id, "waive", act.official)
        by = agreed(approvers, policy.timing.approvals_required)
        if by is None:
            return f"waiver: {len(set(approvers))} of {policy.timing.approvals_required} officials"
        return "waived" if await acts_db.waive(conn, act.obligation_id, by) else "already settled"

    async def _close(self, conn: Conn, act: OfficialActed, case: CaseNow, policy: Policy) -> str:
        """Like a school's proposed closure: enough different officials, then closed only with every duty
        settled (else refused, naming the open ones); the school and the bureau hear the outcome."""
        round_id = await acts_db.closure_round(conn, act.incident_id, case.level)
        approvers = await repository.approve(conn, round_id, "closure", act.official)
        resolution = resolve(Proposal("closure", case.level, None), case.level, approvers,
                             await repository.open_actions(conn, act.incident_id), policy.timing.approvals_required)
        if resolution is None:
            return f"closure: {len(set(approvers))} of {policy.timing.approvals_required} officials"
        resolved = ChangeResolved(
            event_id=derive_id("change-resolved", round_id, "closure"), incident_id=act.incident_id,
            follow_up_id=round_id, change="closure", outcome=resolution.outcome,
            approvers=approvers, level_before=case.level, level_after=resolution.level_after,
            open_actions=list(resolution.open_actions))
        await repository.resolve_proposal(conn, resolved)
        notices = resolution_notices(resolved, case.facts, policy, self.directory) if case.facts else []
        await enqueue(conn, resolved, *notices)
        if resolved.outcome == "applied":
            await self.families.closed(conn, act.incident_id, case.facts, act.occurred_at, policy)
        return f"closure {resolution.outcome}"

    async def _contest(self, conn: Conn, act: OfficialActed, policy: Policy) -> str:
        """The help request must be answered again: its answer duty reopens and the school is told."""
        duty = await acts_db.duty_of(conn, act.incident_id, ANSWER)
        if duty is None:
            raise CaseNotSeenYet(str(act.incident_id))  # the help request itself is not handled yet
        if not duty.settled:
            return "the answer is still owed: recorded only"
        due_at, notices = plan_contest(act, await repository.case_facts(conn, act.incident_id), policy,
                                       self.directory)
        await acts_db.reopen(conn, duty.obligation_id, due_at, CONTESTED_ZH)
        if notices:
            await enqueue(conn, *notices)
        return "the answer is owed again"

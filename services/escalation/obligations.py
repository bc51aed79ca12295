"""Required actions as obligations, and what the watchdog does when one is overdue (pure)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from services.escalation.domain import Decision, RequiredAction
from services.escalation.policy import ActionKind, Policy
from services.escalation.repository import Obligation
from shared.contracts import NotificationRequested
from shared.contracts.base import derive_id
from shared.contracts.duties import Escalating


def obligations_for(
    case: CaseRef, decision: Decision, requests: list[NotificationRequested], policy: Policy,
    refs: Mapping[uuid.UUID, str] | None = None,
) -> list[Obligation]:
    """One obligation per notice sent (each guardian, each official) and per task (per victim where asked).
    `refs`: the student a family notice is about (notices.family_refs), kept on its obligation."""
    out: list[Obligation] = []
    for action in decision.actions:
        policy_action = policy.action(action.action_id)
        chain = list(policy_action.escalate_to) if policy_action else []
        if action.kind == ActionKind.notice:
            out.extend(_obligation(case, action, chain, r.notification_id, r.notification_id,
                                   (refs or {}).get(r.notification_id))
                       for r in requests if r.recipient.role == action.role)
        else:
            task_id = derive_id("obligation", case.incident_id, action.action_id, action.student_ref,
                                decision.policy_version)
            out.append(_obligation(case, action, chain, task_id, None))
    return out


@dataclass(frozen=True)
class CaseRef:
    incident_id: uuid.UUID
    school_id: str
    accepted_at: datetime  # deadlines run from intake's acceptance of the report (or follow-up)


def _obligation(case: CaseRef, action: RequiredAction, chain: list[str], obligation_id: uuid.UUID,
                notification_id: uuid.UUID | None, student_ref: str | None = None) -> Obligation:
    return Obligation(
        obligation_id=obligation_id, incident_id=case.incident_id, school_id=case.school_id,
        action_id=action.action_id, kind=action.kind.value, role=action.role.value,
        student_ref=student_ref or action.student_ref,
        notification_id=notification_id, ack_required=action.ack, state="pending",
        due_at=case.accepted_at + action.due_in, period=action.due_in, step=0, escalate_to=chain)


@dataclass(frozen=True)
class Miss:
    step: int
    escalating: Escalating
    target: str | None  # who is told now: an official role, "school" or a contact id; None: the digest
    next_due: datetime


def plan_miss(ob: Obligation, now: datetime, reminders_after_chain: int) -> Miss:
    """Bounded escalation. Step n (1..len(chain)) tells the n-th name of the action's chain (without a
    chain, its owner is reminded); then `reminders_after_chain` more steps remind the chain's last name;
    the step after that tells nobody: the duty moves to the duty room's daily digest. Its deadline stays
    the one it missed (it stays overdue, and the watchdog leaves digest duties alone); before that, the
    next deadline is one period on."""
    step = ob.step + 1
    chain = ob.escalate_to or [ob.role]
    if step <= len(chain):
        return Miss(step, Escalating.chain, chain[step - 1], now + ob.period)
    if step <= len(chain) + reminders_after_chain:
        return Miss(step, Escalating.reminders, chain[-1], now + ob.period)
    return Miss(step, Escalating.digest, None, ob.due_at)


def missed_notification_id(ob: Obligation, step: int) -> str:
    return str(derive_id("deadline-missed-notice", ob.obligation_id, step))


FOLLOW_UP = "send_follow_up"


def follow_up_due(case: CaseRef, policy: Policy, after: uuid.UUID | None = None) -> Obligation:
    """An open incident owes a follow-up (续报) every `timing.follow_up_every`; silence goes to the bureau.
    `after` names the follow-up this one counts from (None: from the report)."""
    every = policy.timing.follow_up_every
    return Obligation(
        obligation_id=derive_id("obligation", case.incident_id, FOLLOW_UP, after), incident_id=case.incident_id,
        school_id=case.school_id, action_id=FOLLOW_UP, kind="task", role="school", student_ref=None,
        notification_id=None, ack_required=False, state="pending", due_at=case.accepted_at + every, period=every,
        step=0, escalate_to=["school", "bureau"])

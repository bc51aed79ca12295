"""What an official's act changes in what is owed (pure): new duties, the notices that tell who owes them,
and when a four-eyes act takes effect.

Only what is not owed already is added: a referral to a case whose level already required the police,
or public attention on a case already reported to the stability office, adds nothing. Guardians are
not told from here (escalation keeps no family contacts; their updates follow the family rules).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.escalation.domain import Decision, RequiredAction
from services.escalation.obligations import FOLLOW_UP, CaseRef, obligations_for
from services.escalation.policy import ActionKind, Policy, PolicyAction
from services.escalation.repository import Obligation
from services.escalation.repository_acts import CaseNow
from shared.contracts import (
    ActionDue,
    EscalationDecided,
    NoticeFacts,
    NotificationRequested,
    Reason,
    RecipientRole,
    RecipientSummary,
)
from shared.contracts.acts import OfficialActed
from shared.contracts.base import Event, derive_id
from shared.contracts.notification import NoticeTask, Recipient
from shared.directory import Directory

FAMILIES = (RecipientRole.victim_guardian, RecipientRole.perpetrator_guardian)
CONTESTED_ZH = "教育局不认可学校对该求救的处理结论，请重新核查并答复"
ORDERED_ZH = "按教育局要求续报处置进展"
SHORTEST_REPEAT = timedelta(hours=1)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Planned:
    """Duties to add and events to publish (in this order)."""

    obligations: list[Obligation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def _notice(act: OfficialActed, facts: NoticeFacts, role: RecipientRole, purpose: str, directory: Directory,
            *, key: object, **update: object) -> NotificationRequested:
    recipient = directory.recipient(role.value, facts.school_id, role) or Recipient(role=role, display_name=role.value)
    nid = derive_id("notification", act.incident_id, role.value, purpose, key)
    told = facts.model_copy(update={"due_at": None, "ack_required": False, "tasks": [], "missed": None,
                                    "child_name": None, **update})
    return NotificationRequested(event_id=nid, incident_id=act.incident_id, notification_id=nid, purpose=purpose,
                                 recipient=recipient, facts=told)


def _duty(act: OfficialActed, school_id: str, action_id: str, kind: str, role: RecipientRole, due_at: datetime,
          period: timedelta, chain: list[str], *, ack: bool = False,
          notice: NotificationRequested | None = None) -> Obligation:
    oid = notice.notification_id if notice else derive_id("obligation", act.incident_id, action_id, act.event_id)
    return Obligation(obligation_id=oid, incident_id=act.incident_id, school_id=school_id, action_id=action_id,
                      kind=kind, role=role.value, student_ref=None,
                      notification_id=notice.notification_id if notice else None, ack_required=ack, state="pending",
                      due_at=due_at, period=period, step=0, escalate_to=chain)


# --- raise_level -------------------------------------------------------------------------------------------

def raise_to(act: OfficialActed, case: CaseNow, policy: Policy) -> Decision | None:
    """The raised decision with only the newly required actions (the rule of a follow-up's raise), or None
    when the level asked for is not higher than the one in force (the act is recorded, nothing changes)."""
    if act.level is None or act.level.rank <= case.level.rank:
        return None
    raised = Reason(code="raised_by_official",
                    zh=f"教育局将认定等级由“{policy.level(case.level).zh}”提升为“{policy.level(act.level).zh}”",
                    en=f"raised by the bureau from {case.level.value} to {act.level.value}")
    actions: list[RequiredAction] = []
    for action in policy.actions:
        due_in = action.deadline.get(act.level)
        if due_in is None or (action.only_with_flag and action.only_with_flag not in case.flags):
            continue
        for ref in (case.victims if action.per_victim else [None]):
            if (action.id, ref) not in case.required:
                actions.append(RequiredAction(action.id, action.kind, action.role, action.zh, due_in, action.ack, ref))
    return Decision(act.level, case.flags, (*case.reasons, raised), tuple(actions), policy.version)


def plan_raise(act: OfficialActed, decision: Decision, case: CaseNow, policy: Policy,
               directory: Directory) -> tuple[EscalationDecided, Planned]:
    """The raised decision; whoever newly has to act (a notice or tasks) is told once."""
    accepted = act.occurred_at
    requests: list[NotificationRequested] = []
    if case.facts is not None:
        facts = case.facts.model_copy(update={"level": decision.level,
                                              "reasons_zh": [r.zh for r in decision.reasons]})
        notices = {a.role: a for a in reversed(decision.actions) if a.kind == ActionKind.notice}
        tasks: dict[RecipientRole, list[NoticeTask]] = {}
        for a in decision.actions:
            if a.kind == ActionKind.task:
                tasks.setdefault(a.role, []).append(NoticeTask(zh=a.zh, due_at=accepted + a.due_in))
        for role in dict.fromkeys([*notices, *tasks]):
            if role in FAMILIES:
                continue
            notice = notices.get(role)
            requests.append(_notice(act, facts, role, "level_raised_by_official", directory, key=act.event_id,
                                    due_at=accepted + notice.due_in if notice else None,
                                    ack_required=notice.ack if notice else False, tasks=tasks.get(role, []),
                                    update_zh=decision.reasons[-1].zh))
    decided = EscalationDecided(
        event_id=derive_id("escalation-raised-by-official", act.event_id), incident_id=act.incident_id,
        school_id=act.school_id, level=decision.level, public_attention_wide=decision.public_attention_wide,
        reasons=list(decision.reasons),
        recipients=[RecipientSummary(notification_id=r.notification_id, role=r.recipient.role) for r in requests],
        policy_version=decision.policy_version, flags=list(decision.flags),
        actions=[ActionDue(action_id=a.action_id, kind=a.kind.value, role=a.role, due_at=accepted + a.due_in,
                           ack_required=a.ack, student_ref=a.student_ref) for a in decision.actions])
    case_ref = CaseRef(act.incident_id, act.school_id, accepted)
    return decided, Planned(obligations_for(case_ref, decision, requests, policy), [decided, *requests])


# --- refer_to_police, flag_public_attention -------------------------------------------------------------------

def policy_notice(policy: Policy, role: RecipientRole) -> PolicyAction | None:
    """The policy's notice to this role (contact_police, report_to_stability_office in the default policy)."""
    return next((a for a in policy.actions if a.kind == ActionKind.notice and a.role == role), None)


def plan_told(act: OfficialActed, case: CaseNow, role: RecipientRole, purpose: str, zh: str, policy: Policy,
              directory: Directory) -> Planned:
    """The role's notice and its duty, as the policy defines them, even where the level did not require
    them (its deadline at the level in force, else the action's shortest). Nothing when already owed."""
    action = policy_notice(policy, role)
    if case.facts is None or (action is not None and (action.id, None) in case.required):
        return Planned()
    if action is None:  # a policy without such a notice: the role is still told, without a duty
        return Planned(events=[_notice(act, case.facts, role, purpose, directory, key="by-official", update_zh=zh)])
    due_in = action.deadline.get(case.level) or min(action.deadline.values())
    due_at = act.occurred_at + due_in
    notice = _notice(act, case.facts, role, purpose, directory, key="by-official", due_at=due_at,
                     ack_required=action.ack, update_zh=zh)
    duty = _duty(act, act.school_id, action.id, ActionKind.notice.value, role, due_at, due_in,
                 list(action.escalate_to), ack=action.ack, notice=notice)
    return Planned([duty], [notice])


# --- order_follow_up ----------------------------------------------------------------------------------------

def plan_follow_up_order(act: OfficialActed, case: CaseNow, directory: Directory) -> Planned:
    """The school owes a follow-up by the date the bureau set; a follow-up meets it like any other."""
    assert act.due_at is not None
    period = max(act.due_at - act.occurred_at, SHORTEST_REPEAT)
    duty = _duty(act, act.school_id, FOLLOW_UP, "task", RecipientRole.school, act.due_at, period,
                 ["school", "bureau"])
    if case.facts is None:
        return Planned([duty])
    notice = _notice(act, case.facts, RecipientRole.school, "follow_up_ordered", directory, key=act.event_id,
                     due_at=act.due_at, tasks=[NoticeTask(zh=ORDERED_ZH, due_at=act.due_at)],
                     update_zh=f"教育局要求学校于{_shanghai(act.due_at)}前续报处置进展")
    return Planned([duty], [notice])


def _shanghai(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y年%m月%d日 %H:%M")


# --- police_transferred, contest_help_resolution --------------------------------------------------------------

def plan_transfer(act: OfficialActed, facts: NoticeFacts | None, directory: Directory) -> Planned:
    """The procuratorate is told once per case, where the directory has one."""
    if facts is None or directory.officials.procuratorate is None:
        return Planned()
    return Planned(events=[_notice(act, facts, RecipientRole.procuratorate, "case_transferred", directory,
                                   key="once", update_zh="公安机关已将该案移送检察机关")])


def plan_contest(act: OfficialActed, facts: NoticeFacts | None, policy: Policy,
                 directory: Directory) -> tuple[datetime, list[NotificationRequested]]:
    """The help request's answer is owed again, by the policy's deadline from now; the school is told."""
    due_at = act.occurred_at + policy.timing.help_answer_within
    if facts is None:
        return due_at, []
    return due_at, [_notice(act, facts, RecipientRole.school, "help_resolution_contested", directory,
                            key=act.event_id, due_at=due_at, update_zh=CONTESTED_ZH)]


# --- four eyes ----------------------------------------------------------------------------------------------

def agreed(approvers: list[str], required: int) -> list[str] | None:
    """The distinct officials, once there are enough of them (the same official twice is one)."""
    distinct = list(dict.fromkeys(approvers))
    return distinct if len(distinct) >= required else None

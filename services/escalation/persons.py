"""A follow-up changes the persons of a case (pure): a student newly found, a family's contacts corrected.

A new victim gets what the policy requires per victim at the level in force (counselling) and the
first notice to the family; a new perpetrator's family gets its first notice, and a perpetrator seen
in earlier cases raises the level like a repeat in a report. The level's other duties exist already
and are not made again.

Corrected guardians: each of the student's family notices that reached nobody (failed, or no
contact at all) is sent again to the corrected contacts, as a new notice with its own duty, due one
deadline of its action from the follow-up; the old duty is settled as `not_applicable` with how
`superseded`, settled by the school — visibly replaced, its missed deadlines kept in the record.
"""

from __future__ import annotations

import dataclasses
import uuid

from services.escalation.domain import Decision, RequiredAction
from services.escalation.family_updates import FAMILY_UPDATE, PURPOSE, family_notice_duty
from services.escalation.guardians import GUARDIAN_ROLE, guardian_recipients
from services.escalation.obligations import CaseRef, obligations_for
from services.escalation.policy import ActionKind, Policy
from services.escalation.repository import Obligation
from shared.contracts import (
    Indicators,
    Level,
    NoticeFacts,
    NotificationRequested,
    Reason,
    RecipientRole,
    Student,
    StudentFacts,
    StudentRole,
)
from shared.contracts.base import derive_id
from shared.contracts.follow_up import CorrectedFacts, GuardiansCorrected

CATCH_UP_ZH = "学校此前发给您的进展通知未能送达。学校将与您联系，说明该事件的处置进展。"


def _family_facts(facts: NoticeFacts, child_name: str | None) -> NoticeFacts:
    """What a family notice may say: the case, their own child; no reasons (they may name other cases)."""
    return facts.model_copy(update={"child_name": child_name, "reasons_zh": [], "tasks": [], "missed": None,
                                    "digest": [], "update_zh": None})


def added_student_actions(student: Student | StudentFacts, level: Level, flags: tuple[str, ...], policy: Policy
                          ) -> list[RequiredAction]:
    """What the level in force requires for this student: per-victim tasks, and the notice to the family."""
    guardian = GUARDIAN_ROLE.get(student.role)
    out = []
    for action in policy.actions:
        due_in = action.deadline.get(level)
        if due_in is None or (action.only_with_flag and action.only_with_flag not in flags):
            continue
        if action.per_victim and student.role == StudentRole.victim:
            out.append(RequiredAction(action.id, action.kind, action.role, action.zh, due_in, action.ack, student.ref))
        elif action.kind == ActionKind.notice and guardian is not None and action.role == guardian:
            out.append(RequiredAction(action.id, action.kind, action.role, action.zh, due_in, action.ack))
    return out


def plan_added_student(
    case: CaseRef, follow_up_id: uuid.UUID, student: Student | StudentFacts, level: Level, flags: tuple[str, ...],
    facts: NoticeFacts, policy: Policy,
) -> tuple[list[NotificationRequested], list[Obligation]]:
    """The new student's family notices (first_notice, their own child only) and every duty they bring."""
    actions = added_student_actions(student, level, flags, policy)
    requests: list[NotificationRequested] = []
    for action in (a for a in actions if a.kind == ActionKind.notice):
        # a follow-up's: the child's name is in each guardian's box, for notify
        child = student.name if isinstance(student, Student) and student.guardians else None
        for key, recipient in guardian_recipients(action.role, student.ref, student.guardians):
            nid = derive_id("notification", case.incident_id, key, "added", follow_up_id)
            requests.append(NotificationRequested(
                event_id=nid, incident_id=case.incident_id, notification_id=nid, recipient=recipient,
                facts=_family_facts(facts, child).model_copy(update={
                    "due_at": case.accepted_at + action.due_in, "ack_required": action.ack})))
    decision = Decision(level, flags, (), tuple(actions), policy.version)
    return requests, obligations_for(case, decision, requests, policy,
                                     refs={r.notification_id: student.ref for r in requests})


def plan_resend(
    case: CaseRef, follow_up_id: uuid.UUID, corrected: GuardiansCorrected | CorrectedFacts, failed: list[Obligation],
    child_name: str | None, facts: NoticeFacts, level: Level, policy: Policy,
) -> tuple[list[uuid.UUID], list[NotificationRequested], list[Obligation]]:
    """(duties superseded, notices to the corrected guardians, their duties): once per failed action."""
    requests: list[NotificationRequested] = []
    obligations: list[Obligation] = []
    for action_id in dict.fromkeys(ob.action_id for ob in failed):
        old = next(ob for ob in failed if ob.action_id == action_id)
        role = RecipientRole(old.role)
        action = policy.action(action_id)
        if action_id == FAMILY_UPDATE or action is None:
            purpose, within, ack = PURPOSE, policy.timing.family_update_within, False
            update = CATCH_UP_ZH
        else:
            purpose, within, ack = "first_notice", action.deadline.get(level, old.period), action.ack
            update = None
        child = child_name if corrected.guardians else None
        for key, recipient in guardian_recipients(role, corrected.student_ref, corrected.guardians):
            nid = derive_id("notification", case.incident_id, key, action_id, "corrected", follow_up_id)
            requests.append(NotificationRequested(
                event_id=nid, incident_id=case.incident_id, notification_id=nid, purpose=purpose,
                recipient=recipient, facts=_family_facts(facts, child).model_copy(update={
                    "due_at": case.accepted_at + within, "ack_required": ack, "update_zh": update})))
            obligations.append(family_notice_duty(case, action_id, role, corrected.student_ref, nid, within, ack,
                                                  old.escalate_to))
    return [ob.obligation_id for ob in failed], requests, obligations


def repeat_indicators(indicators: Indicators | None, earlier: tuple[str, ...]) -> Indicators | None:
    """A newly found perpetrator seen in earlier cases makes the case a repeat (屡教不改)."""
    if not earlier:
        return indicators
    return (indicators or Indicators()).model_copy(update={"repeated_after_education": True})


def with_earlier_cases(decision: Decision, earlier: tuple[str, ...]) -> Decision:
    """The raised decision names the earlier cases, as a report's decision does."""
    if not earlier:
        return decision
    named = Reason(code="earlier_cases", zh=f"新查明的涉事学生此前已涉及：{'、'.join(earlier)}",
                   en=f"a newly found perpetrator appeared before in {', '.join(earlier)}")
    return dataclasses.replace(decision, reasons=(*decision.reasons, named))

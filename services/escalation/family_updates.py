"""Families kept informed (pure): what each family is told when its case changes, as the policy's
[family_updates] asks.

Minimal and about their own child only: the level raised (both families), counselling arranged (the
victim's family), a measure of education and discipline (the perpetrator's family: that there was one,
no detail), the case closed (both families). Never a reason, a case reference of another case or
another child's name. Each update is a notice with a duty like any other (`family_update`, due within
`timing.family_update_within`); a family not reached is the school's to reach.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from enum import StrEnum

from services.escalation.guardians import GUARDIAN_ROLE, Family, guardian_recipients
from services.escalation.obligations import CaseRef
from services.escalation.policy import Policy
from services.escalation.repository import Obligation
from shared.contracts import Level, NoticeFacts, NotificationRequested, RecipientRole, StudentRole
from shared.contracts.base import derive_id

FAMILY_UPDATE = "family_update"
PURPOSE = "family_update"
CHAIN = ["school"]  # a family the update did not reach: the school is told to reach it


class News(StrEnum):
    level_raised = "level_raised"
    counselling = "counselling"
    sanction = "sanction"
    closed = "closed"


WHO = {
    News.level_raised: {StudentRole.victim, StudentRole.perpetrator},
    News.counselling: {StudentRole.victim},
    News.sanction: {StudentRole.perpetrator},
    News.closed: {StudentRole.victim, StudentRole.perpetrator},
}


def update_zh(news: News, level_zh: str | None = None) -> str:
    match news:
        case News.level_raised:
            return f"经进一步核查，该事件的认定等级已调整为“{level_zh}”，学校和教育主管部门将依规加强处置。"
        case News.counselling:
            return "学校已为您的孩子安排心理辅导，如有需要可与学校心理辅导老师联系。"
        case News.sanction:
            return "学校已对您的孩子采取教育惩戒措施，具体情况学校将与您沟通，请配合学校做好教育工作。"
        case News.closed:
            return "经教育主管部门审批，该事件已结案。感谢您的配合；如仍有问题，可通过本通知中的链接给学校留言。"


def wanted(news: News, policy: Policy) -> bool:
    return bool(getattr(policy.family_updates, news.value))


def family_update(
    case: CaseRef, facts: NoticeFacts, families: Sequence[Family], news: News, policy: Policy,
    level: Level | None = None, only: set[str] | None = None,
) -> tuple[list[NotificationRequested], list[Obligation]]:
    """One notice and one duty per guardian of each family concerned (`only`: these students' families).

    Ids derive from the news, the guardian and (for a raise) the level reached: each family hears of
    each kind of news about its child once, whichever path (a follow-up, an official) brought it.
    """
    if not wanted(news, policy):
        return [], []
    level = level or facts.level
    text = update_zh(news, policy.level(level).zh if level else None)
    return notices_to_families(case, facts, [f for f in families if f.role in WHO[news]
                                             and (only is None or f.ref in only)],
                               text, policy.timing.family_update_within,
                               (news.value, level) if news is News.level_raised else (news.value,))


def notices_to_families(
    case: CaseRef, facts: NoticeFacts, families: Sequence[Family], text: str, within: timedelta,
    seed: tuple[object, ...],
) -> tuple[list[NotificationRequested], list[Obligation]]:
    requests: list[NotificationRequested] = []
    obligations: list[Obligation] = []
    told = facts.model_copy(update={
        "reasons_zh": [], "due_at": None, "ack_required": False, "tasks": [], "missed": None, "digest": [],
        "update_zh": text})
    for family in families:
        role = GUARDIAN_ROLE[family.role]
        for key, recipient in guardian_recipients(role, family.ref, family.guardians):
            nid = derive_id("family-update", case.incident_id, key, *seed)
            requests.append(NotificationRequested(
                event_id=nid, incident_id=case.incident_id, notification_id=nid, purpose=PURPOSE,
                recipient=recipient, facts=told.model_copy(update={
                    "child_name": family.child_name if family.guardians else None,
                    "due_at": case.accepted_at + within})))
            obligations.append(family_notice_duty(case, FAMILY_UPDATE, role, family.ref, nid, within))
    return requests, obligations


def family_notice_duty(case: CaseRef, action_id: str, role: RecipientRole, ref: str, notification_id: uuid.UUID,
                       within: timedelta, ack: bool = False, chain: list[str] | None = None) -> Obligation:
    """The duty a notice to a family creates: done when delivered, chased up `chain` when not."""
    return Obligation(
        obligation_id=notification_id, incident_id=case.incident_id, school_id=case.school_id, action_id=action_id,
        kind="notice", role=role.value, student_ref=ref, notification_id=notification_id, ack_required=ack,
        state="pending", due_at=case.accepted_at + within, period=within, step=0,
        escalate_to=list(CHAIN if chain is None else chain))

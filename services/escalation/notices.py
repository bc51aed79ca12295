"""From a decision to the events it causes (pure): the decision record and one request per recipient.

A guardian's request names only that guardian's own child; officials' and the school's
requests name no child. A required recipient without a known address still gets a
request (with no address), so notify reports the failure instead of nobody noticing.
"""

from __future__ import annotations

import uuid

from services.escalation.domain import Decision
from services.escalation.guardians import GUARDIAN_ROLE, STUDENT_ROLE, UNKNOWN_GUARDIAN, guardian_recipients
from services.escalation.policy import ActionKind
from shared.contracts import (
    ActionDue,
    EscalationDecided,
    IncidentReported,
    NoticeFacts,
    NotificationRequested,
    Recipient,
    RecipientRole,
    RecipientSummary,
)
from shared.contracts.base import derive_id
from shared.contracts.follow_up import FollowUpReported
from shared.contracts.notification import NoticeTask
from shared.directory import Directory

_UNKNOWN = {
    **UNKNOWN_GUARDIAN,
    RecipientRole.school: "学校负责人",
    RecipientRole.counsellor: "学校心理辅导老师",
    RecipientRole.legal_vice_principal: "学校法治副校长",
    RecipientRole.safety_officer: "学校安全员",
    RecipientRole.procuratorate: "人民检察院",
    RecipientRole.court: "人民法院",
}


def case_ref(event: IncidentReported) -> str:
    return "AB-" + event.incident_id.hex[:8].upper()


def _recipients(
    event: IncidentReported, decision: Decision, directory: Directory
) -> list[tuple[str, Recipient, str | None, str | None]]:
    """(stable key, recipient, child name or None, the student's ref or None) for every required recipient."""
    out: list[tuple[str, Recipient, str | None, str | None]] = []
    for role in decision.roles:
        if role in STUDENT_ROLE:
            for student in (s for s in event.facts.students if GUARDIAN_ROLE.get(s.role) == role):
                # the child's name is in each guardian's box, for notify: escalation never reads it
                out.extend((key, recipient, None, student.ref)
                           for key, recipient in guardian_recipients(role, student.ref, student.guardians))
        else:
            out.append((str(role), _official(role, event.school_id, directory), None, None))
    return out


def _notification_id(event: IncidentReported, key: str, decision: Decision) -> uuid.UUID:
    return derive_id("notification", event.incident_id, key, decision.policy_version)


def family_refs(event: IncidentReported, decision: Decision, directory: Directory) -> dict[uuid.UUID, str]:
    """Which student each family notice of the report is about: its duty carries the student's ref."""
    return {_notification_id(event, key, decision): ref
            for key, _, _, ref in _recipients(event, decision, directory) if ref is not None}


def _official(role: RecipientRole, school_id: str, directory: Directory) -> Recipient:
    """The school's head or an official office, from the directory (no address: a visible failure later)."""
    return (directory.recipient(role.value, school_id, role)
            or Recipient(role=role, display_name=_UNKNOWN.get(role, role.value)))


def plan(
    event: IncidentReported, decision: Decision, directory: Directory
) -> tuple[EscalationDecided, list[NotificationRequested]]:
    school = directory.schools.get(event.school_id)
    accepted = event.occurred_at  # deadlines run from intake's acceptance of the report
    notices = {a.role: a for a in reversed(decision.actions) if a.kind == ActionKind.notice}
    tasks = [NoticeTask(zh=a.zh + (f"（学生 {a.student_ref}）" if a.student_ref else ""), due_at=accepted + a.due_in)
             for a in decision.actions if a.kind == ActionKind.task and a.role == RecipientRole.school]
    requests = []
    for key, recipient, child, _ in _recipients(event, decision, directory):
        notification_id = _notification_id(event, key, decision)
        notice = notices.get(recipient.role)
        facts = NoticeFacts(
            case_ref=case_ref(event),
            school_id=event.school_id,
            school_name=school.name if school else event.school_id,
            level=decision.level,
            reasons_zh=[r.zh for r in decision.reasons],
            category=event.facts.category,
            occurred_at=event.facts.occurred_at,
            child_name=child,
            due_at=accepted + notice.due_in if notice else None,
            ack_required=notice.ack if notice else False,
            tasks=tasks if recipient.role == RecipientRole.school else [],
        )
        requests.append(NotificationRequested(
            event_id=notification_id, incident_id=event.incident_id, notification_id=notification_id,
            recipient=recipient, facts=facts,
        ))
    decided = EscalationDecided(
        event_id=derive_id("escalation-decided", event.incident_id, decision.policy_version),
        incident_id=event.incident_id,
        school_id=event.school_id,
        level=decision.level,
        public_attention_wide=decision.public_attention_wide,
        reasons=list(decision.reasons),
        recipients=[RecipientSummary(notification_id=r.notification_id, role=r.recipient.role) for r in requests],
        policy_version=decision.policy_version,
        flags=list(decision.flags),
        actions=[ActionDue(action_id=a.action_id, kind=a.kind.value, role=a.role, due_at=accepted + a.due_in,
                           ack_required=a.ack, student_ref=a.student_ref) for a in decision.actions],
    )
    return decided, requests


def plan_raise(
    event: FollowUpReported, decision: Decision, facts: NoticeFacts, directory: Directory
) -> tuple[EscalationDecided, list[NotificationRequested]]:
    """The raised decision and notices to those it newly requires; the school hears of its new tasks."""
    accepted = event.occurred_at
    facts = facts.model_copy(update={"level": decision.level, "reasons_zh": [r.zh for r in decision.reasons]})
    notices = {a.role: a for a in reversed(decision.actions) if a.kind == ActionKind.notice}
    tasks: dict[RecipientRole, list[NoticeTask]] = {}
    for a in decision.actions:
        if a.kind == ActionKind.task:
            tasks.setdefault(a.role, []).append(NoticeTask(zh=a.zh, due_at=accepted + a.due_in))
    roles = list(dict.fromkeys([*notices, *tasks]))  # whoever must newly act hears of it once
    requests = []
    for role in roles:
        notification_id = derive_id("notification", event.incident_id, role, decision.policy_version,
                                    "raised", event.follow_up_id)
        notice = notices.get(role)
        requests.append(NotificationRequested(
            event_id=notification_id, incident_id=event.incident_id, notification_id=notification_id,
            purpose="level_raised", recipient=_official(role, event.school_id, directory),
            facts=facts.model_copy(update={
                "due_at": accepted + notice.due_in if notice else None, "ack_required": notice.ack if notice else False,
                "tasks": tasks.get(role, [])}),
        ))
    decided = EscalationDecided(
        event_id=derive_id("escalation-raised", event.incident_id, event.follow_up_id),
        incident_id=event.incident_id, school_id=event.school_id, level=decision.level,
        public_attention_wide=decision.public_attention_wide, reasons=list(decision.reasons),
        recipients=[RecipientSummary(notification_id=r.notification_id, role=r.recipient.role) for r in requests],
        policy_version=decision.policy_version, flags=list(decision.flags),
        actions=[ActionDue(action_id=a.action_id, kind=a.kind.value, role=a.role, due_at=accepted + a.due_in,
                           ack_required=a.ack, student_ref=a.student_ref) for a in decision.actions],
    )
    return decided, requests

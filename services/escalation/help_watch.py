"""Help requests must be answered (pure): the school is told at once, with a deadline from the policy;
past it, the bureau is told. Nothing of the request's content travels in these notices."""

from __future__ import annotations

from services.escalation.policy import Policy
from services.escalation.repository import Obligation
from shared.contracts import NoticeFacts, NotificationRequested, RecipientRole
from shared.contracts.base import derive_id
from shared.contracts.help import HelpRequested
from shared.directory import Contact, Directory

ANSWER = "answer_help_request"


def answer_obligation(event: HelpRequested, policy: Policy, directory: Directory
                      ) -> tuple[Obligation, NoticeFacts, NotificationRequested]:
    within = policy.timing.help_answer_urgent_within if event.urgent else policy.timing.help_answer_within
    due_at = event.occurred_at + within
    school = directory.schools.get(event.school_id) or Contact(name="学校负责人")
    facts = NoticeFacts(case_ref=event.case_code, school_id=event.school_id, school_name=school.name,
                        reasons_zh=["标注为紧急"] if event.urgent else [], occurred_at=event.occurred_at,
                        case_kind_zh="紧急求救",
                        due_at=due_at)
    notification_id = derive_id("notification", event.help_id, "help-requested")
    notice = NotificationRequested(
        event_id=notification_id, incident_id=event.help_id, notification_id=notification_id,
        purpose="help_requested",
        recipient=school.recipient(RecipientRole.school, directory.entry_of("school", event.school_id)
                                   if event.school_id in directory.schools else None),
        facts=facts)
    obligation = Obligation(
        obligation_id=derive_id("obligation", event.help_id, ANSWER), incident_id=event.help_id,
        school_id=event.school_id, action_id=ANSWER, kind="task", role=RecipientRole.school.value, student_ref=None,
        notification_id=None, ack_required=False, state="pending", due_at=due_at, period=within, step=0,
        escalate_to=["bureau"])
    return obligation, facts, notice

"""Look-back (回头看, work plan 2(3)): a school with incidents in the recent window gets a review
task for the bureau (pure). The review is an obligation like any other: the watchdog chases it."""

from __future__ import annotations

from services.escalation.policy import Policy
from services.escalation.repository import Obligation
from shared.contracts import (
    IncidentReported,
    LookBackScheduled,
    NoticeFacts,
    NotificationRequested,
    RecipientRole,
)
from shared.contracts.base import derive_id
from shared.directory import Directory

LOOKBACK = "lookback_review"


def schedule_lookback(event: IncidentReported, policy: Policy, directory: Directory
                      ) -> tuple[LookBackScheduled, Obligation, NoticeFacts, NotificationRequested]:
    within = policy.timing.lookback_review_within
    due_at = event.occurred_at + within
    lookback_id = derive_id("lookback", event.school_id, event.incident_id)
    school = directory.schools.get(event.school_id)
    facts = NoticeFacts(case_ref="LB-" + lookback_id.hex[:8].upper(), school_id=event.school_id,
                        school_name=school.name if school else event.school_id, case_kind_zh="回头看复查",
                        reasons_zh=[f"近 {policy.timing.lookback_window.days} 天内发生校园欺凌事件"],
                        occurred_at=event.occurred_at)
    bureau = directory.officials.bureau
    notification_id = derive_id("notification", lookback_id, "lookback-due")
    notice = NotificationRequested(
        event_id=notification_id, incident_id=lookback_id, notification_id=notification_id, purpose="lookback_due",
        recipient=bureau.recipient(RecipientRole.bureau),
        facts=facts.model_copy(update={"due_at": due_at}))
    obligation = Obligation(
        obligation_id=derive_id("obligation", lookback_id, LOOKBACK), incident_id=lookback_id,
        school_id=event.school_id, action_id=LOOKBACK, kind="task", role=RecipientRole.bureau.value,
        student_ref=None, notification_id=None, ack_required=False, state="pending", due_at=due_at, period=within,
        step=0, escalate_to=["bureau_leader"])
    scheduled = LookBackScheduled(event_id=derive_id("lookback-scheduled", lookback_id), lookback_id=lookback_id,
                                  school_id=event.school_id, trigger_incident_id=event.incident_id, due_at=due_at)
    return scheduled, obligation, facts, notice

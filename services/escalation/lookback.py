"""Look-back (回头看, work plan 2(3)): a school with incidents in the recent window gets a review
task for the bureau (pure). The review is an obligation like any other: the watchdog chases it.

The bureau may also schedule one by hand (LookBackRequested), e.g. for a school with incidents from
before the system: the same review, notice and duty, under the request's own id.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from services.escalation.policy import Policy
from services.escalation.repository import Obligation
from shared.contracts import (
    IncidentReported,
    LookBackScheduled,
    NoticeFacts,
    NotificationRequested,
    RecipientRole,
)
from shared.contracts.acts import LookBackRequested
from shared.contracts.base import derive_id
from shared.directory import Directory

LOOKBACK = "lookback_review"
REQUESTED_ZH = "教育局安排（含系统上线前发生过欺凌事件的学校）"

Scheduled = tuple[LookBackScheduled, Obligation, NoticeFacts, NotificationRequested]


def schedule_lookback(event: IncidentReported, policy: Policy, directory: Directory) -> Scheduled:
    lookback_id = derive_id("lookback", event.school_id, event.incident_id)
    return _schedule(lookback_id, event.school_id, event.occurred_at,
                     event.occurred_at + policy.timing.lookback_review_within,
                     f"近 {policy.timing.lookback_window.days} 天内发生校园欺凌事件", event.incident_id, policy,
                     directory)


def schedule_requested(event: LookBackRequested, policy: Policy, directory: Directory) -> Scheduled:
    """A look-back the bureau asked for: due when it said, else the policy's review period from the request.
    The notice carries no free text: the request's reason stays in the record."""
    due_at = event.due_at or event.occurred_at + policy.timing.lookback_review_within
    return _schedule(event.lookback_id, event.school_id, event.occurred_at, due_at, REQUESTED_ZH, None, policy,
                     directory)


def _schedule(lookback_id: uuid.UUID, school_id: str, at: datetime, due_at: datetime, why_zh: str,
              trigger: uuid.UUID | None, policy: Policy, directory: Directory) -> Scheduled:
    school = directory.schools.get(school_id)
    facts = NoticeFacts(case_ref="LB-" + lookback_id.hex[:8].upper(), school_id=school_id,
                        school_name=school.name if school else school_id, case_kind_zh="回头看复查",
                        reasons_zh=[why_zh], occurred_at=at)
    bureau = directory.officials.bureau
    notification_id = derive_id("notification", lookback_id, "lookback-due")
    notice = NotificationRequested(
        event_id=notification_id, incident_id=lookback_id, notification_id=notification_id, purpose="lookback_due",
        recipient=bureau.recipient(RecipientRole.bureau, "bureau"),
        facts=facts.model_copy(update={"due_at": due_at}))
    obligation = Obligation(
        obligation_id=derive_id("obligation", lookback_id, LOOKBACK), incident_id=lookback_id,
        school_id=school_id, action_id=LOOKBACK, kind="task", role=RecipientRole.bureau.value,
        student_ref=None, notification_id=None, ack_required=False, state="pending", due_at=due_at,
        period=policy.timing.lookback_review_within, step=0, escalate_to=["bureau_leader"])
    scheduled = LookBackScheduled(event_id=derive_id("lookback-scheduled", lookback_id), lookback_id=lookback_id,
                                  school_id=school_id, trigger_incident_id=trigger, due_at=due_at)
    return scheduled, obligation, facts, notice

"""Discharging duties, one generic way per kind, and withdrawing those a lower level no longer requires.

- A follow-up's `completed` tasks are done by their action id, whatever action the policy names
  (no code per action); the older fields (counselling, sanctions, measures) keep working.
- A `DutyDischarged` names one duty (by obligation or notice) or a case's tasks by action: a notice
  becomes acknowledged (the family told in person or by phone, an official confirmed from their
  account, the police recorded receipt), a task done.
- After an applied lower level, open duties whose policy action no longer applies become
  `not_applicable` (lowering.py).
Each is called inside the handler's transaction, which publishes every changed duty (DutyUpdated).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from services.escalation import repository_duties as duties
from services.escalation.lowering import no_longer_required
from services.escalation.obligations import FOLLOW_UP
from services.escalation.policy import Policy
from shared.contracts import Level
from shared.contracts.duties import DutyDischarged, note_column
from shared.contracts.follow_up import FollowUpReported
from shared.db import Conn

log = logging.getLogger("antibully.escalation")

LEVEL_LOWERED = "level_lowered"


async def follow_up_tasks(conn: Conn, event: FollowUpReported) -> None:
    """The school's tasks this follow-up reports done (only the school's: it cannot discharge the bureau's)."""
    f = event.facts

    async def done(action: str, ref: str | None = None, at: datetime | None = None, note: str | None = None,
                   evidence: str | None = None) -> int:
        return await duties.tasks_done(conn, event.incident_id, action, ref, by=f"school:{event.school_id}",
                                       how="follow_up", note=note, evidence_ref=evidence, at=at, role="school")

    for c in f.counselling:
        await done("counselling", c.student_ref, c.at)
    if f.sanctions:
        await done("disciplinary_sanction", at=max(s.at for s in f.sanctions))
    if f.measures_count:
        await done("criticism_and_warning_talk")
    for task in f.completed:
        if task.action == FOLLOW_UP:
            continue  # the follow-up itself is what that duty asks for
        if not await done(task.action, task.student_ref, task.done_at, note_column(None, task.note_sealed),
                          task.evidence_ref):
            # an action the case does not owe the school (or already settled): recorded in the archive only
            log.info("incident %s: follow-up %d reports %s done; no open duty of the school matches",
                     event.incident_id, event.seq, task.action)


async def discharged(conn: Conn, event: DutyDischarged) -> None:
    """Apply one discharge. A duty that is unknown or already settled is left as it is (the archive
    records the event either way)."""
    evidence, how = event.evidence_ref, event.how.value
    note = note_column(event.note, event.note_sealed)  # kept unread: sealed for the archive
    if event.obligation_id is None and event.notification_id is None:
        if event.action_id is not None:
            await duties.tasks_done(conn, event.incident_id, event.action_id, event.student_ref, by=event.by,
                                    how=how, note=note, evidence_ref=evidence, at=event.done_at)
        return
    duty = await duties.duty_ref(conn, event.obligation_id, event.notification_id)
    if duty is None or duty.incident_id != event.incident_id:
        log.warning("incident %s: a discharge (%s) names no duty of this case", event.incident_id, how)
        return
    if duty.kind == "notice":
        await duties.notice_told(conn, duty.obligation_id, by=event.by, how=how, note=note,
                                 evidence_ref=evidence, at=event.done_at)
    else:
        await duties.task_done(conn, duty.obligation_id, by=event.by, how=how, note=note,
                               evidence_ref=evidence, at=event.done_at)


async def lowered(conn: Conn, incident_id: uuid.UUID, level: Level, flags: tuple[str, ...], policy: Policy) -> int:
    """After a lower level applied: withdraw the open duties it no longer requires; how many."""
    withdrawn = no_longer_required(await duties.open_duties(conn, incident_id), level, flags, policy)
    if not withdrawn:
        return 0
    return await duties.not_applicable(conn, withdrawn, LEVEL_LOWERED)

"""Every obligation, as the record shows it: each change is published as DutyUpdated.

The obligations table versions every change (a trigger); whatever is not yet published
(`version > published_version`) is published by the transaction that changed it, through the
outbox, so a duty's state in the archive never lags behind a commit and never goes backwards.
"""

from __future__ import annotations

import asyncpg

from services.escalation import repository
from services.escalation.family_updates import FAMILY_UPDATE
from services.escalation.hazard_watch import RECTIFY
from services.escalation.help_watch import ANSWER
from services.escalation.lookback import LOOKBACK
from services.escalation.obligations import FOLLOW_UP
from services.escalation.outbox import enqueue
from services.escalation.policy import Policy
from services.escalation.urgent_help import URGENT_ACK
from shared.contracts.base import derive_id
from shared.contracts.duties import Duty, DutyState, DutyUpdated, Escalating, note_from_column
from shared.db import Conn

# Duties that come from the work plan itself rather than from a policy action.
BUILT_IN_ZH = {FOLLOW_UP: "按时续报处置进展", ANSWER: "办结紧急求救（转为欺凌事件或说明理由）", RECTIFY: "完成隐患整改",
               LOOKBACK: "开展“回头看”复查", FAMILY_UPDATE: "告知家长案件进展",
               URGENT_ACK: "教育局值班室确认收到紧急求救"}

_STATES = {"pending": DutyState.open, "delivered": DutyState.delivered, "failed": DutyState.failed,
           "done": DutyState.done, "acknowledged": DutyState.acknowledged, "waived": DutyState.waived,
           "not_applicable": DutyState.not_applicable}


def label_zh(action_id: str, policy: Policy, own: str | None = None) -> str:
    """`own`: the duty's own wording (a campaign's), which no policy action overrides."""
    if own:
        return own
    action = policy.action(action_id)
    return action.zh if action else BUILT_IN_ZH.get(action_id, action_id)


def duty_updated(row: asyncpg.Record, policy: Policy) -> DutyUpdated:
    """The event for one obligation row at its current version (pure)."""
    note, note_sealed = note_from_column(row["note"])
    duty = Duty(
        obligation_id=row["obligation_id"], action_id=row["action_id"],
        label_zh=label_zh(row["action_id"], policy, row["label_zh"]),
        kind=row["kind"], role=row["role"], student_ref=row["student_ref"], notification_id=row["notification_id"],
        ack_required=row["ack_required"], state=_STATES[row["state"]], due_at=row["due_at"],
        first_due_at=row["first_due_at"] or row["due_at"], missed=row["step"], escalating=Escalating(row["escalating"]),
        settled_at=row["settled_at"], settled_by=row["settled_by"], how=row["how"], note=note,
        note_sealed=note_sealed, evidence_ref=row["evidence_ref"])
    return DutyUpdated(event_id=derive_id("duty-updated", row["obligation_id"], row["version"]),
                       incident_id=row["incident_id"], school_id=row["school_id"], version=row["version"], duty=duty)


async def publish(conn: Conn, policy: Policy, limit: int = 500) -> int:
    """Enqueue DutyUpdated for every change not yet published (this transaction's and any left over)."""
    rows = await repository.unpublished_duties(conn, limit)
    if rows:
        await enqueue(conn, *(duty_updated(r, policy) for r in rows))
        await repository.duties_published(conn, [(r["obligation_id"], r["version"]) for r in rows])
    return len(rows)

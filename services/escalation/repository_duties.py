"""Escalation's SQL for discharging and withdrawing duties (kept apart from repository.py, which is full).

Every statement here changes obligations through the versioning trigger (migrations/0001_initial.sql), so the
transaction that calls it publishes the change as DutyUpdated (duties.publish).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from services.escalation.repository import SETTLED
from shared.db import Conn, Executor


@dataclass(frozen=True)
class DutyRef:
    obligation_id: uuid.UUID
    incident_id: uuid.UUID
    kind: str
    state: str


async def duty_ref(conn: Executor, obligation_id: uuid.UUID | None,
                   notification_id: uuid.UUID | None) -> DutyRef | None:
    """The obligation named by its id or by the notice that fulfils it."""
    row = await conn.fetchrow(
        "SELECT obligation_id, incident_id, kind, state FROM obligations"
        " WHERE ($1::uuid IS NOT NULL AND obligation_id = $1) OR ($2::uuid IS NOT NULL AND notification_id = $2)"
        " LIMIT 1", obligation_id, notification_id)
    return DutyRef(**dict(row)) if row else None


async def notice_told(conn: Conn, obligation_id: uuid.UUID, *, by: str, how: str, note: str | None,
                      evidence_ref: str | None, at: datetime | None) -> bool:
    """The reader was told or confirmed (in person, by phone, from an official's account): acknowledged,
    whatever the delivery said (failed, or no contact at all). A duty already acknowledged, waived or
    no longer required stays as it is."""
    done = await conn.execute(
        "UPDATE obligations SET state = 'acknowledged', settled_by = $2, how = $3, note = $4, evidence_ref = $5,"
        " settled_at = coalesce($6, now()), updated_at = now()"
        " WHERE obligation_id = $1 AND kind = 'notice' AND state NOT IN ('acknowledged', 'waived', 'not_applicable')",
        obligation_id, by, how, note, evidence_ref, at)
    return done.endswith(" 1")


_DONE = ("UPDATE obligations SET state = 'done', settled_by = $1, how = $2, note = $3, evidence_ref = $4,"
         " settled_at = coalesce($5, now()), updated_at = now() WHERE kind = 'task' AND state <> ALL($6::text[])")


async def tasks_done(conn: Conn, incident_id: uuid.UUID, action_id: str, student_ref: str | None, *, by: str,
                     how: str, note: str | None, evidence_ref: str | None, at: datetime | None,
                     role: str | None = None) -> int:
    """Open tasks of a case done by action (for one student where given; only `role`'s where given). Settled
    tasks stay as they are; an action the case does not owe changes nothing."""
    result = await conn.execute(
        f"{_DONE} AND incident_id = $7 AND action_id = $8 AND ($9::text IS NULL OR student_ref = $9)"
        " AND ($10::text IS NULL OR role = $10)",
        by, how, note, evidence_ref, at, list(SETTLED), incident_id, action_id, student_ref, role)
    return int(result.split()[-1])


async def task_done(conn: Conn, obligation_id: uuid.UUID, *, by: str, how: str, note: str | None,
                    evidence_ref: str | None, at: datetime | None) -> bool:
    result = await conn.execute(f"{_DONE} AND obligation_id = $7", by, how, note, evidence_ref, at, list(SETTLED),
                                obligation_id)
    return result.endswith(" 1")


async def open_duties(conn: Conn, incident_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
    """(obligation id, action id) of the case's unsettled duties, locked for this transaction."""
    rows = await conn.fetch(
        "SELECT obligation_id, action_id FROM obligations WHERE incident_id = $1 AND state <> ALL($2::text[])"
        " ORDER BY obligation_id FOR UPDATE", incident_id, list(SETTLED))
    return [(r["obligation_id"], r["action_id"]) for r in rows]


async def not_applicable(conn: Conn, obligation_ids: list[uuid.UUID], how: str, by: str = "system") -> int:
    result = await conn.execute(
        "UPDATE obligations SET state = 'not_applicable', how = $2, settled_by = $3, updated_at = now()"
        " WHERE obligation_id = ANY($1::uuid[]) AND state <> ALL($4::text[])",
        obligation_ids, how, by, list(SETTLED))
    return int(result.split()[-1])

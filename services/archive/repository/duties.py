"""Duties: the projection of DutyUpdated (newest version wins), a case's duties, the scoped duty list,
the ledger's "overdue now", and what an official's acknowledgement of a notice needs to know."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.archive.duties import OPEN_STATES, DutyCursor, DutyFilter
from services.archive.repository.where import Where, ledger_where
from services.archive.scopes import Scope
from shared.db import Conn, Executor

_COLUMNS = ("obligation_id", "case_id", "school_id", "jurisdiction", "action_id", "label_zh", "kind", "role",
            "student_ref", "notification_id", "ack_required", "state", "due_at", "first_due_at", "missed",
            "escalating", "settled_at", "settled_by", "how", "note_event_id", "evidence_ref", "version")
DUTY_COLUMNS = ", ".join(f"d.{c}" for c in (*_COLUMNS, "updated_at"))


async def upsert_duty(conn: Conn, row: dict[str, Any]) -> None:
    """Versions arrive in any order (several consumers, redeliveries): only a higher one changes the row."""
    placeholders = ", ".join(f"${i}" for i in range(1, len(_COLUMNS) + 1))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS if c != "obligation_id")
    await conn.execute(
        f"INSERT INTO duties ({', '.join(_COLUMNS)}) VALUES ({placeholders}) ON CONFLICT (obligation_id)"
        f" DO UPDATE SET {updates}, updated_at = now() WHERE duties.version < EXCLUDED.version",
        *(row[c] for c in _COLUMNS))


async def case_duties(conn: Executor, case_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every duty of a case, by current deadline."""
    rows = await conn.fetch(
        f"SELECT {DUTY_COLUMNS}, c.case_ref FROM duties d LEFT JOIN cases c ON c.incident_id = d.case_id"
        " WHERE d.case_id = $1 ORDER BY d.due_at, d.obligation_id", case_id)
    return [dict(r) for r in rows]


async def duty_note_entries(conn: Executor, case_id: uuid.UUID) -> list[dict[str, Any]]:
    """The sealed entries holding the notes of a case's duties (their newest version's)."""
    rows = await conn.fetch(
        "SELECT d.obligation_id, e.event_id, e.payload_ct FROM duties d JOIN entries e"
        " ON e.event_id = d.note_event_id AND e.incident_id = d.case_id"
        " WHERE d.case_id = $1 ORDER BY d.due_at, d.obligation_id", case_id)
    return [dict(r) for r in rows]


def _scoped(scope: Scope) -> Where:
    """Duties of cases in the reader's scope: the case list's conditions on the duty's case (a case whose
    report has not arrived is in nobody's scope), and the duty's own school or jurisdiction for the index."""
    inner = Where()
    inner.scope(scope)
    w = Where(())
    w.args = inner.args
    if scope.school_id is not None:
        w.add("d.school_id = ?", scope.school_id)
    if scope.jurisdiction is not None:
        w.add("d.jurisdiction = ?", scope.jurisdiction)
    w.parts.append(f"EXISTS (SELECT 1 FROM cases WHERE cases.incident_id = d.case_id AND {inner.sql()})")
    return w


async def list_duties(conn: Executor, scope: Scope, f: DutyFilter, after: DutyCursor | None, limit: int,
                      now: datetime) -> list[dict[str, Any]]:
    """A page of duties in scope matching the filter, by current deadline (stable: ties broken by id)."""
    w = _scoped(scope)
    for column, value in (("school_id", f.school_id), ("role", f.role), ("action_id", f.action_id)):
        if value is not None:
            w.add(f"d.{column} = ?", value)
    if (states := f.states()) is not None:
        if sorted(states) == sorted(OPEN_STATES):
            w.parts.append("NOT d.settled")  # the partial indexes' predicate
        else:
            w.add("d.state = ANY(?::text[])", states)
    if f.overdue is not None:
        w.add("(NOT d.settled AND d.first_due_at <= ?)" if f.overdue else "(d.settled OR d.first_due_at > ?)", now)
    if f.due_before is not None:
        w.add("d.due_at < ?", f.due_before)
    if f.due_after is not None:
        w.add("d.due_at >= ?", f.due_after)
    if after is not None:
        w.add("(d.due_at, d.obligation_id) > (?, ?)", after.due_at, after.obligation_id)
    limit_param = w.param(limit)
    rows = await conn.fetch(
        f"SELECT {DUTY_COLUMNS}, (SELECT case_ref FROM cases WHERE cases.incident_id = d.case_id) AS case_ref"
        f" FROM duties d WHERE {w.sql()} ORDER BY d.due_at, d.obligation_id LIMIT {limit_param}", *w.args)
    return [dict(r) for r in rows]


def overdue_cases(w: Where, scope: Scope, now: datetime) -> str:
    """A condition on `cases`: the case has an open duty past its original deadline at `now` (uncorrelated,
    so PostgreSQL reads the few overdue duties once, by the duties_overdue index, and joins)."""
    j = f" AND d.jurisdiction = {w.param(scope.jurisdiction)}" if scope.jurisdiction is not None else ""
    s = f" AND d.school_id = {w.param(scope.school_id)}" if scope.school_id is not None else ""
    return (f"incident_id IN (SELECT d.case_id FROM duties d WHERE NOT d.settled"
            f" AND d.first_due_at <= {w.param(now)}{j}{s})")


async def overdue_now_counts(conn: Executor, scope: Scope, school_id: str | None, since: datetime,
                             until: datetime, now: datetime) -> list[dict[str, Any]]:
    """Per (school, jurisdiction, month of report): cases with an open duty overdue at `now` (read time)."""
    w = ledger_where(scope, school_id, since, until)
    w.parts.append(overdue_cases(w, scope, now))
    rows = await conn.fetch(
        "SELECT school_id, jurisdiction, ledger_month(reported_at) AS month, count(*) AS overdue_now"
        f" FROM cases WHERE {w.sql()} GROUP BY 1, 2, 3", *w.args)
    return [dict(r) for r in rows]


async def notice_of_case(conn: Executor, case_id: uuid.UUID, notification_id: uuid.UUID) -> dict[str, Any] | None:
    """A notice of this case: its reader's role, its delivery status and its duty's state (if projected)."""
    row = await conn.fetchrow(
        "SELECT r.role, r.status, d.state AS duty_state FROM recipients r LEFT JOIN duties d"
        " ON d.notification_id = r.notification_id WHERE r.notification_id = $1 AND r.incident_id = $2",
        notification_id, case_id)
    return dict(row) if row else None


async def duty_of_case(conn: Executor, case_id: uuid.UUID, obligation_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT kind, role, state, settled FROM duties WHERE case_id = $1 AND obligation_id = $2",
                              case_id, obligation_id)
    return dict(row) if row else None

"""Training sessions (issue 16): the projection of `training` records, the list, and the ledger's columns."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from services.archive.repository.where import Where
from services.archive.scopes import Scope
from shared.db import Conn, Executor


async def insert_training(conn: Conn, record_id: uuid.UUID, campaign_id: str, phase_id: str, school_id: str,
                          jurisdiction: str, held_on: date, audience: list[str], participants: int, hours: float,
                          filed_by: str, filed_at: datetime) -> None:
    await conn.execute(
        "INSERT INTO trainings (record_id, campaign_id, phase_id, school_id, jurisdiction, held_on, audience,"
        " participants, hours, filed_by, filed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (record_id) DO NOTHING",
        record_id, campaign_id, phase_id, school_id, jurisdiction, held_on, audience, participants, hours,
        filed_by, filed_at)


def _where(scope: Scope, school_id: str | None, first: date | None, last: date | None) -> Where:
    w = Where(("true",))
    if scope.school_id is not None:
        w.add("school_id = ?", scope.school_id)
    if scope.jurisdiction is not None:
        w.add("jurisdiction = ?", scope.jurisdiction)
    if school_id is not None:
        w.add("school_id = ?", school_id)
    if first is not None:
        w.add("held_on >= ?", first)
    if last is not None:
        w.add("held_on <= ?", last)
    return w


async def list_trainings(conn: Executor, scope: Scope, school_id: str | None, first: date | None,
                         last: date | None, limit: int) -> list[dict[str, Any]]:
    """Newest first, within a school's or a jurisdiction's scope."""
    w = _where(scope, school_id, first, last)
    rows = await conn.fetch(
        "SELECT record_id, campaign_id, phase_id, school_id, held_on, audience, participants, hours::float8 AS hours"
        f" FROM trainings WHERE {w.sql()} ORDER BY held_on DESC, filed_at DESC, record_id"
        f" LIMIT {w.param(limit)}", *w.args)
    return [dict(r) for r in rows]


async def training_counts(conn: Executor, scope: Scope, school_id: str | None, first: date, last: date
                          ) -> list[dict[str, Any]]:
    """Sessions and class hours per (school_id, jurisdiction, month of held_on) for the ledger, months
    `first`..`last` (first days): counted at the read, like "overdue now" (a session is not a case)."""
    w = _where(scope, school_id, first, None)
    w.add("held_on < (?::date + interval '1 month')", last)
    rows = await conn.fetch(
        "SELECT school_id, jurisdiction, date_trunc('month', held_on)::date AS month,"
        " count(*) AS training_sessions, sum(hours)::float8 AS training_hours"
        f" FROM trainings WHERE {w.sql()} GROUP BY 1, 2, 3", *w.args)
    return [dict(r) for r in rows]

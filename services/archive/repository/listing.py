"""The list of cases (listing.py's filter and cursor, in SQL)."""

from __future__ import annotations

from typing import Any

from services.archive.listing import CaseFilter, Cursor
from services.archive.repository.where import Where
from services.archive.scopes import Scope
from shared.db import Executor

CASE_COLUMNS = (
    "incident_id, kind, case_ref, school_id, jurisdiction, level, risk_level, status, public_attention_wide, flags,"
    " missed_deadlines, referred_to_police, urgent, converted_incident_id, reported_at, decided_at"
)


async def list_cases(
    conn: Executor, scope: Scope, f: CaseFilter, after: Cursor | None, limit: int
) -> list[dict[str, Any]]:
    """A page of cases in scope matching the filter, newest report first (stable: ties broken by id)."""
    w = Where()
    w.scope(scope)
    for column, value in (("kind", f.kind), ("school_id", f.school_id), ("jurisdiction", f.jurisdiction),
                          ("level", f.level), ("status", f.status)):
        if value is not None:
            w.add(f"{column} = ?", value)
    if (since := f.since()) is not None:
        w.add("reported_at >= ?", since)
    if (until := f.until()) is not None:
        w.add("reported_at < ?", until)
    if f.overdue is not None:
        w.parts.append("missed_deadlines > 0" if f.overdue else "missed_deadlines = 0")
    if f.flag is not None:
        w.add("? = ANY(flags)", f.flag)
    if f.referred_to_police is not None:
        w.add("referred_to_police = ?", f.referred_to_police)
    if f.public_attention_wide is not None:
        w.add("coalesce(public_attention_wide, false) = ?", f.public_attention_wide)
    if after is not None:
        w.add("(reported_at, incident_id) < (?, ?)", after.reported_at, after.case_id)
    limit_param = w.param(limit)
    rows = await conn.fetch(
        f"SELECT {CASE_COLUMNS} FROM cases WHERE {w.sql()}"
        f" ORDER BY reported_at DESC, incident_id DESC LIMIT {limit_param}",
        *w.args,
    )
    return [dict(r) for r in rows]

"""The ledger (台账): counts per school and month, and the cases a school's summary names."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from services.archive.repository.duties import overdue_cases
from services.archive.repository.where import Where, ledger_where
from services.archive.scopes import Scope
from shared.db import Executor

_REPEAT = "(kind = 'incident' AND ({flag} = ANY(flags) OR coalesce(reasons @> {reason}::jsonb, false)))"




LEDGER_FIELDS = ("incidents", "minor", "serious", "severe", "criminal", "undecided", "hazards", "hazards_open",
                 "hazards_rectified", "late_reports", "overdue", "help_requests", "help_unanswered", "repeat_cases",
                 "lookbacks", "lookbacks_due", "unconverted_tips")


async def ledger_counts(
    conn: Executor, scope: Scope, school_id: str | None, first: date, last: date
) -> list[dict[str, Any]]:
    """Counts per (school_id, jurisdiction, month) from ledger_months, months `first`..`last` (first days,
    Asia/Shanghai). Only a school's or a jurisdiction's scope applies: the ledger is refused to the roles
    that see a selection of incidents (scopes.may_read_ledger)."""
    if scope.kinds is not None or scope.referred_to_police_only or scope.public_attention_only:
        raise ValueError("the ledger counts whole schools and jurisdictions only")
    w = Where(())
    w.add("month >= ?", first)
    w.add("month <= ?", last)
    if scope.school_id is not None:
        w.add("school_id = ?", scope.school_id)
    if scope.jurisdiction is not None:
        w.add("jurisdiction = ?", scope.jurisdiction)
    if school_id is not None:
        w.add("school_id = ?", school_id)
    rows = await conn.fetch(
        f"SELECT school_id, jurisdiction, month, {', '.join(LEDGER_FIELDS)} FROM ledger_months WHERE {w.sql()}",
        *w.args,
    )
    return [dict(r) for r in rows]


async def ledger_counts_from_cases(
    conn: Executor, scope: Scope, school_id: str | None, since: datetime, until: datetime,
    late_flag: str, repeat_flag: str, repeat_reason: str,
) -> list[dict[str, Any]]:
    """The same counts as ledger_counts, added up from every case of the period: what the trigger on `cases`
    keeps in ledger_months, restated (tests compare the two; the benchmark times both)."""
    w = ledger_where(scope, school_id, since, until)
    repeat = _REPEAT.format(flag=w.param(repeat_flag), reason=w.param(json.dumps([{"code": repeat_reason}])))
    late = w.param(late_flag)
    levels = ", ".join(f"count(*) FILTER (WHERE kind = 'incident' AND level = '{lv}') AS {lv}"
                       for lv in ("minor", "serious", "severe", "criminal"))
    rows = await conn.fetch(
        "SELECT school_id, jurisdiction, ledger_month(reported_at) AS month,"
        " count(*) FILTER (WHERE kind = 'incident') AS incidents,"
        f" {levels},"
        " count(*) FILTER (WHERE kind = 'incident' AND level IS NULL) AS undecided,"
        " count(*) FILTER (WHERE kind = 'hazard') AS hazards,"
        " count(*) FILTER (WHERE kind = 'hazard' AND rectified_at IS NULL) AS hazards_open,"
        " count(*) FILTER (WHERE kind = 'hazard' AND rectified_at IS NOT NULL) AS hazards_rectified,"
        f" count(*) FILTER (WHERE {late} = ANY(flags)) AS late_reports,"
        " count(*) FILTER (WHERE missed_deadlines > 0) AS overdue,"
        " count(*) FILTER (WHERE kind = 'help') AS help_requests,"
        " count(*) FILTER (WHERE kind = 'help' AND answered_at IS NULL AND converted_incident_id IS NULL)"
        " AS help_unanswered,"
        f" count(*) FILTER (WHERE {repeat}) AS repeat_cases,"
        " count(*) FILTER (WHERE kind = 'lookback') AS lookbacks,"
        " count(*) FILTER (WHERE kind = 'lookback' AND status = 'open') AS lookbacks_due,"
        " count(*) FILTER (WHERE kind = 'help' AND converted_incident_id IS NULL) AS unconverted_tips"
        f" FROM cases WHERE {w.sql()} GROUP BY 1, 2, 3",
        *w.args,
    )
    return [dict(r) for r in rows]


async def ledger_cases(
    conn: Executor, scope: Scope, school_id: str, since: datetime, until: datetime,
    late_flag: str, repeat_flag: str, repeat_reason: str, limit: int, now: datetime | None = None,
) -> list[dict[str, Any]]:
    """A school's cases of the period that need attention (the ledger's rules), oldest first; no personal data.
    With `now`: also those with a duty overdue at that moment (column overdue_now)."""
    w = ledger_where(scope, school_id, since, until)
    repeat = _REPEAT.format(flag=w.param(repeat_flag), reason=w.param(json.dumps([{"code": repeat_reason}])))
    late = w.param(late_flag)
    overdue_now = overdue_cases(w, scope, now) if now is not None else "false"
    w.parts.append(
        f"(missed_deadlines > 0 OR {overdue_now} OR {late} = ANY(flags) OR {repeat}"
        " OR (kind = 'hazard' AND rectified_at IS NULL)"
        " OR (kind = 'help' AND answered_at IS NULL AND converted_incident_id IS NULL)"
        " OR (kind = 'lookback' AND status = 'open'))")
    limit_param = w.param(limit)
    rows = await conn.fetch(
        "SELECT case_ref, kind, level, status, flags, missed_deadlines, rectified_at, answered_at,"
        f" converted_incident_id, reported_at, {repeat} AS repeat, {overdue_now} AS overdue_now"
        f" FROM cases WHERE {w.sql()} ORDER BY reported_at, incident_id LIMIT {limit_param}",
        *w.args,
    )
    return [dict(r) for r in rows]

"""Reads of the ledger (台账): scoped like the case list, logged with their purpose before the answer."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.archive import repository
from services.archive.audit import Access
from services.archive.exports import school_summary
from services.archive.ledger import (
    LATE_FLAG,
    REPEAT_FLAG,
    REPEAT_REASON,
    Ledger,
    Period,
    SchoolInfo,
    SchoolSummary,
    attention_cases,
    build_ledger,
)
from services.archive.reads import log_access
from services.archive.repository.trainings import training_counts
from services.archive.scopes import Scope, scope_for
from shared.directory import Directory
from shared.identity import Official, OfficialRole

ATTENTION_LIMIT = 500
_RULES = (LATE_FLAG, REPEAT_FLAG, REPEAT_REASON)


def known_schools(directory: Directory, official: Official, school: str | None) -> dict[str, SchoolInfo]:
    """The directory's schools within the reader's authority (and the `school` filter): listed even when
    they have no case, so that a school with nothing reported shows as zero rather than missing."""
    scope = scope_for(official)
    return {sid: SchoolInfo(s.name, directory.jurisdiction_of(sid)) for sid, s in directory.schools.items()
            if (school is None or sid == school) and (scope.school_id is None or sid == scope.school_id)
            and (scope.jurisdiction is None or directory.jurisdiction_of(sid) == scope.jurisdiction)}


async def _ledger(pool: asyncpg.Pool, scope: Scope, period: Period, school: str | None,
                  known: dict[str, SchoolInfo], now: datetime) -> Ledger:
    rows = await repository.ledger_counts(pool, scope, school, period.first, period.last)
    # the monthly rollup, and what is overdue at this moment (never rolled up: it changes with the clock)
    rows += await repository.overdue_now_counts(pool, scope, school, period.since(), period.until(), now)
    # staff training held (not cases: counted from the training records, by month held)
    rows += await training_counts(pool, scope, school, period.first, period.last)
    return build_ledger([{**r, "month": f"{r['month']:%Y-%m}"} for r in rows], period, known, now)


async def ledger(pool: asyncpg.Pool, official: Official, period: Period, school: str | None,
                 directory: Directory, action: str, fmt: str, purpose: str, now: datetime) -> Ledger:
    """`action`: "ledger" for JSON, "export" for a file (`fmt` csv or xlsx)."""
    stated = {**period.stated(), "format": fmt, **({"school": school} if school else {})}
    await log_access(pool, Access(official, action, purpose, filter=stated), now)
    return await _ledger(pool, scope_for(official), period, school, known_schools(directory, official, school), now)


async def summary(pool: asyncpg.Pool, official: Official, period: Period, school: str, directory: Directory,
                  purpose: str, now: datetime) -> SchoolSummary | None:
    """A school's figures and the cases needing attention, or None when the school is outside the
    reader's authority (logged as not_found, like a case outside it)."""
    scope = scope_for(official)
    jurisdiction = directory.jurisdiction_of(school)
    visible = (scope.school_id in (None, school)) and (scope.jurisdiction in (None, jurisdiction)) \
        and official.role in (OfficialRole.school, OfficialRole.bureau)
    await log_access(pool, Access(official, "ledger", purpose, filter={**period.stated(), "school": school,
                                                                        "format": "summary"},
                                  outcome="ok" if visible else "not_found"), now)
    if not visible:
        return None
    known = {school: SchoolInfo(directory.schools[school].name if school in directory.schools else None,
                                jurisdiction)}
    found = await _ledger(pool, scope, period, school, known, now)
    rows = await repository.ledger_cases(pool, scope, school, period.since(), period.until(), *_RULES,
                                         limit=ATTENTION_LIMIT + 1, now=now)
    return school_summary(found.schools[0], period, attention_cases(rows[:ATTENTION_LIMIT]),
                          len(rows) > ATTENTION_LIMIT, now)


async def figures_ledger(pool: asyncpg.Pool, scope: Scope, period: Period, school: str | None,
                         known: dict[str, SchoolInfo], now: datetime) -> Ledger:
    """The ledger's counts for a campaign summary (issue 16): the caller logged the read or files the record."""
    return await _ledger(pool, scope, period, school, known, now)

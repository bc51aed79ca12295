"""The bureau schedules look-backs (回头看) by hand or from a list: each becomes LookBackRequested through
the outbox; escalation schedules it like one a first incident triggers (the review duty, its notice), and
the look-back's case then shows in the archive like any other (kind lookback).

Only a bureau official, and only for schools of its own jurisdiction (the directory's): any other school
is answered like an unknown one. An import reports a school that already has a look-back requested or
scheduled within the policy's window as a duplicate, not as an error, and schedules nothing for it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import asyncpg

from services.archive import repository
from services.archive.acts import BUREAU_ONLY
from services.archive.lookback_rows import Row, lookback_id_for
from shared.bus_seal import producer
from shared.contracts.acts import LookBackRequested
from shared.contracts.base import derive_id
from shared.db import Conn
from shared.directory import Directory
from shared.errors import ApiError, FieldError
from shared.identity import Official, OfficialRole
from shared.outbox import enqueue

NO_SUCH_SCHOOL = ApiError(404, "not_found", "No such school within your authority.", "您的管辖范围内没有该学校。")


def schools_of(directory: Directory, official: Official) -> set[str]:
    """The schools a bureau official may schedule look-backs for; nothing for anyone else."""
    if official.role is not OfficialRole.bureau:
        raise BUREAU_ONLY
    return {sid for sid in directory.schools if directory.jurisdiction_of(sid) == official.jurisdiction}


async def _request(conn: Conn, official: Official, school_id: str, reason: str, due_at: datetime | None,
                   source: str, now: datetime) -> LookBackRequested:
    lookback_id = lookback_id_for(official.account_id, school_id, reason, due_at)
    requested = LookBackRequested(
        event_id=derive_id("lookback-requested", lookback_id), occurred_at=now, lookback_id=lookback_id,
        school_id=school_id, requested_by=official.account_id, reason=reason, due_at=due_at)
    if await repository.add_lookback_request(conn, lookback_id, school_id, official.jurisdiction,
                                             official.account_id, source, due_at, now):
        await enqueue(conn, producer().sections(requested.model_copy(update={"schema_version": 2})))
    return requested


async def request_one(pool: asyncpg.Pool, directory: Directory, official: Official, school_id: str, reason: str,
                      due_at: datetime | None, now: datetime) -> LookBackRequested:
    """Scheduled whatever the school already has: the bureau asked for this one. The same request again
    (same official, school, reason and due time) is the same look-back."""
    if school_id not in schools_of(directory, official):
        raise NO_SUCH_SCHOOL
    if due_at is not None and due_at <= now:
        raise ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                       errors=[FieldError(field="due_at", reason="Must be in the future.",
                                          reason_zh="须晚于当前时间。")])
    async with pool.acquire() as conn, conn.transaction():
        await repository.lock_school(conn, school_id)
        return await _request(conn, official, school_id, reason, due_at, "api", now)


@dataclass(frozen=True)
class Outcome:
    row: int
    school_id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    lookback_id: uuid.UUID | None
    errors: list[FieldError] | None


async def import_rows(pool: asyncpg.Pool, official: Official, rows: list[Row], window: timedelta,
                      now: datetime) -> list[Outcome]:
    """Every good row in one transaction (an upload again is safe: the same rows are duplicates then)."""
    out = []
    async with pool.acquire() as conn, conn.transaction():
        for r in rows:
            if r.errors or r.school_id is None or r.reason is None:
                out.append(Outcome(r.row, r.school_id, "rejected", None, r.errors))
                continue
            await repository.lock_school(conn, r.school_id)
            earlier = await repository.recent_lookback(conn, r.school_id, now - window)
            if earlier is not None:
                out.append(Outcome(r.row, r.school_id, "duplicate", earlier, None))
                continue
            requested = await _request(conn, official, r.school_id, r.reason, r.due_at, "import", now)
            out.append(Outcome(r.row, r.school_id, "accepted", requested.lookback_id, None))
    return out

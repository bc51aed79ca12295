"""intake's SQL for the duties it projects from DutyUpdated (kept apart from repository.py, which is full)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from shared.db import Conn, Executor

SETTLED = ("done", "acknowledged", "waived", "not_applicable")
_COLUMNS = ("obligation_id", "case_id", "school_id", "action_id", "label_zh", "kind", "role", "student_ref",
            "notification_id", "state", "due_at", "first_due_at", "version")


@dataclass(frozen=True)
class SchoolDuty:
    obligation_id: uuid.UUID
    case_id: uuid.UUID
    school_id: str
    action_id: str
    label_zh: str
    kind: str
    role: str
    student_ref: str | None
    notification_id: uuid.UUID | None
    state: str
    due_at: datetime
    first_due_at: datetime
    version: int


async def upsert_duty(conn: Conn, duty: SchoolDuty) -> None:
    """A higher version wins; versions arrive in any order."""
    placeholders = ", ".join(f"${i}" for i in range(1, len(_COLUMNS) + 1))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS if c != "obligation_id")
    await conn.execute(
        f"INSERT INTO duties ({', '.join(_COLUMNS)}) VALUES ({placeholders}) ON CONFLICT (obligation_id)"
        f" DO UPDATE SET {updates} WHERE duties.version < EXCLUDED.version",
        *(getattr(duty, c) for c in _COLUMNS))


async def school_duties(conn: Executor, school_id: str, open_only: bool, overdue_at: datetime | None,
                        not_overdue_at: datetime | None, after: tuple[datetime, uuid.UUID] | None,
                        limit: int) -> list[SchoolDuty]:
    """A school's duties by current deadline: open only or all; overdue (open and past the original deadline)
    at `overdue_at`, or not overdue at `not_overdue_at`; after a (due_at, obligation_id) position."""
    rows = await conn.fetch(
        f"SELECT {', '.join(_COLUMNS)} FROM duties WHERE school_id = $1"
        " AND (NOT $2 OR state <> ALL($3::text[]))"
        " AND ($4::timestamptz IS NULL OR state <> ALL($3::text[]) AND first_due_at <= $4)"
        " AND ($5::timestamptz IS NULL OR state = ANY($3::text[]) OR first_due_at > $5)"
        " AND ($6::timestamptz IS NULL OR (due_at, obligation_id) > ($6, $7::uuid))"
        " ORDER BY due_at, obligation_id LIMIT $8",
        school_id, open_only, list(SETTLED), overdue_at, not_overdue_at,
        after[0] if after else None, after[1] if after else None, limit)
    return [SchoolDuty(**dict(r)) for r in rows]


async def duty(conn: Executor, obligation_id: uuid.UUID) -> SchoolDuty | None:
    row = await conn.fetchrow(f"SELECT {', '.join(_COLUMNS)} FROM duties WHERE obligation_id = $1", obligation_id)
    return SchoolDuty(**dict(row)) if row else None

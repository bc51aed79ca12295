"""Public disclosures of grave cases: the bureau's drafts, their approvals, and what the public reads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from shared.db import Conn, Executor

_PUBLIC = ("disclosure_id, month, level, title, public_text AS text, published_at")


async def add_disclosure(conn: Conn, row: dict[str, Any]) -> bool:
    """False when the case already has a live (not withdrawn) disclosure."""
    cols = ", ".join(row)
    marks = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    done = await conn.execute(f"INSERT INTO disclosures ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING",
                              *row.values())
    return done.endswith(" 1")


async def live_of_case(conn: Executor, case_id: uuid.UUID) -> uuid.UUID | None:
    found: uuid.UUID | None = await conn.fetchval(
        "SELECT disclosure_id FROM disclosures WHERE case_id = $1 AND state <> 'withdrawn'", case_id)
    return found


async def lock(conn: Conn, disclosure_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM disclosures WHERE disclosure_id = $1 FOR UPDATE", disclosure_id)
    return dict(row) if row else None


async def disclosure(conn: Executor, disclosure_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM disclosures WHERE disclosure_id = $1", disclosure_id)
    return dict(row) if row else None


async def update(conn: Conn, disclosure_id: uuid.UUID, **values: Any) -> None:
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(values, start=2))
    await conn.execute(f"UPDATE disclosures SET {sets} WHERE disclosure_id = $1", disclosure_id, *values.values())


async def of_jurisdiction(conn: Executor, jurisdiction: str, limit: int = 200) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT disclosure_id, case_id, school_id, level, month, title, version, state, approvals, drafted_by,"
        " drafted_at, edited_by, edited_at, published_at, withdrawn_at FROM disclosures WHERE jurisdiction = $1"
        " ORDER BY drafted_at DESC LIMIT $2", jurisdiction, limit)
    return [dict(r) for r in rows]


async def published(conn: Executor, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {_PUBLIC} FROM disclosures WHERE state = 'published'"
                            " ORDER BY published_at DESC, disclosure_id LIMIT $1", limit)
    return [dict(r) for r in rows]


async def published_one(conn: Executor, disclosure_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_PUBLIC} FROM disclosures WHERE state = 'published'"
                              " AND disclosure_id = $1", disclosure_id)
    return dict(row) if row else None


async def school_rectification(conn: Executor, school_id: str) -> dict[str, int]:
    """The school's look-backs (done) and hazards (rectified), for a notice's rectification paragraph."""
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE kind = 'lookback')::int AS lookbacks,"
        " count(*) FILTER (WHERE kind = 'lookback' AND status = 'closed')::int AS lookbacks_done,"
        " count(*) FILTER (WHERE kind = 'hazard')::int AS hazards,"
        " count(*) FILTER (WHERE kind = 'hazard' AND rectified_at IS NOT NULL)::int AS hazards_rectified"
        " FROM cases WHERE school_id = $1", school_id)
    return dict(row) if row else {}


async def acts_of_case(conn: Executor, case_id: uuid.UUID) -> list[str]:
    rows = await conn.fetch("SELECT DISTINCT summary->>'act' AS act FROM entries WHERE incident_id = $1"
                            " AND event_type = 'OfficialActed'", case_id)
    return [r["act"] for r in rows if r["act"]]


async def reported_at(conn: Executor, case_id: uuid.UUID) -> datetime | None:
    found: datetime | None = await conn.fetchval("SELECT reported_at FROM cases WHERE incident_id = $1", case_id)
    return found

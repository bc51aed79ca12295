"""The SQL of the duty room's daily digest (escalation's other SQL is in repository.py)."""

from __future__ import annotations

import uuid
from datetime import date

from services.escalation.digest import InDigest
from services.escalation.repository import SETTLED
from shared.db import Conn, Executor

# literal, so that the planner uses the partial index obligations_in_digest (migrations/)
_SETTLED = "(" + ", ".join(f"'{s}'" for s in SETTLED) + ")"


async def in_digest(conn: Executor) -> list[InDigest]:
    """Every open duty no longer chased one by one, with its case's reference and school name."""
    rows = await conn.fetch(
        "SELECT o.incident_id, o.school_id, o.action_id, o.kind, o.role, coalesce(o.first_due_at, o.due_at) AS first,"
        " o.step, o.label_zh, f.facts->>'case_ref' AS case_ref, f.facts->>'school_name' AS school_name"
        " FROM obligations o LEFT JOIN case_facts f ON f.case_id = o.incident_id"
        f" WHERE o.escalating = 'digest' AND o.state NOT IN {_SETTLED} ORDER BY first, o.obligation_id")
    return [InDigest(case_id=r["incident_id"], case_ref=r["case_ref"], school_id=r["school_id"],
                     school_name=r["school_name"], action_id=r["action_id"], kind=r["kind"], role=r["role"],
                     first_due_at=r["first"], missed=r["step"], label_zh=r["label_zh"]) for r in rows]


async def count_in_digest(conn: Executor) -> int:
    return int(await conn.fetchval(
        f"SELECT count(*) FROM obligations WHERE escalating = 'digest' AND state NOT IN {_SETTLED}"))


async def decide_day(conn: Conn, day: date, jurisdiction: str, duties: int,
                     notification_id: uuid.UUID | None) -> bool:
    """True for the first transaction to decide this day's digest of this jurisdiction (across replicas:
    a second waits for the first to commit, then finds the row)."""
    return bool(await conn.fetchval(
        "INSERT INTO overdue_digests (day, jurisdiction, duties, notification_id) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING RETURNING true", day, jurisdiction, duties, notification_id))

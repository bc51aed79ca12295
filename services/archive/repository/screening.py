"""Screening records (issue 16): the latest return and the latest bureau screening per campaign, phase and
school (screening_returns, school_screenings), and the hazards a return may name."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from shared.db import Conn, Executor

TABLES = {"student_screening": "screening_returns", "school_screening": "school_screenings"}


async def latest(conn: Executor, kind: str, campaign_id: str, phase_id: str,
                 school_id: str) -> tuple[uuid.UUID, uuid.UUID | None] | None:
    """The record of this kind the views show now (and the one it superseded), or None."""
    row = await conn.fetchrow(
        f"SELECT record_id, supersedes FROM {TABLES[kind]}"  # a table name from TABLES
        " WHERE campaign_id = $1 AND phase_id = $2 AND school_id = $3", campaign_id, phase_id, school_id)
    return (row["record_id"], row["supersedes"]) if row else None


async def hazards_of_school(conn: Executor, school_id: str, hazard_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `hazard_ids` that are hazard cases of the school in the archive."""
    rows = await conn.fetch("SELECT incident_id FROM cases WHERE incident_id = ANY($1::uuid[]) AND kind = 'hazard'"
                            " AND school_id = $2", list(hazard_ids), school_id)
    return {r["incident_id"] for r in rows}


_NEWER = " WHERE EXCLUDED.filed_at >= {t}.filed_at"  # records arrive in any order; the latest filed wins


async def upsert_return(conn: Conn, row: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO screening_returns AS t (campaign_id, phase_id, school_id, record_id, supersedes, filed_at,"
        " filed_by, students_screened, parent_talks, nothing_found, hazard_ids)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (campaign_id, phase_id, school_id) DO UPDATE SET record_id = EXCLUDED.record_id,"
        " supersedes = EXCLUDED.supersedes, filed_at = EXCLUDED.filed_at, filed_by = EXCLUDED.filed_by,"
        " students_screened = EXCLUDED.students_screened, parent_talks = EXCLUDED.parent_talks,"
        " nothing_found = EXCLUDED.nothing_found, hazard_ids = EXCLUDED.hazard_ids" + _NEWER.format(t="t"),
        row["campaign_id"], row["phase_id"], row["school_id"], row["record_id"], row["supersedes"],
        row["filed_at"], row["filed_by"], row["students_screened"], row["parent_talks"], row["nothing_found"],
        row["hazard_ids"])


async def upsert_screening(conn: Conn, row: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO school_screenings AS t (campaign_id, phase_id, school_id, record_id, supersedes, filed_at,"
        " filed_by, aspects_with_problems, problem_aspects, hazard_ids)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT (campaign_id, phase_id, school_id) DO UPDATE SET record_id = EXCLUDED.record_id,"
        " supersedes = EXCLUDED.supersedes, filed_at = EXCLUDED.filed_at, filed_by = EXCLUDED.filed_by,"
        " aspects_with_problems = EXCLUDED.aspects_with_problems, problem_aspects = EXCLUDED.problem_aspects,"
        " hazard_ids = EXCLUDED.hazard_ids" + _NEWER.format(t="t"),
        row["campaign_id"], row["phase_id"], row["school_id"], row["record_id"], row["supersedes"],
        row["filed_at"], row["filed_by"], row["aspects_with_problems"], row["problem_aspects"], row["hazard_ids"])


async def coverage_rows(conn: Executor, campaign_id: str, phase_ids: list[str],
                        school_ids: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The latest returns and bureau screenings of these schools in these phases."""
    args = (campaign_id, phase_ids, school_ids)
    where = " WHERE campaign_id = $1 AND phase_id = ANY($2::text[]) AND school_id = ANY($3::text[])"
    returns = await conn.fetch(
        "SELECT phase_id, school_id, record_id, filed_at, students_screened, parent_talks, nothing_found,"
        " hazard_ids FROM screening_returns" + where, *args)
    screenings = await conn.fetch(
        "SELECT phase_id, school_id, record_id, filed_at, aspects_with_problems, problem_aspects, hazard_ids"
        " FROM school_screenings" + where, *args)
    return [dict(r) for r in returns], [dict(r) for r in screenings]


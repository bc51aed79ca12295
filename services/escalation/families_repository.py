"""escalation's SQL for the persons of a case: its students, their sealed families, their family notices."""

from __future__ import annotations

import uuid
from dataclasses import fields

from services.escalation.repository import SETTLED, Obligation
from shared.db import Conn, Executor

_COLUMNS = ", ".join(f.name for f in fields(Obligation))
GUARDIAN_ROLES = ["victim_guardian", "perpetrator_guardian"]


async def add_students(conn: Conn, case_id: uuid.UUID, students: list[tuple[str, str, bytes | None]]) -> None:
    """(ref, role, sealed family or None); a ref the case has keeps what it had."""
    await conn.executemany(
        "INSERT INTO case_students (case_id, ref, role, family_ct) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        [(case_id, ref, role, ct) for ref, role, ct in students])


async def student_refs(conn: Executor, case_id: uuid.UUID) -> set[str]:
    """Every ref the case has: its students, and (for a case from before they were kept) its duties' refs."""
    rows = await conn.fetch(
        "SELECT ref FROM case_students WHERE case_id = $1"
        " UNION SELECT student_ref FROM obligations WHERE incident_id = $1 AND student_ref IS NOT NULL", case_id)
    return {r["ref"] for r in rows}


async def families(conn: Executor, case_id: uuid.UUID) -> list[tuple[str, str, bytes]]:
    """(ref, role, sealed family) of every victim and perpetrator whose family escalation holds."""
    rows = await conn.fetch("SELECT ref, role, family_ct FROM case_students WHERE case_id = $1"
                            " AND family_ct IS NOT NULL ORDER BY ref", case_id)
    return [(r["ref"], r["role"], bytes(r["family_ct"])) for r in rows]


async def student(conn: Executor, case_id: uuid.UUID, ref: str) -> tuple[str, bytes | None] | None:
    """(role, sealed family or None) of one student of the case."""
    row = await conn.fetchrow("SELECT role, family_ct FROM case_students WHERE case_id = $1 AND ref = $2",
                              case_id, ref)
    if row is None:
        return None
    return row["role"], bytes(row["family_ct"]) if row["family_ct"] is not None else None


async def keep_family(conn: Conn, case_id: uuid.UUID, ref: str, role: str, family_ct: bytes | None) -> None:
    await conn.execute(
        "INSERT INTO case_students (case_id, ref, role, family_ct) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (case_id, ref) DO UPDATE SET family_ct = coalesce(EXCLUDED.family_ct,"
        " case_students.family_ct), updated_at = now()", case_id, ref, role, family_ct)


async def forget_families(conn: Conn, case_id: uuid.UUID) -> None:
    """The case is closed: nobody is told anything more, so nobody's contacts are kept."""
    await conn.execute("UPDATE case_students SET family_ct = NULL, updated_at = now()"
                       " WHERE case_id = $1 AND family_ct IS NOT NULL", case_id)


async def failed_family_notices(conn: Executor, case_id: uuid.UUID, ref: str) -> list[Obligation]:
    """The student's family notices that did not reach anyone (failed, or no contact at all)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM obligations WHERE incident_id = $1 AND student_ref = $2 AND kind = 'notice'"
        " AND role = ANY($3::text[]) AND state = 'failed' ORDER BY due_at, obligation_id",
        case_id, ref, GUARDIAN_ROLES)
    return [Obligation(**dict(r)) for r in rows]


async def supersede(conn: Conn, obligation_ids: list[uuid.UUID], by: str) -> None:
    """Notices replaced by ones to the corrected contacts: settled (not_applicable, how 'superseded')."""
    await conn.execute(
        "UPDATE obligations SET state = 'not_applicable', how = 'superseded', settled_by = $2, updated_at = now()"
        " WHERE obligation_id = ANY($1::uuid[]) AND state <> ALL($3::text[])",
        obligation_ids, by, list(SETTLED))

"""All SQL of the guardian rosters and the letters' fan-out (intake's side of the letter to every parent)."""

from __future__ import annotations

from typing import Any

from shared.db import Conn, Executor


async def replace_roster(conn: Conn, school_id: str, rows: list[tuple[str, str, str | None, bool, bool, bytes]]
                         ) -> int:
    """The school's roster becomes exactly these rows; returns the new version. One COPY, not a row a trip."""
    version = await conn.fetchval(
        "INSERT INTO rosters (school_id, version) VALUES ($1, 1) ON CONFLICT (school_id) DO UPDATE SET"
        " version = rosters.version + 1, uploaded_at = now() RETURNING version", school_id)
    await conn.execute("DELETE FROM roster_rows WHERE school_id = $1", school_id)
    await conn.copy_records_to_table(
        "roster_rows", records=[(school_id, *r) for r in rows],
        columns=["school_id", "row_key", "grade", "class_name", "has_phone", "has_email", "contact"])
    return int(version)


async def row_contact(conn: Executor, school_id: str, row_key: str) -> bytes | None:
    value = await conn.fetchval("SELECT contact FROM roster_rows WHERE school_id = $1 AND row_key = $2",
                                school_id, row_key)
    return bytes(value) if value is not None else None


async def update_row(conn: Conn, school_id: str, row_key: str, has_phone: bool, has_email: bool,
                     contact: bytes) -> bool:
    """A corrected contact; a 号码有误 flag on the row is cleared with it."""
    done = await conn.execute(
        "UPDATE roster_rows SET has_phone = $3, has_email = $4, contact = $5, wrong_at = NULL"
        " WHERE school_id = $1 AND row_key = $2", school_id, row_key, has_phone, has_email, contact)
    if done.endswith(" 0"):
        return False
    await conn.execute("UPDATE rosters SET version = version + 1, uploaded_at = now() WHERE school_id = $1",
                       school_id)
    return True


async def roster_summary(conn: Executor, school_id: str) -> dict[str, Any] | None:
    head = await conn.fetchrow("SELECT version, uploaded_at FROM rosters WHERE school_id = $1", school_id)
    if head is None:
        return None
    counts = await conn.fetch(
        "SELECT grade, count(*)::int AS rows, count(*) FILTER (WHERE has_phone)::int AS with_phone,"
        " count(*) FILTER (WHERE has_email)::int AS with_email,"
        " count(*) FILTER (WHERE NOT has_phone AND NOT has_email)::int AS without_contact"
        " FROM roster_rows WHERE school_id = $1 GROUP BY grade ORDER BY grade", school_id)
    return {"version": head["version"], "uploaded_at": head["uploaded_at"], "grades": [dict(r) for r in counts]}


async def schools(conn: Executor) -> list[str]:
    return [r["school_id"] for r in await conn.fetch("SELECT school_id FROM schools ORDER BY school_id")]


async def schools_with_roster(conn: Executor, school_ids: list[str]) -> set[str]:
    rows = await conn.fetch("SELECT school_id FROM rosters WHERE school_id = ANY($1::text[])", school_ids)
    return {r["school_id"] for r in rows}


async def audience_rows(conn: Executor, school_id: str, grades: list[str]) -> list[Any]:
    """The roster rows a letter reaches at one school (every grade when `grades` is empty), in key order."""
    return list(await conn.fetch(
        "SELECT row_key, grade, has_phone, has_email, contact FROM roster_rows WHERE school_id = $1"
        " AND (cardinality($2::text[]) = 0 OR grade = ANY($2::text[])) ORDER BY row_key", school_id, grades))


async def flag_wrong(conn: Executor, school_id: str, row_key: str) -> None:
    await conn.execute("UPDATE roster_rows SET wrong_at = now() WHERE school_id = $1 AND row_key = $2",
                       school_id, row_key)


async def wrong_rows(conn: Executor, school_id: str, limit: int = 1000) -> list[Any]:
    """Rows someone reported as reaching the wrong person, oldest report first."""
    return list(await conn.fetch(
        "SELECT row_key, grade, class_name, contact, wrong_at FROM roster_rows WHERE school_id = $1"
        " AND wrong_at IS NOT NULL ORDER BY wrong_at LIMIT $2", school_id, limit))

"""Letters to every parent: the drafts and approvals, and the per-school figures projected from events."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from shared.db import Conn, Executor

FIGURES = ("recipients", "no_contact", "merged", "batches", "batches_done", "sent", "failed", "by_sms", "by_email",
           "delivered", "undelivered", "read", "wrong_number")


async def add_letter(conn: Executor, letter_id: uuid.UUID, jurisdiction: str, title: str, body: str,
                     audience: dict[str, Any], created_by: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO letters (letter_id, jurisdiction, title, body, audience, created_by, created_at)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) ON CONFLICT (letter_id) DO NOTHING",
        letter_id, jurisdiction, title, body, json.dumps(audience, ensure_ascii=False), created_by, at)


async def lock_letter(conn: Conn, letter_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM letters WHERE letter_id = $1 FOR UPDATE", letter_id)
    return _letter(row) if row else None


async def approve(conn: Conn, letter_id: uuid.UUID, official: str, at: datetime) -> None:
    await conn.execute("UPDATE letters SET approved_by = $2, approved_at = $3 WHERE letter_id = $1 AND"
                       " approved_by IS NULL", letter_id, official, at)


async def letter(conn: Executor, letter_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM letters WHERE letter_id = $1", letter_id)
    return _letter(row) if row else None


async def letters(conn: Executor, jurisdiction: str | None, school_id: str | None,
                  limit: int = 100) -> list[dict[str, Any]]:
    """The bureau's letters (its jurisdiction) with their totals, or the letters that reached one school
    with that school's own figures."""
    sums = ", ".join(f"coalesce(sum(s.{f}), 0)::int AS {f}" for f in FIGURES)
    rows = await conn.fetch(
        f"SELECT l.letter_id, l.title, l.created_by, l.created_at, l.approved_by, l.approved_at,"
        f" count(s.school_id)::int AS schools, {sums} FROM letters l"
        " LEFT JOIN letter_schools s ON s.letter_id = l.letter_id AND ($2::text IS NULL OR s.school_id = $2)"
        " WHERE ($1::text IS NULL OR l.jurisdiction = $1)"
        " AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM letter_schools x WHERE x.letter_id = l.letter_id"
        " AND x.school_id = $2))"
        " GROUP BY l.letter_id ORDER BY l.created_at DESC LIMIT $3", jurisdiction, school_id, limit)
    return [dict(r) for r in rows]


async def letter_schools(conn: Executor, letter_id: uuid.UUID, school_id: str | None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT school_id, has_roster, {', '.join(FIGURES)} FROM letter_schools WHERE letter_id = $1"
        " AND ($2::text IS NULL OR school_id = $2) ORDER BY school_id", letter_id, school_id)
    return [dict(r) for r in rows]


async def letter_figures_for_ledger(conn: Executor, jurisdiction: str | None, school_id: str | None,
                                    since: datetime, until: datetime) -> list[dict[str, Any]]:
    """One row per letter and school, for the ledger export's letters sheet (letters approved in the period)."""
    rows = await conn.fetch(
        f"SELECT l.letter_id, l.title, l.approved_at, s.school_id, s.has_roster, {', '.join('s.' + f for f in FIGURES)}"
        " FROM letters l JOIN letter_schools s ON s.letter_id = l.letter_id"
        " WHERE ($1::text IS NULL OR s.jurisdiction = $1) AND ($2::text IS NULL OR s.school_id = $2)"
        " AND l.approved_at >= $3 AND l.approved_at < $4"
        " ORDER BY l.approved_at, l.letter_id, s.school_id", jurisdiction, school_id, since, until)
    return [dict(r) for r in rows]


# --- projection (archive's consumer) ------------------------------------------------------------

async def school_share(conn: Conn, letter_id: uuid.UUID, school_id: str, jurisdiction: str, *, has_roster: bool,
                       recipients: int, no_contact: int, merged: int, batches: int) -> None:
    await conn.execute(
        "INSERT INTO letter_schools (letter_id, school_id, jurisdiction, has_roster, recipients, no_contact, merged,"
        " batches) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (letter_id, school_id) DO UPDATE SET"
        " has_roster = EXCLUDED.has_roster, recipients = EXCLUDED.recipients, no_contact = EXCLUDED.no_contact,"
        " merged = EXCLUDED.merged, batches = EXCLUDED.batches",
        letter_id, school_id, jurisdiction, has_roster, recipients, no_contact, merged, batches)


async def batch_sent(conn: Conn, letter_id: uuid.UUID, school_id: str, jurisdiction: str, sent: int, failed: int,
                     by_sms: int, by_email: int) -> None:
    """Adds one batch's counts (the archive's inbox makes sure each batch is added once)."""
    await conn.execute(
        "INSERT INTO letter_schools (letter_id, school_id, jurisdiction, batches_done, sent, failed, by_sms, by_email)"
        " VALUES ($1, $2, $3, 1, $4, $5, $6, $7) ON CONFLICT (letter_id, school_id) DO UPDATE SET"
        " batches_done = letter_schools.batches_done + 1, sent = letter_schools.sent + EXCLUDED.sent,"
        " failed = letter_schools.failed + EXCLUDED.failed, by_sms = letter_schools.by_sms + EXCLUDED.by_sms,"
        " by_email = letter_schools.by_email + EXCLUDED.by_email",
        letter_id, school_id, jurisdiction, sent, failed, by_sms, by_email)


async def receipts(conn: Conn, letter_id: uuid.UUID, school_id: str, jurisdiction: str, delivered: int,
                   undelivered: int) -> None:
    await conn.execute(
        "INSERT INTO letter_schools (letter_id, school_id, jurisdiction, delivered, undelivered)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (letter_id, school_id) DO UPDATE SET"
        " delivered = letter_schools.delivered + EXCLUDED.delivered,"
        " undelivered = letter_schools.undelivered + EXCLUDED.undelivered",
        letter_id, school_id, jurisdiction, delivered, undelivered)


async def count_one(conn: Conn, letter_id: uuid.UUID, school_id: str, jurisdiction: str, figure: str) -> None:
    """One more read or wrong number (the archive's inbox makes sure each parent's is counted once)."""
    assert figure in ("read", "wrong_number")
    await conn.execute(
        f"INSERT INTO letter_schools (letter_id, school_id, jurisdiction, {figure}) VALUES ($1, $2, $3, 1)"
        f" ON CONFLICT (letter_id, school_id) DO UPDATE SET {figure} = letter_schools.{figure} + 1",
        letter_id, school_id, jurisdiction)


def _letter(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["audience"] = json.loads(out["audience"]) if isinstance(out["audience"], str) else out["audience"]
    return out

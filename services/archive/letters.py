"""Letters to every parent at the archive: a bureau official writes one, a second one approves it (the
approval enqueues `LetterApproved` in its transaction), and the per-school figures are projected from
intake's and notify's events. Officials' accounts and the two-official rule live here, as for waivers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from services.archive.repository import letters as sql
from shared.contracts.base import derive_id
from shared.contracts.letters import (
    LetterApproved,
    LetterAudience,
    LetterBatchRequested,
    LetterBatchSent,
    LetterEvent,
    LetterFannedOut,
    LetterRead,
    LetterReceipts,
    LetterWrongNumberReported,
)
from shared.db import Conn
from shared.directory import Directory
from shared.errors import ApiError
from shared.identity import Official, OfficialRole
from shared.outbox import enqueue

NOT_FOUND = ApiError(404, "not_found", "No such letter within your authority.", "未找到该信件。")


# --- rules (pure) ---------------------------------------------------------------------------------

def require_bureau(official: Official) -> None:
    if official.role is not OfficialRole.bureau:
        raise ApiError(403, "forbidden", "Only a bureau official may write or approve a letter.",
                       "只有教育局工作人员可以撰写或审核致家长的信。")


def approval_problem(letter: dict[str, Any], official: Official) -> ApiError | None:
    """Why this official may not approve this letter, or None (an approved letter answers as approved)."""
    if letter["jurisdiction"] != official.jurisdiction:
        return NOT_FOUND
    if letter["approved_by"] is None and letter["created_by"] == official.account_id:
        return ApiError(409, "four_eyes", "The letter's author cannot approve it: a second bureau official must.",
                        "撰写人不能审核自己撰写的信件，须由另一名教育局工作人员审核。")
    return None


# --- writes -----------------------------------------------------------------------------------------

async def create(pool: asyncpg.Pool, official: Official, title: str, body: str, audience: LetterAudience,
                 now: datetime) -> uuid.UUID:
    require_bureau(official)
    letter_id = uuid.uuid4()
    async with pool.acquire() as conn:
        await sql.add_letter(conn, letter_id, official.jurisdiction, title, body, audience.model_dump(),
                             official.account_id, now)
    return letter_id


async def approve(pool: asyncpg.Pool, official: Official, letter_id: uuid.UUID, now: datetime) -> LetterApproved:
    """409 for the author; approving an approved letter again answers the same event (nothing new is sent)."""
    require_bureau(official)
    async with pool.acquire() as conn, conn.transaction():
        letter = await sql.lock_letter(conn, letter_id)
        if letter is None:
            raise NOT_FOUND
        if problem := approval_problem(letter, official):
            raise problem
        approver = letter["approved_by"] or official.account_id
        event = LetterApproved(
            event_id=derive_id("letter-approved", letter_id), occurred_at=letter["approved_at"] or now,
            letter_id=letter_id, jurisdiction=letter["jurisdiction"], title=letter["title"], body=letter["body"],
            audience=LetterAudience.model_validate(letter["audience"]), created_by=letter["created_by"],
            approved_by=approver)
        if letter["approved_by"] is None:
            await sql.approve(conn, letter_id, official.account_id, now)
            await enqueue(conn, event)
    return event


# --- reads ------------------------------------------------------------------------------------------

def _scope(official: Official) -> tuple[str | None, str | None]:
    """(jurisdiction, school) the figures are limited to; only the bureau and schools read letters."""
    if official.role is OfficialRole.bureau:
        return official.jurisdiction, None
    if official.role is OfficialRole.school and official.school_id:
        return None, official.school_id
    raise ApiError(403, "forbidden", "Letters' figures are for the bureau and the schools.",
                   "致家长的信的统计仅供教育局和学校查阅。")


async def list_letters(pool: asyncpg.Pool, official: Official) -> list[dict[str, Any]]:
    jurisdiction, school = _scope(official)
    async with pool.acquire() as conn:
        return await sql.letters(conn, jurisdiction, school)


async def letter_figures(pool: asyncpg.Pool, official: Official, letter_id: uuid.UUID) -> dict[str, Any]:
    jurisdiction, school = _scope(official)
    async with pool.acquire() as conn:
        letter = await sql.letter(conn, letter_id)
        if letter is None or (jurisdiction is not None and letter["jurisdiction"] != jurisdiction):
            raise NOT_FOUND
        schools = await sql.letter_schools(conn, letter_id, school)
    if school is not None and not schools:
        raise NOT_FOUND
    totals = {f: sum(s[f] for s in schools) for f in sql.FIGURES}
    return {**{k: letter[k] for k in ("letter_id", "title", "body", "audience", "created_by", "created_at",
                                      "approved_by", "approved_at")},
            "totals": totals, "schools_without_roster": [s["school_id"] for s in schools if not s["has_roster"]],
            "schools": schools}


async def ledger_rows(pool: asyncpg.Pool, official: Official, school: str | None, since: datetime,
                      until: datetime) -> list[dict[str, Any]]:
    """The letters' figures per school for the ledger export, within the reader's authority."""
    jurisdiction, own = _scope(official)
    if own is not None and school not in (None, own):
        return []
    async with pool.acquire() as conn:
        return await sql.letter_figures_for_ledger(conn, jurisdiction, own or school, since, until)


# --- projection -------------------------------------------------------------------------------------

async def project_letter(conn: Conn, event: LetterEvent, directory: Directory) -> None:
    match event:
        case LetterFannedOut():
            for share in event.schools:
                await sql.school_share(conn, event.letter_id, share.school_id,
                                       directory.jurisdiction_of(share.school_id), has_roster=share.has_roster,
                                       recipients=share.recipients, no_contact=share.no_contact,
                                       merged=share.merged, batches=share.batches)
        case LetterBatchSent():
            await sql.batch_sent(conn, event.letter_id, event.school_id, directory.jurisdiction_of(event.school_id),
                                 event.sent, event.failed, event.by_sms, event.by_email)
        case LetterRead():
            await sql.count_one(conn, event.letter_id, event.school_id, directory.jurisdiction_of(event.school_id),
                                "read")
        case LetterReceipts():
            await sql.receipts(conn, event.letter_id, event.school_id, directory.jurisdiction_of(event.school_id),
                               event.delivered, event.undelivered)
        case LetterWrongNumberReported():
            await sql.count_one(conn, event.letter_id, event.school_id, directory.jurisdiction_of(event.school_id),
                                "wrong_number")


def letter_summary(event: LetterEvent) -> dict[str, Any]:
    """The clear part of a letter's record entry: counts and ids, never a contact (those stay sealed)."""
    match event:
        case LetterApproved():
            return {"jurisdiction": event.jurisdiction, "created_by": event.created_by,
                    "approved_by": event.approved_by, "schools": len(event.audience.school_ids),
                    "grades": event.audience.grades}
        case LetterFannedOut():
            return {"schools": len(event.schools), "recipients": sum(s.recipients for s in event.schools),
                    "no_contact": sum(s.no_contact for s in event.schools),
                    "merged": sum(s.merged for s in event.schools),
                    "without_roster": sum(1 for s in event.schools if not s.has_roster)}
        case LetterBatchSent():
            return {"school_id": event.school_id, "batch_no": event.batch_no, "sent": event.sent,
                    "failed": event.failed, "by_sms": event.by_sms, "by_email": event.by_email}
        case LetterRead() | LetterWrongNumberReported():
            return {"school_id": event.school_id}
        case LetterReceipts():
            return {"school_id": event.school_id, "delivered": event.delivered, "undelivered": event.undelivered}
        case LetterBatchRequested():
            return {"school_id": event.school_id, "batch_no": event.batch_no, "batches": event.batches,
                    "recipients": len(event.recipients)}
    return {}

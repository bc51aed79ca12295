"""Every read of the archive: scoped to the reader's authority and written to the access log first.

The log entry is committed before the answer is built, so no read goes unrecorded; a case
outside the reader's scope is logged (outcome not_found) and answered exactly like an unknown one.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

import asyncpg

from services.archive import repository
from services.archive.act_views import act_entries
from services.archive.audit import Access, AccessEntry, next_access
from services.archive.chain import first_broken
from services.archive.duties import view_of
from services.archive.duty_notes import duty_notes
from services.archive.listing import AccessQuery, CaseFilter, Cursor
from services.archive.payloads import open_payload
from services.archive.personal import PERSONAL_EVENTS, Personal, personal_section
from services.archive.scopes import CaseFacts, PersonalView, in_scope, personal_view, scope_for
from services.archive.views import (
    AccessLogEntry,
    AccessLogPage,
    CasePage,
    CaseRecord,
    ChainStatus,
    PersonalData,
    RecipientStatus,
    TimelineEntry,
    record_of,
    summary_of,
)
from shared.contracts import Reason
from shared.contracts.base import Event
from shared.db import Conn
from shared.identity import Official

# Entries the timeline leaves out (still chained and verified): a duty's every version.
QUIET = frozenset({"DutyUpdated"})
_MODELS: dict[str, type[Event]] = {m.event_type: m for m in PERSONAL_EVENTS}


async def log_access(pool: asyncpg.Pool, access: Access, now: datetime) -> AccessEntry:
    async with pool.acquire() as conn, conn.transaction():
        seq, head = await repository.lock_access_head(conn)
        entry = next_access(seq, head, now, access)
        await repository.append_access(conn, entry)
        return entry


def case_facts(case: dict[str, Any]) -> CaseFacts:
    return CaseFacts(kind=case.get("kind"), school_id=case.get("school_id"), jurisdiction=case.get("jurisdiction"),
                     referred_to_police=bool(case.get("referred_to_police")),
                     public_attention_wide=bool(case.get("public_attention_wide")))


async def case_page(pool: asyncpg.Pool, official: Official, f: CaseFilter, after: Cursor | None, limit: int,
                    purpose: str, now: datetime) -> CasePage:
    stated = {**f.stated(), "limit": limit, **({"cursor": after.encode()} if after else {})}
    await log_access(pool, Access(official, "list", purpose, filter=stated), now)
    rows = await repository.list_cases(pool, scope_for(official), f, after, limit + 1)
    items = [summary_of(r) for r in rows[:limit]]
    more = len(rows) > limit
    return CasePage(items=items, next_cursor=Cursor(items[-1].reported_at, items[-1].case_id).encode()
                    if more and items else None)


async def case_record(pool: asyncpg.Pool, official: Official, case_id: uuid.UUID, purpose: str,
                      now: datetime) -> CaseRecord | None:
    """The case's record as this official may see it, or None (unknown or outside the scope)."""
    case = await repository.case(pool, case_id)
    visible = case is not None and in_scope(scope_for(official), case_facts(case))
    await log_access(pool, Access(official, "detail", purpose, case_id=case_id,
                                  outcome="ok" if visible else "not_found"), now)
    if case is None or not visible:
        return None
    # one snapshot: the projection, the entries and the keys as of the same moment
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        case = await repository.case(conn, case_id) or case
        entries = await repository.entries(conn, case_id)
        if not entries:
            return None
        broken = first_broken(entries)
        return record_of(
            case,
            reasons=[Reason(**r) for r in case.get("reasons", [])],
            policy_version=case.get("policy_version"),
            recipients=[RecipientStatus(**r) for r in await repository.recipients(conn, case_id)],
            duties=[view_of(r, now) for r in await repository.case_duties(conn, case_id)],
            # duty changes are in the chain like everything else; the record lists the duties themselves
            timeline=[TimelineEntry(seq=e.seq, event_type=e.event_type, recorded_at=e.recorded_at,
                                    summary=e.summary, hash=e.hash) for e in entries if e.event_type not in QUIET],
            acts=act_entries(entries),
            chain=ChainStatus(valid=broken is None, length=len(entries), head=entries[-1].hash,
                              first_broken_seq=broken),
            personal=await _personal(conn, case_id, personal_view(official)),
            personal_data=await _key_state(conn, case_id),
        )


async def _key_state(conn: Conn, case_id: uuid.UUID) -> PersonalData:
    key = await repository.key_state(conn, case_id)
    if key is None:
        return PersonalData(status="none")
    if key["shredded_at"]:
        return PersonalData(status="destroyed", destroyed_at=key["shredded_at"])
    return PersonalData(status="sealed")


async def opened_personal(conn: Conn, case_id: uuid.UUID) -> list[tuple[int, Event | None]]:
    """The case's entries that hold personal data, opened (None where the key is gone), in record order."""
    opened: list[tuple[int, Event | None]] = []
    for row in await repository.sealed_payloads(conn, case_id, list(_MODELS)):
        plain = await open_payload(conn, case_id, row["event_id"], bytes(row["payload_ct"]))
        # tolerant: a payload written by a newer version (a field this one does not know) still reads
        event = _MODELS[row["event_type"]].model_validate_json(plain, extra="ignore") if plain else None
        opened.append((row["seq"], event))
    return opened


async def _personal(conn: Conn, case_id: uuid.UUID, view: PersonalView) -> Personal | None:
    """Decrypts only when the view allows any personal data at all."""
    if view is PersonalView.none:
        return None
    opened = await opened_personal(conn, case_id)
    section = personal_section(view, opened)
    if section is not None and view is PersonalView.all:
        section.duty_notes = await duty_notes(conn, case_id)
    return section


async def access_page(pool: asyncpg.Pool, official: Official, q: AccessQuery, purpose: str,
                      now: datetime) -> AccessLogPage:
    """The access log of the reader's jurisdiction (its accounts' reads, any read of its cases); reading it
    is itself logged."""
    await log_access(pool, Access(official, "access_log", purpose, case_id=q.case_id, filter=q.stated()), now)
    rows = await repository.access_entries(pool, official.jurisdiction, q.case_id, q.account_id, q.since(),
                                           q.until(), q.before_seq, q.limit + 1)
    items = [AccessLogEntry(**{k: v for k, v in asdict(e).items() if k != "jurisdiction"}) for e in rows[:q.limit]]
    more = len(rows) > q.limit
    return AccessLogPage(items=items, next_cursor=str(items[-1].seq) if more and items else None)

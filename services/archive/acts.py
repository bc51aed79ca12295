"""Officials' acts on a case through the archive's API: approving a school's proposed lower level or
closure, and reporting a look-back review done. Each becomes an event (through the outbox);
escalation applies it, and the archive records it in the case's chain like any other."""

from __future__ import annotations

import uuid

import asyncpg

from services.archive import repository
from services.archive.reads import case_facts
from services.archive.scopes import in_scope, scope_for
from shared.bus_seal import producer
from shared.contracts.base import derive_id
from shared.contracts.officials import ChangeApproved, LookBackCompleted
from shared.db import Conn
from shared.errors import ApiError
from shared.identity import Official, OfficialRole
from shared.outbox import enqueue

NOT_FOUND = ApiError(404, "not_found", "No record for this case.", "未找到该案件的记录。")
BUREAU_ONLY = ApiError(403, "forbidden", "Only a bureau official may do this.", "只有教育局工作人员可以办理此项。")


async def _case(conn: Conn, official: Official, case_id: uuid.UUID, kind: str) -> None:
    if official.role is not OfficialRole.bureau:
        raise BUREAU_ONLY
    case = await repository.case(conn, case_id)
    if case is None or case.get("kind") != kind or not in_scope(scope_for(official), case_facts(case)):
        raise NOT_FOUND


async def approve(pool: asyncpg.Pool, official: Official, case_id: uuid.UUID, follow_up_id: uuid.UUID,
                  change: str, comment: str) -> ChangeApproved:
    """One approval per official and proposal (a second click is the same event, so it counts once)."""
    async with pool.acquire() as conn, conn.transaction():
        await _case(conn, official, case_id, "incident")
        wanted = {"follow_up_id": str(follow_up_id), "change": change}
        if not await repository.has_entry(conn, case_id, "ChangeProposed", **wanted):
            raise ApiError(404, "no_such_proposal", "The case has no such proposal (follow-up and change).",
                           "该案件没有对应的变更申请（续报编号与变更类型）。")
        if await repository.has_entry(conn, case_id, "ChangeResolved", **wanted):
            raise ApiError(409, "already_resolved", "This proposal has already been decided.",
                           "该变更申请已经办结。")
        approved = ChangeApproved(
            event_id=derive_id("change-approved", follow_up_id, change, official.account_id), incident_id=case_id,
            follow_up_id=follow_up_id, change=change,
            approver=official.account_id, jurisdiction=official.jurisdiction, comment=comment)
        await enqueue(conn, producer().sections(approved.model_copy(update={"schema_version": 2})))
    return approved


async def complete_lookback(pool: asyncpg.Pool, official: Official, lookback_id: uuid.UUID,
                            findings: str) -> LookBackCompleted:
    async with pool.acquire() as conn, conn.transaction():
        await _case(conn, official, lookback_id, "lookback")
        case = await repository.case(conn, lookback_id)
        assert case is not None
        done = LookBackCompleted(event_id=derive_id("lookback-completed", lookback_id), lookback_id=lookback_id,
                                 school_id=case["school_id"], by=official.account_id, findings=findings)
        await enqueue(conn, producer().sections(done.model_copy(update={"schema_version": 2})))
    return done

"""Reading duties: the list of duties in the reader's scope (logged with its purpose before the answer);
and officials discharging what they owe from their account — a notice confirmed, a task reported done
(acts, through the outbox; escalation applies them)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from services.archive import repository
from services.archive.audit import Access
from services.archive.duties import DutyCursor, DutyFilter, DutyPage, view_of
from services.archive.reads import case_facts, log_access
from services.archive.scopes import in_scope, scope_for
from shared.bus_seal import producer
from shared.contracts import NotificationAcknowledged, RecipientRole
from shared.contracts.base import derive_id, utcnow
from shared.contracts.duties import DischargeHow, DutyDischarged, note_context
from shared.errors import ApiError
from shared.identity import Official, OfficialRole
from shared.outbox import enqueue

NOT_FOUND = ApiError(404, "not_found", "No record for this case.", "未找到该案件的记录。")
NO_SUCH_NOTICE = ApiError(404, "no_such_notice", "The case has no such notice.", "该案件没有这条通知。")
OFFICIALS_ONLY = ApiError(403, "forbidden", "Only the bureau, the police or the stability office confirm notices "
                          "here.", "只有教育局、公安机关或稳定安全办公室可以在此确认收到通知。")
NOT_YOURS = ApiError(403, "forbidden", "This notice is addressed to another role; only its reader confirms it.",
                     "该通知的接收方不是您所在的单位，只有接收方可以确认收到。")
ALREADY = ApiError(409, "already_acknowledged", "This notice has already been confirmed.", "该通知已确认收到。")
ACKNOWLEDGING = (OfficialRole.bureau, OfficialRole.police, OfficialRole.stability_office)


async def duty_page(pool: asyncpg.Pool, official: Official, f: DutyFilter, after: DutyCursor | None, limit: int,
                    purpose: str, now: datetime) -> DutyPage:
    stated = {**f.stated(), "limit": limit, **({"cursor": after.encode()} if after else {})}
    await log_access(pool, Access(official, "duties", purpose, filter=stated), now)
    rows = await repository.list_duties(pool, scope_for(official), f, after, limit + 1, now)
    items = [view_of(r, now) for r in rows[:limit]]
    more = len(rows) > limit and bool(items)
    return DutyPage(items=items, next_cursor=DutyCursor(items[-1].due_at, items[-1].obligation_id).encode()
                    if more else None)


async def acknowledge(pool: asyncpg.Pool, official: Official, case_id: uuid.UUID,
                      notification_id: uuid.UUID) -> NotificationAcknowledged:
    """The notice's own reader (by role, within scope) confirms it, whether or not its link has expired.
    The same official twice before it is recorded is the same event; once recorded, 409."""
    if official.role not in ACKNOWLEDGING:
        raise OFFICIALS_ONLY
    async with pool.acquire() as conn, conn.transaction():
        case = await repository.case(conn, case_id)
        if case is None or not in_scope(scope_for(official), case_facts(case)):
            raise NOT_FOUND
        notice = await repository.notice_of_case(conn, case_id, notification_id)
        if notice is None:
            raise NO_SUCH_NOTICE
        if notice["role"] != official.role.value:
            raise NOT_YOURS
        if notice["status"] == "acknowledged" or notice["duty_state"] == "acknowledged":
            raise ALREADY
        event = NotificationAcknowledged(
            event_id=derive_id("notification-acknowledged", notification_id, "account", official.account_id),
            incident_id=case_id, notification_id=notification_id, role=RecipientRole(notice["role"]),
            by=official.account_id)
        await enqueue(conn, event)
    return event


NO_SUCH_DUTY = ApiError(404, "no_such_duty", "The case has no such duty.", "该案件没有这项规定事项。")
NOT_YOUR_TASK = ApiError(403, "forbidden", "This duty is not a task your office owes (notices are confirmed, a "
                         "school's tasks are reported in its follow-ups).",
                         "该事项不是贵单位应办的任务（通知请确认收到，学校的任务请在续报中报告完成）。")
SETTLED = ApiError(409, "already_settled", "This duty is already settled.", "该事项已办结。")


async def task_done(pool: asyncpg.Pool, official: Official, case_id: uuid.UUID, obligation_id: uuid.UUID,
                    note: str | None, evidence_ref: str | None) -> DutyDischarged:
    """A task the official's own office owes (the bureau's special-school assessment, say), reported done."""
    if official.role not in ACKNOWLEDGING:
        raise NOT_YOUR_TASK
    async with pool.acquire() as conn, conn.transaction():
        case = await repository.case(conn, case_id)
        if case is None or not in_scope(scope_for(official), case_facts(case)):
            raise NOT_FOUND
        duty = await repository.duty_of_case(conn, case_id, obligation_id)
        if duty is None:
            raise NO_SUCH_DUTY
        if duty["kind"] != "task" or duty["role"] != official.role.value:
            raise NOT_YOUR_TASK
        if duty["settled"]:
            raise SETTLED
        event = DutyDischarged(
            event_id=derive_id("duty-discharged", obligation_id, "account", official.account_id),
            incident_id=case_id, school_id=case["school_id"], obligation_id=obligation_id,
            how=DischargeHow.official_account, by=official.account_id, done_at=utcnow(), schema_version=2,
            note_sealed=producer().seal(note, note_context(case_id)) if note else None, evidence_ref=evidence_ref)
        await enqueue(conn, event)
    return event

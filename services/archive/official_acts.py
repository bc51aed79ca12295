"""An official's act on a case through the archive's API: checked against the act's rules, the official's
role and scope and the case's state, then enqueued as `OfficialActed` in the same transaction (the outbox).
Escalation applies what changes duties; the archive records the act in the case's chain like any event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.archive import repository
from services.archive.act_rules import act_event_id, field_problems, may_act
from services.archive.reads import case_facts
from services.archive.scopes import in_scope, scope_for
from shared.bus_seal import producer
from shared.contracts.acts import RULES, Act, OfficialActed
from shared.contracts.duties import DutyState
from shared.contracts.escalation import Level
from shared.db import Conn
from shared.errors import ApiError
from shared.identity import Official
from shared.outbox import enqueue

NOT_FOUND = ApiError(404, "not_found", "No record for this case.", "未找到该案件的记录。")


@dataclass(frozen=True)
class ActBody:
    act: Act
    reason: str
    level: Level | None = None
    due_at: datetime | None = None
    obligation_id: uuid.UUID | None = None
    police_case_number: str | None = None
    outcome: str | None = None


def _invalid(errors: list[Any]) -> ApiError:
    return ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                    errors=errors)


def _conflict(code: str, message: str, message_zh: str) -> ApiError:
    return ApiError(409, code, message, message_zh)


async def act(pool: asyncpg.Pool, official: Official, case_id: uuid.UUID, body: ActBody,
              now: datetime) -> OfficialActed:
    """422 (a field the act needs or does not use), 403 (not this role's act), 404 (unknown or outside the
    official's authority), 409 (not for this kind of case, or not in its state); otherwise the act's event."""
    rule = RULES[body.act]
    if problems := field_problems(body.act, {k: getattr(body, k) for k in ("level", "due_at", "obligation_id",
                                                                           "police_case_number", "outcome")}, now):
        raise _invalid(problems)
    if not may_act(official, body.act):
        who = "a police officer" if body.act.by_police else "a bureau official"
        raise ApiError(403, "forbidden", f"Only {who} may do this.",
                       "只有公安机关可以办理此项。" if body.act.by_police else "只有教育局工作人员可以办理此项。")
    async with pool.acquire() as conn, conn.transaction():
        case = await repository.case(conn, case_id)
        if case is None or not in_scope(scope_for(official), case_facts(case)):
            raise NOT_FOUND
        if case["kind"] not in rule.kinds:
            raise _conflict("act_not_applicable", f"The act {body.act.value} does not apply to a case of kind "
                            f"{case['kind']}.", f"该类案件不适用“{rule.zh}”。")
        if rule.while_open and case.get("status") == "closed":
            raise _conflict("case_closed", "The case is closed.", "该案件已结案。")
        round_ = await _check_state(conn, case, body)
        event = OfficialActed(
            event_id=act_event_id(case_id, official.account_id, body.act, level=body.level.value if body.level
                                  else None, due_at=body.due_at, obligation_id=body.obligation_id,
                                  police_case_number=body.police_case_number, reason=body.reason,
                                  outcome=body.outcome, round_=round_),
            occurred_at=now, incident_id=case_id, school_id=case["school_id"], act=body.act,
            official=official.account_id, official_role=official.role.value, jurisdiction=official.jurisdiction,
            reason=body.reason, level=body.level, due_at=body.due_at, obligation_id=body.obligation_id,
            police_case_number=body.police_case_number, outcome=body.outcome)
        await enqueue(conn, producer().sections(event.model_copy(update={"schema_version": 2})))
    return event


async def _check_state(conn: Conn, case: dict[str, Any], body: ActBody) -> int:
    """What the case's record must hold for the act; returns the act's round (closure, contest)."""
    case_id = case["incident_id"]
    match body.act:
        case Act.raise_level:
            assert body.level is not None
            if case.get("level") and Level(case["level"]).rank >= body.level.rank:
                raise _conflict("not_higher", f"The level in force is {case['level']}: a raise must be higher.",
                                "提升后的等级须高于现行认定等级。")
        case Act.waive_duty:
            assert body.obligation_id is not None
            duty = await repository.latest_duty(conn, case_id, body.obligation_id)
            if duty is None:
                raise ApiError(404, "no_such_duty", "The case has no such duty.", "该案件没有这项规定事项。")
            if DutyState(duty["state"]).settled:
                raise _conflict("duty_settled", f"The duty is already {duty['state']}.", "该事项已办结，无需免除。")
        case Act.close_case:
            # a refused closure may be asked again: each resolution starts a new round
            return await repository.count_entries(conn, case_id, "ChangeResolved", change="closure")
        case Act.contest_help_resolution:
            resolutions = await repository.count_entries(conn, case_id, "HelpResolved")
            if resolutions == 0:
                raise _conflict("no_resolution", "The school has not resolved this help request.",
                                "学校尚未对该求救作出处理结论，无可异议。")
            return resolutions
    return 0

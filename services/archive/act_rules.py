"""Officials' acts on a case (pure): who may do which act, on which kind of case, with which fields,
and the event id that makes a double click count once.

The bureau steers a case; the police record their part (issue 11, item 4). Schools and the stability
office do neither. An act's free text (its reason, a police outcome) may name someone: it travels only
in the sealed event, never in the record's clear summary.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

from shared.contracts.acts import RULES, Act
from shared.contracts.base import derive_id
from shared.errors import FieldError
from shared.identity import Official, OfficialRole

# Fields an act may carry besides `act` and `reason` (which every act has).
OPTIONAL_FIELDS = ("level", "due_at", "obligation_id", "police_case_number", "outcome")


def field_problems(act: Act, given: dict[str, object], now: datetime) -> list[FieldError]:
    """What is missing or out of place in an act's body (422 names each field)."""
    rule = RULES[act]
    out = []
    for name in OPTIONAL_FIELDS:
        present = given.get(name) is not None
        if name in rule.needs and not present:
            out.append(FieldError(field=name, reason=f"Required for the act {act.value}.",
                                  reason_zh=f"“{rule.zh}”须填写此项。"))
        elif name not in rule.needs and present:
            out.append(FieldError(field=name, reason=f"Not used by the act {act.value}; leave it out.",
                                  reason_zh=f"“{rule.zh}”不使用此项，请勿填写。"))
    due_at = given.get("due_at")
    if act is Act.order_follow_up and isinstance(due_at, datetime) and due_at <= now:
        out.append(FieldError(field="due_at", reason="Must be in the future.", reason_zh="续报期限须晚于当前时间。"))
    return out


def may_act(official: Official, act: Act) -> bool:
    """The police's acts are the police's; every other act is the bureau's. Nobody else acts (403)."""
    return official.role is (OfficialRole.police if act.by_police else OfficialRole.bureau)


def _digest(text: str | None) -> str:
    return hashlib.sha256((text or "").encode()).hexdigest()[:16]


def act_event_id(case_id: uuid.UUID, official: str, act: Act, *, level: str | None = None,
                 due_at: datetime | None = None, obligation_id: uuid.UUID | None = None,
                 police_case_number: str | None = None, reason: str = "", outcome: str | None = None,
                 round_: int = 0) -> uuid.UUID:
    """The same official doing the same act again is the same event (a double click counts once).

    What makes an act another one: a four-eyes act (waive, close) counts once per official and duty, or
    per official and closure round (a refused closure may be asked again); a contest once per official and
    school resolution (`round_`); a note, a 训诫 or an outcome once per official and text (a different text
    is another entry); a raise once per level; an order once per date; a case number once per number.
    A referral, public attention, the police's receipt and a transfer once per official.
    """
    key: tuple[object, ...]
    match act:
        case Act.raise_level:
            key = (level,)
        case Act.order_follow_up:
            key = (due_at.astimezone(UTC).isoformat() if due_at else None,)
        case Act.waive_duty:
            key = (obligation_id,)
        case Act.close_case | Act.contest_help_resolution:
            key = (round_,)
        case Act.add_note | Act.police_warning_given:
            key = (_digest(reason),)
        case Act.police_case_number:
            key = (police_case_number,)
        case Act.police_outcome:
            key = (_digest(outcome),)
        case _:
            key = ()
    return derive_id("official-acted", case_id, act.value, official, *key)

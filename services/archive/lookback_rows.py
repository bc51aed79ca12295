"""Look-back requests (回头看) by hand and from a list (pure): ids, due dates, the policy's window and the
rows of an imported CSV sheet, each checked on its own (the idiom of intake's hazard batch: a bad row is
named with its field and reason and never blocks a good one).

A request's id derives from the official and what was asked (school, reason, due date), so the same
request twice — a double click, the same sheet uploaded again — is one look-back everywhere.
"""

from __future__ import annotations

import re
import tomllib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.contracts.base import derive_id
from shared.errors import FieldError
from shared.sheets import read_sheet

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_ROWS = 500
REQUIRED = ("school_id", "reason")
OPTIONAL = ("due_date",)
COLUMNS = (*REQUIRED, *OPTIONAL)
REASON_MAX = 2000
DEFAULT_WINDOW = timedelta(days=365)
_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def lookback_id_for(account_id: str, school_id: str, reason: str, due_at: datetime | None) -> uuid.UUID:
    return derive_id("lookback-request", account_id, school_id, reason, due_at.isoformat() if due_at else None)


def end_of_day(day: date) -> datetime:
    """A due date means the whole day, in Asia/Shanghai."""
    return datetime.combine(day, time(23, 59, 59), SHANGHAI)


def window_of(policy_text: str) -> timedelta:
    """The policy's `timing.lookback_window` (escalation's rule: one look-back per school per window), or a
    year when the file does not say. Read as data: the archive imports no code of escalation."""
    try:
        raw = tomllib.loads(policy_text).get("timing", {}).get("lookback_window")
    except tomllib.TOMLDecodeError:
        return DEFAULT_WINDOW
    m = _DURATION.match(str(raw).strip()) if raw is not None else None
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))}) if m and int(m.group(1)) else DEFAULT_WINDOW


@dataclass(frozen=True)
class Row:
    """One data row of the sheet: its values if valid, else its field errors (never the values)."""

    row: int
    school_id: str | None
    reason: str | None
    due_at: datetime | None
    errors: list[FieldError]


def _error(field: str, reason: str, reason_zh: str) -> FieldError:
    return FieldError(field=field, reason=reason, reason_zh=reason_zh)


UNKNOWN_SCHOOL = _error("school_id", "Unknown school, or outside your jurisdiction.",
                        "学校代码不存在或不在您的管辖范围内。")




def check_row(number: int, record: dict[str, str], known: set[str], today: date) -> Row:
    """`known`: the schools within the official's jurisdiction (the directory's)."""
    cells = {k: v.strip() for k, v in record.items()}
    errors = []
    school = cells.get("school_id") or None
    if school is None:
        errors.append(_error("school_id", "Required.", "必填。"))
    elif school not in known:
        errors.append(UNKNOWN_SCHOOL)
        school = None  # never echo what may be anything
    reason = cells.get("reason") or None
    if reason is None:
        errors.append(_error("reason", "Required: why this school gets a look-back.", "必填：说明安排回头看的原因。"))
    elif len(reason) > REASON_MAX:
        errors.append(_error("reason", f"At most {REASON_MAX} characters.", f"不超过 {REASON_MAX} 个字符。"))
    due_at = None
    if raw := cells.get("due_date"):
        m = _DATE.match(raw)
        try:
            day = date(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None
        except ValueError:
            day = None
        if day is None:
            errors.append(_error("due_date", "Not a date; write YYYY-MM-DD, e.g. 2026-12-31.",
                                 "日期格式不正确，应为 YYYY-MM-DD，例如 2026-12-31。"))
        elif day < today:
            errors.append(_error("due_date", "The date is in the past.", "完成日期早于今天。"))
        else:
            due_at = end_of_day(day)
    return Row(number, school, None if errors else reason, None if errors else due_at, errors)


def csv_rows(data: bytes, known: set[str], today: date) -> list[Row]:
    """Data rows of a UTF-8 sheet (BOM or not), numbered from 1 after the header; blank rows skipped."""
    return [Row(n, None, None, None, [row]) if isinstance(row, FieldError) else check_row(n, row, known, today)
            for n, row in read_sheet(data, REQUIRED, OPTIONAL, max_rows=MAX_ROWS)]

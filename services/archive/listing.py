"""The case list's filters and its cursor (pure). Dates are calendar days in Asia/Shanghai."""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A page's position: microseconds since 1970 (UTC) and an id in hex. The document states this pattern and
# every text that matches it is a position (a far one gives an empty page), so the pattern is the whole rule.
CURSOR_PATTERN = r"^[0-9]{1,19}_[0-9a-f]{32}$"
_CURSOR = re.compile(CURSOR_PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST = datetime(9999, 12, 31, tzinfo=UTC)


def encode_position(at: datetime, id_: uuid.UUID) -> str:
    if at.tzinfo is None:
        raise ValueError("a position's time has a zone")
    return f"{(at - _EPOCH) // timedelta(microseconds=1)}_{id_.hex}"


def decode_position(text: str) -> tuple[datetime, uuid.UUID]:
    """Raises ValueError for a text that does not match CURSOR_PATTERN."""
    if not _CURSOR.fullmatch(text):
        raise ValueError("not a cursor from this API")
    micros, _, hex_id = text.partition("_")
    at = _LAST if int(micros) >= (_LAST - _EPOCH) // timedelta(microseconds=1) \
        else _EPOCH + timedelta(microseconds=int(micros))
    return at, uuid.UUID(hex=hex_id)


@dataclass(frozen=True)
class CaseFilter:
    kind: str | None = None
    school_id: str | None = None
    jurisdiction: str | None = None
    level: str | None = None
    status: str | None = None
    reported_from: date | None = None
    reported_to: date | None = None
    overdue: bool | None = None
    flag: str | None = None
    referred_to_police: bool | None = None
    public_attention_wide: bool | None = None

    def since(self) -> datetime | None:
        return _day_start(self.reported_from)

    def until(self) -> datetime | None:
        """Exclusive: the start of the day after `reported_to`."""
        return _day_start(self.reported_to + timedelta(days=1)) if self.reported_to else None

    def stated(self) -> dict[str, Any]:
        """The filters actually given, for the access log."""
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Cursor:
    """Position after the last case of a page: the list is ordered newest report first, then by id."""

    reported_at: datetime
    case_id: uuid.UUID

    def encode(self) -> str:
        return encode_position(self.reported_at, self.case_id)

    @staticmethod
    def decode(text: str) -> Cursor:
        """Raises ValueError for anything that is not a cursor this API gives out (CURSOR_PATTERN)."""
        return Cursor(*decode_position(text))


@dataclass(frozen=True)
class AccessQuery:
    """A page of the access log: optional case, account and days; `before_seq` is the cursor."""

    case_id: uuid.UUID | None = None
    account_id: str | None = None
    day_from: date | None = None
    day_to: date | None = None
    before_seq: int | None = None
    limit: int = 50

    def since(self) -> datetime | None:
        return _day_start(self.day_from)

    def until(self) -> datetime | None:
        return _day_start(self.day_to + timedelta(days=1)) if self.day_to else None

    def stated(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, date | uuid.UUID) else v) for k, v in asdict(self).items()
                if v is not None}


def _day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time(0), SHANGHAI) if day else None

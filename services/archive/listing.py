"""The case list's filters and its cursor (pure). Dates are calendar days in Asia/Shanghai."""

from __future__ import annotations

import base64
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


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
        return base64.urlsafe_b64encode(f"{self.reported_at.isoformat()}|{self.case_id}".encode()).decode()

    @staticmethod
    def decode(text: str) -> Cursor:
        """Raises ValueError for anything that is not a cursor this API gave out."""
        try:
            at, _, case = base64.urlsafe_b64decode(text.encode()).decode().partition("|")
            parsed = Cursor(datetime.fromisoformat(at), uuid.UUID(case))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError("not a cursor from this API") from exc
        if parsed.reported_at.tzinfo is None:
            raise ValueError("not a cursor from this API")
        return parsed


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

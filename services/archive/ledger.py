"""The ledger (台账) and the supervision figures (pure): counts per school and jurisdiction, by month.

Brief 2(2)/3: phase 1 builds a ledger of problems and their rectification; the bureau supervises
schools and sends a periodic summary. Only counts and case references leave here — never a
child's or guardian's name: the projection these figures come from holds none.

A case counts in the month (Asia/Shanghai) it was reported; its state (rectified, answered,
look-back done, a duty overdue now) is the state at the time of the read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from pydantic import BaseModel, Field

from services.archive.listing import SHANGHAI
from shared.words import LEDGER_ATTENTION_ZH, LEDGER_COLUMNS_ZH

MAX_MONTHS = 36
MONTH = r"^2\d{3}-(0[1-9]|1[0-2])$"  # YYYY-MM of this millennium: the OpenAPI document states it
MONTH_RE = re.compile(MONTH)
LATE_FLAG = "late_report"          # escalation.domain: reported later than policy.timing.late_report_after
REPEAT_FLAG = "earlier_cases"      # escalation.domain: a perpetrator appeared in an earlier case
REPEAT_REASON = "repeated_after_education"  # the policy rule the school's own indicator fires

# Field → Chinese column header, in the order bureau staff read them (shared with the console).
COLUMNS_ZH = LEDGER_COLUMNS_ZH
# repository.LEDGER_FIELDS (the columns of ledger_months) and overdue_now, counted at the time of the read
COUNT_FIELDS = tuple(COLUMNS_ZH)
FRACTIONAL = frozenset({"training_hours"})  # the one count that is not whole (1.5 class hours)


class LedgerInputError(ValueError):
    def __init__(self, field: str, reason: str, reason_zh: str) -> None:
        super().__init__(reason)
        self.field, self.reason, self.reason_zh = field, reason, reason_zh


@dataclass(frozen=True)
class Period:
    """Whole calendar months in Asia/Shanghai, `first` to `last` inclusive (first days of months)."""

    first: date
    last: date

    @staticmethod
    def parse(first: str | None, last: str | None, today: date) -> Period:
        """Defaults: January of the current year to the current month. At most MAX_MONTHS months."""
        end = _month(last, "query.to") if last is not None else today.replace(day=1)
        start = _month(first, "query.from") if first is not None else end.replace(month=1)
        if start > end:
            raise LedgerInputError("query.from", "'from' is after 'to'.", "起始月份晚于截止月份。")
        if _index(end) - _index(start) + 1 > MAX_MONTHS:
            raise LedgerInputError("query.from", f"At most {MAX_MONTHS} months at a time.",
                                   f"一次最多查询 {MAX_MONTHS} 个月。")
        return Period(start, end)

    def since(self) -> datetime:
        return datetime.combine(self.first, time(0), SHANGHAI)

    def until(self) -> datetime:
        """Exclusive: the start of the month after `last`."""
        return datetime.combine(_add_month(self.last), time(0), SHANGHAI)

    def months(self) -> list[str]:
        out, m = [], self.first
        while m <= self.last:
            out.append(f"{m:%Y-%m}")
            m = _add_month(m)
        return out

    def stated(self) -> dict[str, str]:
        return {"from": f"{self.first:%Y-%m}", "to": f"{self.last:%Y-%m}"}


def _month(text: str, field: str) -> date:
    """Checked here rather than by FastAPI, so that every refusal of a period names its parameter alike."""
    if MONTH_RE.fullmatch(text):
        year, month = text.split("-")
        return date(int(year), int(month), 1)
    raise LedgerInputError(field, "A month as YYYY-MM, e.g. 2026-09.", "月份格式应为 YYYY-MM，例如 2026-09。") \
            from None


def _index(d: date) -> int:
    return d.year * 12 + d.month - 1


def _add_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def month_of(at: datetime) -> str:
    """The Asia/Shanghai month of an instant, as YYYY-MM."""
    return f"{at.astimezone(SHANGHAI):%Y-%m}"


class Counts(BaseModel):
    incidents: int = Field(0, description="Incidents reported.")
    minor: int = 0
    serious: int = 0
    severe: int = 0
    criminal: int = 0
    undecided: int = Field(0, description="Incidents without a decided level yet.")
    hazards: int = Field(0, description="Early signs and hazard points found.")
    hazards_open: int = Field(0, description="Hazards whose rectification is not reported complete.")
    hazards_rectified: int = 0
    late_reports: int = Field(0, description="Reported later than the policy allows (flag late_report).")
    overdue_now: int = Field(0, description="Cases with a duty open past its deadline at the time of the read.")
    overdue: int = Field(0, description="Cases that ever missed a deadline (ever late), done since or not.")
    help_requests: int = 0
    help_unanswered: int = Field(0, description="Help requests with no reply from the school, not converted.")
    repeat_cases: int = Field(0, description="Incidents repeated after education (a perpetrator seen before).")
    lookbacks: int = Field(0, description="Look-backs scheduled.")
    lookbacks_due: int = Field(0, description="Look-backs not yet reported done.")
    unconverted_tips: int = Field(0, description="Help requests (tips) not converted into an incident: resolved by "
                                  "the school with a reason, or still open.")
    training_sessions: int = Field(0, description="Anti-bullying training sessions held for the school's staff, by "
                                   "month held (not cases: counted from the training records at the read).")
    training_hours: float = Field(0, description="Their class hours (学时) together, one decimal.")

    def plus(self, other: Counts) -> Counts:
        summed = {f: getattr(self, f) + getattr(other, f) for f in COUNT_FIELDS}
        return Counts(**{**summed, "training_hours": round(summed["training_hours"], 1)})


class MonthCounts(Counts):
    month: str = Field(description="YYYY-MM, Asia/Shanghai.")


class SchoolLedger(BaseModel):
    school_id: str
    school_name: str | None
    jurisdiction: str
    totals: Counts
    months: list[MonthCounts] = Field(description="Months with any case, oldest first.")


class JurisdictionLedger(BaseModel):
    jurisdiction: str
    schools: int
    totals: Counts
    months: list[MonthCounts] = Field(description="Every month of the period, oldest first.")


class Ledger(BaseModel):
    period_from: str
    period_to: str
    generated_at: datetime
    schools: list[SchoolLedger]
    jurisdictions: list[JurisdictionLedger]


@dataclass(frozen=True)
class SchoolInfo:
    name: str | None
    jurisdiction: str


def build_ledger(rows: Iterable[Mapping[str, Any]], period: Period, known: Mapping[str, SchoolInfo],
                 generated_at: datetime) -> Ledger:
    """`rows`: counts per (school_id, jurisdiction, month); `known`: schools listed even without a case."""
    cells: dict[str, dict[str, Counts]] = {}
    where: dict[str, str] = {k: v.jurisdiction for k, v in known.items()}
    for r in rows:
        school, month = r["school_id"], r["month"]
        where.setdefault(school, r["jurisdiction"])
        c = Counts(**{f: (float if f in FRACTIONAL else int)(r.get(f) or 0) for f in COUNT_FIELDS})
        if c == Counts():
            continue  # a month whose cases all moved away (the rollup keeps its row at zero)
        by_month = cells.setdefault(school, {})
        by_month[month] = by_month[month].plus(c) if month in by_month else c
    schools = []
    for school in sorted(where, key=lambda s: (where[s], s)):
        by_month = cells.get(school, {})
        schools.append(SchoolLedger(
            school_id=school, school_name=known[school].name if school in known else None,
            jurisdiction=where[school], totals=_sum(by_month.values()),
            months=[MonthCounts(month=m, **by_month[m].model_dump()) for m in sorted(by_month)]))
    jurisdictions = []
    for j in sorted(set(where.values())):
        mine = [s for s in schools if s.jurisdiction == j]
        months = [MonthCounts(month=m, **_sum(c for s in mine for c in s.months if c.month == m).model_dump())
                  for m in period.months()]
        jurisdictions.append(JurisdictionLedger(jurisdiction=j, schools=len(mine),
                                                totals=_sum(s.totals for s in mine), months=months))
    return Ledger(period_from=period.stated()["from"], period_to=period.stated()["to"], generated_at=generated_at,
                  schools=schools, jurisdictions=jurisdictions)


def _sum(items: Iterable[Counts]) -> Counts:
    total = Counts()
    for c in items:
        total = total.plus(c)
    return total


# --- a school's summary for the bureau's periodic summary (brief 4) ---

ATTENTION_ZH = LEDGER_ATTENTION_ZH


class AttentionCase(BaseModel):
    """A case the summary names by reference only, with why it needs attention."""

    case_ref: str | None
    kind: str
    level: str | None
    month: str
    attention: list[str] = Field(description=f"Any of: {', '.join(ATTENTION_ZH)}.")


class SchoolSummary(BaseModel):
    school_id: str
    school_name: str | None
    jurisdiction: str
    period_from: str
    period_to: str
    generated_at: datetime
    totals: Counts
    months: list[MonthCounts]
    attention: list[AttentionCase]
    attention_truncated: bool = Field(description="More cases need attention than are listed here.")
    report_zh: str = Field(description="The same, as a Markdown report in Chinese.")


def attention_of(case: Mapping[str, Any]) -> list[str]:
    """Why a case needs the bureau's attention (same rules as the counts)."""
    kind, flags = case["kind"], set(case.get("flags") or ())
    out = []
    if case.get("overdue_now"):
        out.append("overdue_now")
    if (case.get("missed_deadlines") or 0) > 0:
        out.append("overdue")
    if LATE_FLAG in flags:
        out.append("late_report")
    if kind == "incident" and case.get("repeat"):
        out.append("repeat")
    if kind == "hazard" and case.get("rectified_at") is None:
        out.append("hazard_open")
    if kind == "help" and case.get("answered_at") is None and case.get("converted_incident_id") is None:
        out.append("help_unanswered")
    if kind == "lookback" and case.get("status") == "open":
        out.append("lookback_due")
    return out


def attention_cases(rows: Iterable[Mapping[str, Any]]) -> list[AttentionCase]:
    return [AttentionCase(case_ref=r.get("case_ref"), kind=r["kind"], level=r.get("level"),
                          month=month_of(r["reported_at"]), attention=a)
            for r in rows if (a := attention_of(r))]

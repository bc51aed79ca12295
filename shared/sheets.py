"""Spreadsheets uploaded as CSV (a school's hazard sheet, the bureau's list of schools for look-backs):
read the same way everywhere, and refused with one clear answer when the sheet itself is unusable. And
the one way an XLSX file is written, with strings kept strings."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import IO

import xlsxwriter

from shared.errors import ApiError, FieldError


def xlsx_workbook(out: IO[bytes]) -> xlsxwriter.Workbook:
    """An XLSX writer that writes every string as text (issue 14): a school name or a letter's title that
    starts with = + - @ is never a formula, a URL is never a hyperlink, digits never become a number. The
    text is kept as it was typed (no quote added: a text cell is never evaluated)."""
    return xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                     "strings_to_numbers": False})


def invalid_sheet(message: str, message_zh: str) -> ApiError:
    return ApiError(422, "invalid_csv", message, message_zh)


def too_many_rows(count: int, most: int) -> ApiError:
    return ApiError(413, "too_many_rows", f"At most {most} rows per upload; this one has {count}.",
                    f"每次上传最多 {most} 行，本次为 {count} 行，请分批上传。")


def read_sheet(data: bytes, required: Sequence[str], optional: Sequence[str] = (), *, max_rows: int
               ) -> list[tuple[int, dict[str, str] | FieldError]]:
    """Data rows of a UTF-8 sheet (BOM or not) as column → cell, numbered from 1 after the header; blank rows
    skipped; a row with another number of cells than the header is that row's error. The header names every
    required column and any optional one, each once and nothing else (no names smuggled in extra columns)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise invalid_sheet("The CSV must be UTF-8 encoded (e.g. Excel: save as 'CSV UTF-8').",
                            "CSV 文件须为 UTF-8 编码（例如在 Excel 中另存为“CSV UTF-8”）。") from exc
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise invalid_sheet("The CSV could not be read.", "无法读取该 CSV 文件。") from exc
    if not records:
        raise invalid_sheet("The CSV is empty; a header row is required.", "CSV 文件为空，需要表头行。")
    header = [h.strip() for h in records[0]]
    allowed = (*required, *optional)
    missing = [c for c in required if c not in header]
    unknown = [h for h in header if h not in allowed]
    if missing or unknown or len(set(header)) != len(header):
        also = f" and optionally {', '.join(optional)}" if optional else ""
        also_zh = f"，可另加 {', '.join(optional)} 列" if optional else ""
        raise invalid_sheet(
            f"The header names the columns {', '.join(required)}{also}, each once, nothing else."
            + (f" Missing: {', '.join(missing)}." if missing else "")
            + (f" Not allowed: {len(unknown)} column(s)." if unknown else ""),
            f"表头须包含以下各列各一次：{', '.join(required)}{also_zh}，不得有其他列。"
            + (f"缺少：{', '.join(missing)}。" if missing else "")
            + (f"有 {len(unknown)} 个不允许的列（请勿上传学生姓名等其他信息）。" if unknown else ""))
    rows = [(n, r) for n, r in enumerate(records[1:], start=1) if any(c.strip() for c in r)]
    if len(rows) > max_rows:
        raise too_many_rows(len(rows), max_rows)
    return [(n, dict(zip(header, cells, strict=True)) if len(cells) == len(header) else FieldError(
        field="row", reason=f"{len(cells)} cells; the header has {len(header)}",
        reason_zh=f"本行有 {len(cells)} 个单元格，表头有 {len(header)} 列")) for n, cells in rows]

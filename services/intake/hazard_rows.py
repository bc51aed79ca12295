"""Hazard findings into events, and batch uploads (JSON or a CSV sheet) into checked rows (pure).

Ids derive from what names the submission: a single finding or progress step from the school
and its Idempotency-Key, a batch row from the school and the row's `client_ref`, so re-uploading
the same sheet names the same hazards and publishes duplicates that JetStream and every inbox
recognise.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from shared.contracts.base import derive_id
from shared.contracts.hazard import (
    BatchFinding,
    HazardFinding,
    HazardProgress,
    HazardProgressed,
    HazardReported,
    HazardRole,
)
from shared.contracts.incident import Ref
from shared.errors import ApiError, FieldError, field_errors

MAX_ROWS = 500
COLUMNS = ("client_ref", "school_id", "found_at", "kind", "student_refs", "observed", "risk_level",
           "intervention", "plan", "due_date", "responsible")
_RECTIFICATION = ("plan", "due_date", "responsible")
_REF = TypeAdapter(Ref)


def hazard_id_for(school_id: str, idempotency_key: str) -> uuid.UUID:
    return derive_id("hazard", school_id, idempotency_key)


def batch_hazard_id(school_id: str, client_ref: str) -> uuid.UUID:
    return derive_id("hazard", school_id, "batch", client_ref)


def reported_event(hazard_id: uuid.UUID, finding: HazardFinding) -> HazardReported:
    return HazardReported(event_id=derive_id("hazard-reported", hazard_id), hazard_id=hazard_id,
                          school_id=finding.school_id, finding=finding)


def finding_fingerprint(finding: HazardFinding) -> bytes:
    """What a hazard was first reported with: a re-uploaded row must match it."""
    return hashlib.sha256(finding.model_dump_json().encode()).digest()


def progress_id_for(school_id: str, idempotency_key: str) -> uuid.UUID:
    return derive_id("hazard-progress", school_id, idempotency_key)


def progressed_event(
    hazard_id: uuid.UUID, school_id: str, progress_id: uuid.UUID, seq: int, progress: HazardProgress
) -> HazardProgressed:
    return HazardProgressed(event_id=derive_id("hazard-progressed", progress_id), hazard_id=hazard_id,
                            school_id=school_id, progress_id=progress_id, seq=seq, progress=progress)


# --- batch rows -----------------------------------------------------------------------------

@dataclass(frozen=True)
class RowCheck:
    """One data row: its finding if valid, else the field errors (never the submitted values)."""

    row: int
    client_ref: str | None
    finding: BatchFinding | None
    errors: list[FieldError]


def too_many_rows(count: int) -> ApiError:
    return ApiError(413, "too_many_rows", f"At most {MAX_ROWS} rows per upload; this one has {count}.",
                    f"每次上传最多 {MAX_ROWS} 行，本次为 {count} 行，请分批上传。")


def _invalid_sheet(message: str, message_zh: str) -> ApiError:
    return ApiError(422, "invalid_csv", message, message_zh)


def _safe_ref(raw: object) -> str | None:
    """The row's client_ref to echo back, only if it is a valid reference (never arbitrary input)."""
    if not isinstance(raw, dict):
        return None
    try:
        return _REF.validate_python(raw.get("client_ref"))
    except ValidationError:
        return None


def check_rows(rows: Sequence[tuple[int, object]], school_id: str,
               column_of: Callable[[str], str] = lambda f: f) -> list[RowCheck]:
    """Validate every row on its own; a bad row never hides or blocks a good one."""
    if len(rows) > MAX_ROWS:
        raise too_many_rows(len(rows))
    seen: set[str] = set()
    out = []
    for number, raw in rows:
        if isinstance(raw, FieldError):  # a sheet row that is not even a row
            out.append(RowCheck(number, None, None, [raw]))
            continue
        ref = _safe_ref(raw)
        try:
            finding = BatchFinding.model_validate(raw)
        except ValidationError as exc:
            errors = [e.model_copy(update={"field": column_of(e.field)}) for e in field_errors(exc.errors())]
            out.append(RowCheck(number, ref, None, errors))
            continue
        errors = []
        if finding.school_id != school_id:
            errors.append(FieldError(field="school_id", reason="This key may only act for its own school.",
                                     reason_zh="该密钥只能用于本校的报告。"))
        if finding.client_ref in seen:
            errors.append(FieldError(field="client_ref", reason="client_ref appears more than once in this upload",
                                     reason_zh="同一批次中 client_ref 重复"))
        seen.add(finding.client_ref)
        out.append(RowCheck(number, ref, None if errors else finding, errors))
    return out


def json_rows(rows: list[Any]) -> list[tuple[int, object]]:
    """Rows of a JSON array, numbered from 1."""
    return list(enumerate(rows, start=1))


def csv_column(field: str) -> str:
    """The sheet column a model field came from, so errors name what the school sees."""
    head, _, rest = field.partition(".")
    if head == "students":
        return "student_refs"
    if head == "rectification":
        return rest.split(".")[0] if rest else "due_date"
    return field


def _students(cell: str) -> list[dict[str, str]]:
    """`S-1;S-2:at_risk` → refs with roles; a ref containing ':' must name its role (`a:b:involved`)."""
    out = []
    for token in filter(None, (t.strip() for t in cell.split(";"))):
        ref, sep, role = token.rpartition(":")
        out.append({"ref": ref, "role": role} if sep else {"ref": token, "role": HazardRole.involved.value})
    return out


def _finding(record: dict[str, str]) -> dict[str, object]:
    """A sheet row in the shape of a finding; an empty cell is a missing field."""
    cells = {k: v.strip() for k, v in record.items() if v and v.strip()}
    body: dict[str, object] = {k: v for k, v in cells.items() if k not in _RECTIFICATION and k != "student_refs"}
    body["students"] = _students(cells.get("student_refs", ""))
    body["rectification"] = {k: cells[k] for k in _RECTIFICATION if k in cells}
    return body


def csv_rows(data: bytes) -> list[tuple[int, object]]:
    """Data rows of a UTF-8 sheet (BOM or not), numbered from 1 after the header; blank rows skipped."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _invalid_sheet("The CSV must be UTF-8 encoded (e.g. Excel: save as 'CSV UTF-8').",
                             "CSV 文件须为 UTF-8 编码（例如在 Excel 中另存为“CSV UTF-8”）。") from exc
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise _invalid_sheet("The CSV could not be read.", "无法读取该 CSV 文件。") from exc
    if not records:
        raise _invalid_sheet("The CSV is empty; a header row is required.", "CSV 文件为空，需要表头行。")
    header = [h.strip() for h in records[0]]
    missing = [c for c in COLUMNS if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        raise _invalid_sheet(
            f"The header must name each of these columns once: {', '.join(COLUMNS)}."
            + (f" Missing: {', '.join(missing)}." if missing else "")
            + (f" Not allowed: {len(unknown)} column(s)." if unknown else ""),
            f"表头须且仅须包含以下各列各一次：{', '.join(COLUMNS)}。"
            + (f"缺少：{', '.join(missing)}。" if missing else "")
            + (f"有 {len(unknown)} 个不允许的列（请勿上传学生姓名等其他信息）。" if unknown else ""),
        )
    data_rows = [(n, r) for n, r in enumerate(records[1:], start=1) if any(c.strip() for c in r)]
    if len(data_rows) > MAX_ROWS:
        raise too_many_rows(len(data_rows))
    out: list[tuple[int, object]] = []
    for number, cells in data_rows:
        if len(cells) != len(header):
            out.append((number, FieldError(field="row", reason=f"{len(cells)} cells; the header has {len(header)}",
                                           reason_zh=f"本行有 {len(cells)} 个单元格，表头有 {len(header)} 列")))
            continue
        out.append((number, _finding(dict(zip(header, cells, strict=True)))))
    return out

"""Hazard findings into events, and batch uploads (JSON or a CSV sheet) into checked rows (pure).

Ids derive from what names the submission: a single finding or progress step from the school
and its Idempotency-Key, a batch row from the school and the row's `client_ref`, so re-uploading
the same sheet names the same hazards and publishes duplicates that JetStream and every inbox
recognise.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from shared.bus_seal import producer
from shared.contracts.base import derive_id
from shared.contracts.hazard import (
    BatchFinding,
    HazardFinding,
    HazardProgress,
    HazardProgressed,
    HazardRole,
    ProgressFacts,
    hazard_context,
)
from shared.contracts.incident import Ref
from shared.errors import FieldError, field_errors
from shared.hazard_events import reported_event as reported_event  # intake's routes and tests name it here
from shared.sheets import read_sheet, too_many_rows

MAX_ROWS = 500
COLUMNS = ("client_ref", "school_id", "found_at", "kind", "student_refs", "observed", "risk_level",
           "intervention", "plan", "due_date", "responsible")
_RECTIFICATION = ("plan", "due_date", "responsible")
_REF = TypeAdapter(Ref)


def hazard_id_for(school_id: str, idempotency_key: str) -> uuid.UUID:
    return derive_id("hazard", school_id, idempotency_key)


def batch_hazard_id(school_id: str, client_ref: str) -> uuid.UUID:
    return derive_id("hazard", school_id, "batch", client_ref)


def finding_fingerprint(finding: HazardFinding) -> bytes:
    """What a hazard was first reported with: a re-uploaded row must match it."""
    return hashlib.sha256(finding.model_dump_json().encode()).digest()


def progress_id_for(school_id: str, idempotency_key: str) -> uuid.UUID:
    return derive_id("hazard-progress", school_id, idempotency_key)


def progressed_event(
    hazard_id: uuid.UUID, school_id: str, progress_id: uuid.UUID, seq: int, progress: HazardProgress
) -> HazardProgressed:
    event_id = derive_id("hazard-progressed", progress_id)
    return HazardProgressed(event_id=event_id, hazard_id=hazard_id, school_id=school_id, progress_id=progress_id,
                            seq=seq, schema_version=2,
                            rules=ProgressFacts(at=progress.at, completed=progress.completed),
                            personal=producer().seal(progress.model_dump(mode="json"),
                                                     hazard_context("HazardProgressed", hazard_id, event_id)))


# --- batch rows -----------------------------------------------------------------------------

@dataclass(frozen=True)
class RowCheck:
    """One data row: its finding if valid, else the field errors (never the submitted values)."""

    row: int
    client_ref: str | None
    finding: BatchFinding | None
    errors: list[FieldError]




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
        raise too_many_rows(len(rows), MAX_ROWS)
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
    """Data rows of a UTF-8 sheet, each a finding's body (or that row's error), numbered from 1."""
    return [(n, row if isinstance(row, FieldError) else _finding(row))
            for n, row in read_sheet(data, COLUMNS, max_rows=MAX_ROWS)]

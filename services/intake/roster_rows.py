"""A school's guardian roster (for the letter to every parent) from a CSV sheet into checked rows (pure).

Minimal by design: the letter needs a grade and a way to reach the parent. Columns: `grade` (required),
`class`, `student_ref` (the school's own pseudonymous reference, never a name), `relation`, `phone`,
`email`. A row with neither phone nor e-mail is kept and counted as "no contact" for the bureau.
Each row gets a stable pseudonymous key (an HMAC under INTAKE_DATA_KEY of the school and the student
reference and relation, or else of the contact), so the same parent keeps the same key across
re-uploads and a letter reaches them once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from shared.crypto import Sealer
from shared.errors import FieldError
from shared.sheets import read_sheet

MAX_ROWS = 20000
REQUIRED = ("grade",)
OPTIONAL = ("class", "student_ref", "relation", "phone", "email")
_PHONE = re.compile(r"1[3-9]\d{9}")
_EMAIL = re.compile(r"[^@\s,;]{1,64}@[^@\s,;]{1,190}\.[A-Za-z]{2,24}")
_TEXT = re.compile(r"[^\x00-\x1f]{1,40}")


@dataclass(frozen=True)
class RosterRow:
    key: str
    grade: str
    class_name: str | None
    phone: str | None = field(repr=False)
    email: str | None = field(repr=False)
    student_ref: str | None = field(default=None, repr=False)
    relation: str | None = field(default=None, repr=False)

    def contact_json(self) -> bytes:
        """What is sealed: the contact, and the school's own reference (answered back only to the school)."""
        return json.dumps({"phone": self.phone, "email": self.email, "ref": self.student_ref,
                           "relation": self.relation}, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class RowCheck:
    row: int
    roster_row: RosterRow | None
    errors: list[FieldError]


def contact_aad(school_id: str, key: str) -> bytes:
    return f"roster:{school_id}:{key}".encode()


def normalise_phone(raw: str) -> str | None:
    digits = re.sub(r"[\s-]", "", raw)
    digits = digits.removeprefix("+86").removeprefix("0086")
    return digits if _PHONE.fullmatch(digits) else None


def _error(field: str, reason: str, reason_zh: str) -> FieldError:
    return FieldError(field=field, reason=reason, reason_zh=reason_zh)


def check_record(number: int, cells: dict[str, str], school_id: str, sealer: Sealer) -> RowCheck:
    """One row: its roster row if valid, else its field errors (never the submitted values)."""
    cells = {k: v.strip() for k, v in cells.items()}
    errors: list[FieldError] = []
    grade = cells.get("grade", "")
    if not _TEXT.fullmatch(grade):
        errors.append(_error("grade", "A grade (at most 40 characters) is required.",
                             "须填写年级（不超过 40 个字符）。"))
    for name in ("class", "student_ref", "relation"):
        if cells.get(name) and not _TEXT.fullmatch(cells[name]):
            errors.append(_error(name, "At most 40 characters.", "不超过 40 个字符。"))
    phone = None
    if cells.get("phone"):
        phone = normalise_phone(cells["phone"])
        if phone is None:
            errors.append(_error("phone", "Not a mainland mobile number (11 digits starting with 1).",
                                 "手机号码格式不正确（须为 1 开头的 11 位手机号码）。"))
    email = cells.get("email") or None
    if email and not _EMAIL.fullmatch(email):
        errors.append(_error("email", "Not an e-mail address.", "电子邮箱格式不正确。"))
    if errors:
        return RowCheck(number, None, errors)
    ref = cells.get("student_ref")
    basis = f"ref\x1f{ref}\x1f{cells.get('relation', '')}" if ref else f"contact\x1f{phone or ''}\x1f{email or ''}"
    if not ref and not (phone or email):
        basis = f"row\x1f{number}"  # nothing names this parent: counted as no contact, keyed by its place
    key = sealer.mac("roster", f"{school_id}\x1f{basis}").hex()[:32]
    return RowCheck(number, RosterRow(key, grade, cells.get("class") or None, phone, email, ref or None,
                                      cells.get("relation") or None), [])


def check_sheet(data: bytes, school_id: str, sealer: Sealer) -> list[RowCheck]:
    """Every row on its own; a bad row never blocks a good one; the same parent twice is an error."""
    out: list[RowCheck] = []
    seen: set[str] = set()
    for number, record in read_sheet(data, REQUIRED, OPTIONAL, max_rows=MAX_ROWS):
        if isinstance(record, FieldError):
            out.append(RowCheck(number, None, [record]))
            continue
        check = check_record(number, record, school_id, sealer)
        if check.roster_row is not None and check.roster_row.key in seen:
            check = RowCheck(number, None, [_error("student_ref", "The same guardian appears twice in this sheet.",
                                                   "同一位家长在表中重复出现。")])
        if check.roster_row is not None:
            seen.add(check.roster_row.key)
        out.append(check)
    return out

"""The national student number never leaves intake (pure): it becomes a keyed pseudonym.

With the same PSEUDONYM_KEY as escalation's, the pseudonym lets escalation see the same student
across the schools of the jurisdiction — in incidents and in hazard findings — without anyone
downstream holding the number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TypeVar

from shared.contracts import IncidentReport
from shared.contracts.hazard import HazardFinding
from shared.errors import ApiError, FieldError

R = TypeVar("R", IncidentReport, HazardFinding)


def person_key(key_b64: str, national_id: str) -> str:
    key = base64.b64decode(key_b64)
    return hmac.new(key, f"national\x1f{national_id.upper()}".encode(), hashlib.sha256).hexdigest()


def without_national_ids(report: R, key_b64: str) -> R:
    """The report as it may travel: numbers replaced by pseudonyms (dropped when no key is configured).

    A pseudonym sent by the school itself is refused (422): only intake may derive one.
    """
    if sent := [i for i, s in enumerate(report.students) if s.person_key is not None]:
        raise ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                       errors=[FieldError(field=f"students.{i}.person_key", reason="set by the system, not sent",
                                          reason_zh="该字段由系统生成，请勿填写") for i in sent])
    if not any(s.national_id for s in report.students):
        return report
    students = [
        s.model_copy(update={"national_id": None,
                             "person_key": person_key(key_b64, s.national_id) if key_b64 and s.national_id else None})
        for s in report.students
    ]
    return report.model_copy(update={"students": students})

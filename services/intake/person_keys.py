"""The national student number never leaves intake (pure): it becomes a keyed pseudonym.

With the same PSEUDONYM_KEY as escalation's, the pseudonym lets escalation see the same student
across the schools of the jurisdiction — in incidents, follow-ups and hazard findings — without
anyone downstream holding the number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TypeVar

from shared.contracts import IncidentReport, Student
from shared.contracts.follow_up import FollowUp
from shared.contracts.hazard import HazardFinding, HazardStudent
from shared.errors import ApiError, FieldError

R = TypeVar("R", IncidentReport, HazardFinding)
S = TypeVar("S", Student, HazardStudent)


def person_key(key_b64: str, national_id: str) -> str:
    key = base64.b64decode(key_b64)
    return hmac.new(key, f"national\x1f{national_id.upper()}".encode(), hashlib.sha256).hexdigest()


def _keyed(students: list[S], key_b64: str, field: str) -> list[S] | None:
    """The students with numbers replaced by pseudonyms; None when none carries a number.

    A pseudonym sent by the school itself is refused (422): only intake may derive one.
    """
    if sent := [i for i, s in enumerate(students) if s.person_key is not None]:
        raise ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                       errors=[FieldError(field=f"{field}.{i}.person_key", reason="set by the system, not sent",
                                          reason_zh="该字段由系统生成，请勿填写") for i in sent])
    if not any(s.national_id for s in students):
        return None
    return [
        s.model_copy(update={"national_id": None,
                             "person_key": person_key(key_b64, s.national_id) if key_b64 and s.national_id else None})
        for s in students
    ]


def without_national_ids(report: R, key_b64: str) -> R:
    """The report as it may travel: numbers replaced by pseudonyms (dropped when no key is configured)."""
    students = _keyed(report.students, key_b64, "students")
    return report if students is None else report.model_copy(update={"students": students})


def follow_up_without_national_ids(follow_up: FollowUp, key_b64: str) -> FollowUp:
    """A follow-up's newly found students, as for a report."""
    students = _keyed(follow_up.students_added, key_b64, "students_added")
    return follow_up if students is None else follow_up.model_copy(update={"students_added": students})

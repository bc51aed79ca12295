"""The national student number never leaves intake (pure): it becomes a keyed pseudonym.

With the same PSEUDONYM_KEY as escalation's, the pseudonym lets escalation see the same student
across the schools of the jurisdiction without anyone downstream holding the number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from shared.contracts import IncidentReport


def person_key(key_b64: str, national_id: str) -> str:
    key = base64.b64decode(key_b64)
    return hmac.new(key, f"national\x1f{national_id.upper()}".encode(), hashlib.sha256).hexdigest()


def without_national_ids(report: IncidentReport, key_b64: str) -> IncidentReport:
    """The report as it may travel: numbers replaced by pseudonyms (dropped when no key is configured)."""
    if not any(s.national_id for s in report.students):
        return report
    students = [
        s.model_copy(update={"national_id": None,
                             "person_key": person_key(key_b64, s.national_id) if key_b64 and s.national_id else None})
        for s in report.students
    ]
    return report.model_copy(update={"students": students})

"""A follow-up that changes the persons of an incident (pure): checked against the refs the incident has.

A student is added under a ref the incident does not have yet (the same ref twice would make two duties
and two family notices for one child); guardians are corrected only for a student the incident has,
or one the same follow-up adds. An incident accepted before intake kept refs (none known) is not
checked here: escalation then ignores a ref it already has.
"""

from __future__ import annotations

import uuid

from shared.contracts.follow_up import FollowUp
from shared.errors import ApiError, FieldError


def check_persons(follow_up: FollowUp, known: dict[str, uuid.UUID | None], follow_up_id: uuid.UUID) -> None:
    """422 naming every offending field; `known`: ref → the follow-up that added it (None: the report)."""
    errors = [
        FieldError(field=f"students_added.{i}.ref", reason="the incident already has a student with this ref",
                   reason_zh="该事件中已有使用此编号的学生，请使用新的学生编号")
        for i, s in enumerate(follow_up.students_added)
        # a retried follow-up (same Idempotency-Key) finds its own refs: not a clash
        if s.ref in known and known[s.ref] != follow_up_id
    ]
    added = {s.ref for s in follow_up.students_added}
    seen: set[str] = set()
    for i, g in enumerate(follow_up.guardians_corrected):
        field = f"guardians_corrected.{i}.student_ref"
        if g.student_ref in seen:
            errors.append(FieldError(field=field, reason="corrected twice in one follow-up",
                                     reason_zh="同一学生的监护人信息在一次续报中只能更正一次"))
        elif known and g.student_ref not in known and g.student_ref not in added:
            errors.append(FieldError(field=field, reason="no student of the incident has this ref",
                                     reason_zh="该事件中没有使用此编号的学生"))
        seen.add(g.student_ref)
    if errors:
        raise ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                       errors=errors)

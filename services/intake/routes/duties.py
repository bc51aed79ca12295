"""A school's duties: what it owes (to plan it), and a family told in person or by phone."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.intake import repository_duties
from services.intake.auth import Principal
from services.intake.deps import ERRORS, IdempotencyKey, IntakeDeps, respond
from services.intake.duties import (
    Discharge,
    SchoolDutyPage,
    decode_cursor,
    discharged_event,
    encode_cursor,
    is_family_notice,
    view_of,
)
from services.intake.examples import DISCHARGE_EXAMPLE
from services.intake.repository_duties import SETTLED
from shared.contracts.base import utcnow
from shared.errors import ApiError, ErrorBody, FieldError

NOT_FOUND = ApiError(404, "not_found", "No duty has this id.", "未找到该事项。")
FAMILY_NOTICES_ONLY = ApiError(403, "forbidden", "Only a notice to a family can be marked as told here.",
                               "此处只能登记已当面或电话告知家长的通知事项。")
ALREADY = ApiError(409, "already_settled", "This duty is already met, waived or no longer required.",
                   "该事项已办结、已免除或不再需要办理。")


class DischargeAccepted(BaseModel):
    obligation_id: uuid.UUID
    event_id: uuid.UUID


def router(deps: IntakeDeps) -> APIRouter:
    r = APIRouter(tags=["duties"])
    School = Annotated[Principal, Depends(deps.auth)]  # noqa: N806 - a type alias

    @r.get("/v1/duties", response_model=SchoolDutyPage, responses=ERRORS, summary="Your school's duties")
    async def list_duties(
        school: School,
        state: Annotated[Literal["open", "all"], Query(description="open: not yet met (the default).")] = "open",
        overdue: Annotated[bool | None, Query(description="true: open and past the original deadline now.")]
        = None,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 200,
    ) -> SchoolDutyPage:
        """Every duty of your cases by current deadline, earliest first: your tasks (counselling per victim by the
        student's ref, the warning talk, the sanction, …) and the notices about them (to families, the bureau,
        the police) with their state. Other schools' duties are never listed."""
        try:
            after = decode_cursor(cursor) if cursor else None
        except ValueError:
            raise ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                           errors=[FieldError(field="cursor", reason="Not a cursor from this API.",
                                              reason_zh="分页游标无效，请使用上一页返回的 next_cursor。")]) from None
        now = utcnow()
        rows = await repository_duties.school_duties(
            deps.pool, school.school_id, state == "open", now if overdue else None,
            now if overdue is False else None, after, limit + 1)
        items = [view_of(d, now) for d in rows[:limit]]
        return SchoolDutyPage(items=items, next_cursor=encode_cursor(items[-1]) if len(rows) > limit else None)

    discharge_errors = {**ERRORS, 403: {"model": ErrorBody, "description": "Another school's duty, or not a "
                                        "notice to a family."},
                        404: {"model": ErrorBody, "description": "No such duty."},
                        409: {"model": ErrorBody, "description": "Idempotency-Key reused for a different request, "
                                                                 "or the duty is already met."}}

    @r.post("/v1/duties/{obligation_id}/discharge", status_code=202, response_model=DischargeAccepted,
            responses=discharge_errors, summary="Mark a family as told in person or by phone")
    async def discharge(obligation_id: uuid.UUID, body: Annotated[Discharge, DISCHARGE_EXAMPLE], school: School,
                        idempotency_key: IdempotencyKey) -> JSONResponse:
        """For a notice to a family (a victim's or a perpetrator's guardians) that the school delivered itself:
        also when the notice failed or the family has no phone or e-mail. The duty is then met."""
        duty = await repository_duties.duty(deps.pool, obligation_id)
        if duty is None:
            raise NOT_FOUND
        school.require_school(duty.school_id)
        if not is_family_notice(duty):
            raise FAMILY_NOTICES_ONLY
        event = discharged_event(duty, school.school_id, body, idempotency_key)

        async def accept() -> tuple[int, dict[str, object]]:
            now = await repository_duties.duty(deps.pool, obligation_id)
            if now is not None and now.state in SETTLED and now.state != "done":
                raise ALREADY  # a delivered notice ("done") may still be confirmed as told
            await deps.submissions.publish(event)
            return 202, {"obligation_id": str(obligation_id), "event_id": str(event.event_id)}

        return respond(await deps.submissions.once(
            school.school_id, idempotency_key, f"POST /v1/duties/{obligation_id}/discharge", body, accept))

    return r

"""A school settles a help request without an incident report only by saying why (HelpResolved).

A reply is a message, not an answer that counts: the request's duty is met by a conversion into an
incident or by a resolution with a reason, which the bureau reads in the archive and may contest
(then the request is open again, `contests.py`, and a new resolution or a conversion settles it).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.intake import repository
from services.intake.auth import Principal
from services.intake.deps import ERRORS, IntakeDeps, respond
from services.intake.routes.help_requests import NOT_FOUND
from shared.contracts.base import derive_id
from shared.contracts.help import HelpResolution, HelpResolved
from shared.contracts.incident import ShortText
from shared.contracts.text import NO_CONTROLS
from shared.errors import ApiError

Reason = Annotated[str, StringConstraints(min_length=10, max_length=2000), NO_CONTROLS]
OptionalKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=8, max_length=128,
                                           pattern=r"^[\x21-\x7e]+$")]


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "resolution": "no_bullying", "by": "班主任",
        "reason": "经班主任与双方学生及家长分别谈话核实，系同学间一次性口角，已当面调解并持续关注，未发现欺凌行为。"}]})

    resolution: HelpResolution = Field(description="no_bullying: looked into, not bullying; handled_otherwise: "
                                       "a real problem, handled without an incident report.")
    reason: Reason = Field(description="What the school found and did (at least 10 characters; no child's name). "
                           "The bureau reads it and may contest it.")
    by: ShortText = Field(description="The teacher's role, e.g. 班主任 (not a name).")


class ResolutionAccepted(BaseModel):
    case_code: str
    status: str = "resolved"


_CONFLICT_DOC = {**ERRORS[409], "description": "Already converted into an incident, or already resolved."}


def router(deps: IntakeDeps) -> APIRouter:
    r = APIRouter(tags=["help requests"])
    School = Annotated[Principal, Depends(deps.auth)]  # noqa: N806 - a type alias

    @r.post("/v1/help-requests/{case_code}/resolution", status_code=202, response_model=ResolutionAccepted,
            responses=ERRORS | {404: ERRORS[401], 409: _CONFLICT_DOC},
            summary="The school closes a help request without an incident report, and says why")
    async def resolve(case_code: str, body: Resolution, school: School,
                      idempotency_key: OptionalKey = None) -> JSONResponse:
        """202 once durable. 409 when the request was converted into an incident, or is resolved already
        (unless the bureau contested that resolution: then it may be resolved again, or converted)."""
        case = await repository.help_by_code(deps.pool, case_code)
        if case is None or case.accepted_at is None:
            raise NOT_FOUND
        school.require_school(case.school_id)

        async def accept() -> tuple[int, dict[str, object]]:
            if case.status == "converted":
                raise ApiError(409, "already_converted", "This help request was converted into an incident.",
                               "该求助已转为欺凌事件上报，无需再办结。")
            if case.status == "resolved":
                raise ApiError(409, "already_resolved", "This help request is resolved already.",
                               "该求助已办结。")
            number = case.resolutions + 1
            await deps.submissions.publish(deps.sealing.sections(HelpResolved(
                event_id=derive_id("help-resolved", case.help_id, number), help_id=case.help_id, schema_version=2,
                school_id=case.school_id, resolution=body.resolution, reason=body.reason, by=body.by)))
            await repository.help_resolved(deps.pool, case.help_id, number)
            return 202, {"case_code": case_code, "status": "resolved"}

        if idempotency_key is None:
            status, answer = await accept()
            return JSONResponse(answer, status_code=status)
        return respond(await deps.submissions.once(
            school.school_id, f"help-resolution:{idempotency_key}", f"POST /v1/help-requests/{case_code}/resolution",
            body, accept))

    return r

"""Emergency help requests: students and parents ask through a school's access code; schools answer.

The requester authenticates with the case code and passcode from the first answer
(`X-Passcode` header, never in the URL); the school with its API key.
"""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.intake import repository
from services.intake.auth import Principal, rate_limited
from services.intake.deps import ERRORS, IntakeDeps
from services.intake.examples import HELP_MESSAGE_EXAMPLE, HELP_REQUEST_EXAMPLE
from services.intake.guidance import guidance_zh
from services.intake.help_cases import case_code_for, help_id_for, message_id_for, passcode_for, passcode_matches
from shared.addresses import limit_key
from shared.contracts.base import derive_id
from shared.contracts.help import Author, HelpConverted, HelpMessage, HelpMessageAdded, HelpRequest, HelpRequested
from shared.crypto import Sealer
from shared.errors import ApiError, FieldError

OptionalKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=8, max_length=128,
                                           pattern=r"^[\x21-\x7e]+$")]
Passcode = Annotated[str | None, Header(alias="X-Passcode", max_length=32,
                                        description="The passcode from the first answer.")]


GUIDANCE = "Emergency guidance for the requester, in Chinese (110, the 12355 youth hotline)."
Status = Literal["open", "answered", "converted", "resolved"]


class HelpAccepted(BaseModel):
    case_code: str
    passcode: str
    status_url: str
    guidance_zh: str = Field(description=GUIDANCE)


class MessageAccepted(BaseModel):
    case_code: str
    seq: int


class MessageView(BaseModel):
    seq: int
    author: Author
    at: datetime
    text: str


class HelpView(BaseModel):
    case_code: str
    status: Status = Field(description="open | answered (a reply, not yet settled) | converted (into an incident) "
                           "| resolved (closed by the school with a reason)")
    urgent: bool
    created_at: datetime
    messages: list[MessageView]
    guidance_zh: str = Field(description=GUIDANCE)


class Conversion(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"incident_id": "5c5916e3-5cbe-504a-bcde-37da0515c981"}]})

    incident_id: uuid.UUID = Field(description="An incident this school reported about the same matter.")


class ConversionAccepted(BaseModel):
    case_code: str
    incident_id: uuid.UUID


NOT_FOUND = ApiError(404, "not_found", "No help request matches this code and passcode.", "未找到对应的求助记录。")


def router(deps: IntakeDeps) -> APIRouter:
    r = APIRouter(tags=["help requests"])
    School = Annotated[Principal, Depends(deps.auth)]  # noqa: N806 - a type alias

    def sealer() -> Sealer:
        if deps.help_sealer is None:
            raise ApiError(503, "not_configured", "Help requests are not configured here (INTAKE_DATA_KEY).",
                           "本服务尚未配置紧急求助功能。", headers={"Retry-After": "3600"})
        return deps.help_sealer

    def throttle(bucket: str, address: str | None = None) -> None:
        """The code's (or case's) bucket; with `address`, the sender's own share of it first, so that one
        sender who runs out is refused before taking what the school's other students need."""
        if address is not None and deps.address_limiter is not None:
            wait = deps.address_limiter.acquire(f"{bucket}@{address}")
            if wait is not None:
                raise rate_limited(wait)
        wait = deps.code_limiter.acquire(bucket)
        if wait is not None:
            raise rate_limited(wait)

    async def store_message(help_id: uuid.UUID, author: Author, text: str, key: str | None) -> tuple[uuid.UUID, int]:
        """Sealed and numbered, but invisible until its event is durable."""
        seal = sealer()
        message_id = message_id_for(help_id, author.value, key)
        async with deps.pool.acquire() as conn:
            seq = await repository.add_help_message(
                conn, help_id, message_id, author.value, lambda n: seal.seal(text.encode(), f"{help_id}:{n}".encode()))
        return message_id, seq

    async def add_message(case: repository.HelpCase, author: Author, text: str, key: str | None,
                          status: str) -> int:
        message_id, seq = await store_message(case.help_id, author, text, key)
        await deps.submissions.publish(deps.sealing.sections(HelpMessageAdded(
            event_id=derive_id("help-message-added", message_id), help_id=case.help_id,
            school_id=case.school_id, seq=seq, author=author, text=text, schema_version=2)))
        await repository.help_accepted(deps.pool, case.help_id, seq, status)
        return seq

    async def requester_case(case_code: str, passcode: str | None) -> repository.HelpCase:
        throttle(f"case:{case_code}")
        case = await repository.help_by_code(deps.pool, case_code)
        if case is None or case.accepted_at is None or not passcode or not passcode_matches(
                sealer(), case.help_id, passcode):
            raise NOT_FOUND
        return case

    @r.post("/v1/help-requests", status_code=202, response_model=HelpAccepted, responses=ERRORS,
            summary="Ask for help (紧急求救), anonymously or by name")
    async def request_help(body: Annotated[HelpRequest, HELP_REQUEST_EXAMPLE], request: Request,
                           idempotency_key: OptionalKey = None) -> JSONResponse:
        """No API key: the school's access code routes the request. Keep the case code and passcode."""
        seal = sealer()
        # the client address as uvicorn gives it (X-Forwarded-For only from FORWARDED_ALLOW_IPS)
        throttle(f"code:{body.access_code}", limit_key(request.client.host) if request.client else "")
        school_id = await repository.access_code_school(deps.pool, body.access_code)
        if school_id is None:
            raise ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                           errors=[FieldError(field="access_code", reason="unknown or revoked access code",
                                              reason_zh="学校求助码无效或已停用")])
        help_id = help_id_for(school_id, body.access_code, idempotency_key)
        case_code = case_code_for(help_id)

        async def accept() -> tuple[int, dict[str, object]]:
            await repository.register_help(deps.pool, help_id, case_code, school_id, body.urgent)
            _, seq = await store_message(help_id, Author.requester, body.message, "first-message")
            await deps.submissions.publish(deps.sealing.sections(HelpRequested(
                event_id=derive_id("help-requested", help_id), help_id=help_id, school_id=school_id,
                case_code=case_code, requester=body.requester, message=body.message, urgent=body.urgent,
                schema_version=2)))
            await repository.help_accepted(deps.pool, help_id, seq, "open")
            return 202, {"case_code": case_code, "status_url": f"/v1/help-requests/{case_code}"}

        if idempotency_key is None:
            status, answer = await accept()
            replayed = False
        else:
            done = await deps.submissions.once(school_id, f"help:{idempotency_key}", "POST /v1/help-requests",
                                               body, accept)
            status, answer, replayed = done.status, done.body, done.replayed
        # The passcode is never stored: it is recomputed from the case id; the guidance is shown at once.
        answer = {**answer, "passcode": passcode_for(seal, help_id), "guidance_zh": guidance_zh(body.urgent)}
        return JSONResponse(answer, status_code=status, headers={"Idempotent-Replayed": "true"} if replayed else None)

    @r.get("/v1/help-requests/{case_code}", response_model=HelpView, responses=ERRORS | {404: ERRORS[401]},
           summary="A help request's status and messages (requester with X-Passcode, or the school's key)")
    async def view_help(case_code: str, x_passcode: Passcode = None,
                        authorization: Annotated[str | None, Header()] = None) -> HelpView:
        if authorization:
            school = await deps.auth(authorization)
            case = await repository.help_by_code(deps.pool, case_code)
            if case is None or case.accepted_at is None:
                raise NOT_FOUND
            school.require_school(case.school_id)
        else:
            case = await requester_case(case_code, x_passcode)
        seal = sealer()
        messages = [
            MessageView(seq=seq, author=Author(author), at=at,
                        text=seal.open(ct, f"{case.help_id}:{seq}".encode()).decode())
            for seq, author, at, ct in await repository.help_messages(deps.pool, case.help_id)
        ]
        return HelpView(case_code=case.case_code, status=case.status, urgent=case.urgent,
                        created_at=case.created_at, messages=messages, guidance_zh=guidance_zh(case.urgent))

    @r.post("/v1/help-requests/{case_code}/messages", status_code=202, response_model=MessageAccepted,
            responses=ERRORS | {404: ERRORS[401]}, summary="The requester adds a message")
    async def requester_message(case_code: str, body: Annotated[HelpMessage, HELP_MESSAGE_EXAMPLE],
                                x_passcode: Passcode = None, idempotency_key: OptionalKey = None) -> MessageAccepted:
        case = await requester_case(case_code, x_passcode)
        seq = await add_message(case, Author.requester, body.text, idempotency_key, "open")
        return MessageAccepted(case_code=case_code, seq=seq)

    @r.post("/v1/help-requests/{case_code}/replies", status_code=202, response_model=MessageAccepted,
            responses=ERRORS | {404: ERRORS[401]}, summary="The school answers")
    async def school_reply(case_code: str, body: Annotated[HelpMessage, HELP_MESSAGE_EXAMPLE], school: School,
                           idempotency_key: OptionalKey = None) -> MessageAccepted:
        case = await repository.help_by_code(deps.pool, case_code)
        if case is None or case.accepted_at is None:
            raise NOT_FOUND
        school.require_school(case.school_id)
        seq = await add_message(case, Author.school, body.text, idempotency_key, "answered")
        return MessageAccepted(case_code=case_code, seq=seq)

    @r.post("/v1/help-requests/{case_code}/conversion", status_code=202, response_model=ConversionAccepted,
            responses=ERRORS | {404: ERRORS[401]}, summary="The school converts it into an incident it reported")
    async def convert(case_code: str, body: Conversion, school: School) -> ConversionAccepted:
        case = await repository.help_by_code(deps.pool, case_code)
        if case is None or case.accepted_at is None:
            raise NOT_FOUND
        school.require_school(case.school_id)
        if await repository.incident_owner(deps.pool, body.incident_id) != school.school_id:
            raise ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                           errors=[FieldError(field="incident_id", reason="not an accepted incident of this school",
                                              reason_zh="不是本校已受理的事件")])
        await deps.submissions.publish(HelpConverted(
            event_id=derive_id("help-converted", case.help_id, body.incident_id), help_id=case.help_id,
            school_id=case.school_id, incident_id=body.incident_id))
        await repository.help_accepted(deps.pool, case.help_id, None, "converted", body.incident_id)
        return ConversionAccepted(case_code=case_code, incident_id=body.incident_id)

    @r.get("/v1/help-requests", response_model=list[HelpView], responses=ERRORS,
           summary="The school's help requests, urgent first")
    async def list_help(school: School, status: Annotated[Status | None, Query()] = None) -> list[HelpView]:
        cases = await repository.school_help_cases(deps.pool, school.school_id, status)
        return [HelpView(case_code=c.case_code, status=c.status, urgent=c.urgent, created_at=c.created_at,
                         messages=[], guidance_zh=guidance_zh(c.urgent)) for c in cases]

    return r

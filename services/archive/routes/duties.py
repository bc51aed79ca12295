"""Duties: the list of what is owed within your authority, and an official confirming a notice from their account."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from services.archive import duty_reads
from services.archive.deps import ERRORS, ArchiveDeps, IsoDateTime, stated_purpose
from services.archive.duties import DutyCursor, DutyFilter, DutyPage
from services.archive.listing import CURSOR_PATTERN, SHANGHAI
from services.archive.routes.acts import Accepted
from shared.contracts import RecipientRole
from shared.contracts.text import FreeText
from shared.errors import ApiError, ErrorBody, FieldError
from shared.identity import Official

DutyStateQuery = Literal["open", "settled", "all", "delivered", "failed", "done", "acknowledged", "waived",
                         "not_applicable"]


class Acknowledgement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notification_id: uuid.UUID = Field(description="The notice to confirm (the record's recipients and duties).")


class TaskDone(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: FreeText | None = Field(default=None, max_length=2000, description="How it was done; no child's name.",
                             examples=["经评估，暂不需要转入专门学校，由学校加强教育管理。"])
    evidence_ref: str | None = Field(default=None, max_length=100, description="Where the evidence is kept.",
                                     examples=["乐教专评〔2026〕12号"])


ACK_ERRORS = {**ERRORS,
              403: {"model": ErrorBody, "description": "Not the notice's reader (a school account, or another role)."},
              404: {"model": ErrorBody, "description": "Unknown case or notice, or outside your authority."},
              409: {"model": ErrorBody, "description": "Already confirmed."}}


def _local(at: datetime | None) -> datetime | None:
    """A time without a zone is read in Asia/Shanghai."""
    return at.replace(tzinfo=SHANGHAI) if at is not None and at.tzinfo is None else at


def router(deps: ArchiveDeps) -> APIRouter:
    r = APIRouter(tags=["duties"])
    Reader = Annotated[Official, Depends(deps.official)]  # noqa: N806 - type aliases
    Purpose = Annotated[str, Depends(stated_purpose)]  # noqa: N806

    @r.get("/v1/duties", response_model=DutyPage, responses=ERRORS, summary="Duties within your authority")
    async def list_duties(
        official: Reader, purpose: Purpose,
        school: Annotated[str | None, Query(max_length=64)] = None,
        role: Annotated[RecipientRole | None, Query(description="Who owes it (a notice: its reader).")] = None,
        action: Annotated[str | None, Query(pattern=r"^[a-z_]{1,64}$", examples=["counselling"])] = None,
        state: Annotated[DutyStateQuery, Query(description="open (not settled: open, delivered or failed), "
                                               "settled, all, or one state.")] = "open",
        overdue: Annotated[bool | None, Query(description="true: open and past the original deadline now.")]
        = None,
        due_before: Annotated[IsoDateTime | None, Query(description="Current deadline before this (no zone: "
                                                     "Asia/Shanghai).")] = None,
        due_after: Annotated[IsoDateTime | None, Query(description="Current deadline at or after this.")] = None,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page.",
                                                          json_schema_extra={"pattern": CURSOR_PATTERN})]
        = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> DutyPage:
        """By current deadline, earliest first. A school sees its own duties, the bureau its jurisdiction's, the
        police those of incidents referred to it, the stability office those of wide public attention."""
        try:
            after = DutyCursor.decode(cursor) if cursor is not None else None
        except ValueError:
            raise ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                           errors=[FieldError(field="cursor", reason="Not a cursor from this API.",
                                              reason_zh="分页游标无效，请使用上一页返回的 next_cursor。")]) from None
        f = DutyFilter(school, role.value if role else None, action, state, overdue, _local(due_before),
                       _local(due_after))
        return await duty_reads.duty_page(deps.pool, official, f, after, limit, purpose, deps.clock())

    @r.post("/v1/cases/{case_id}/acknowledgements", status_code=202, response_model=Accepted,
            responses=ACK_ERRORS, summary="Confirm receipt of a notice from your account")
    async def acknowledge(case_id: uuid.UUID, body: Acknowledgement, official: Reader) -> Accepted:
        """For the notice's reader only: a bureau official for the bureau's notice, the police for theirs, the
        stability office for theirs; whether or not the notice's link has expired. The duty is then met."""
        event = await duty_reads.acknowledge(deps.pool, official, case_id, body.notification_id)
        deps.kick()
        return Accepted(event_id=event.event_id, note_zh="已确认收到该通知。")

    @r.post("/v1/cases/{case_id}/duties/{obligation_id}/completion", status_code=202, response_model=Accepted,
            responses=ACK_ERRORS, summary="Report a task your office owes done")
    async def complete(case_id: uuid.UUID, obligation_id: uuid.UUID, body: TaskDone, official: Reader) -> Accepted:
        """For a task owed by the official's own office (the bureau's special-school assessment, say): it is
        recorded done by this account, with a note and where the evidence is kept."""
        event = await duty_reads.task_done(deps.pool, official, case_id, obligation_id, body.note, body.evidence_ref)
        deps.kick()
        return Accepted(event_id=event.event_id, note_zh="已记录该事项办结。")

    return r

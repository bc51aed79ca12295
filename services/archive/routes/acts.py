"""Officials' acts: a bureau official approves a proposed lower level or closure, or reports a look-back done."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from services.archive import acts
from services.archive.deps import ERRORS, ArchiveDeps
from shared.contracts.text import FreeText
from shared.errors import ErrorBody
from shared.identity import Official


class ApprovalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    follow_up_id: uuid.UUID = Field(description="The follow-up whose proposal you approve (from the record).")
    change: Literal["lower", "closure"]
    comment: FreeText = Field(default="", max_length=2000, description="No child's name, please.")


class Accepted(BaseModel):
    event_id: uuid.UUID
    status: str = "accepted"
    note_zh: str


class LookBackDone(BaseModel):
    model_config = ConfigDict(extra="forbid")
    findings: FreeText = Field(default="", max_length=4000, description="The review's findings (no child's name).")


ACT_ERRORS = {**ERRORS, 403: {"model": ErrorBody, "description": "Not a bureau official."},
              404: {"model": ErrorBody, "description": "Unknown case or proposal, or outside your authority."},
              409: {"model": ErrorBody, "description": "Already decided."}}


def router(deps: ArchiveDeps) -> APIRouter:
    r = APIRouter(tags=["acts"])
    Actor = Annotated[Official, Depends(deps.official)]  # noqa: N806 - type alias

    @r.post("/v1/cases/{case_id}/approvals", status_code=202, response_model=Accepted, responses=ACT_ERRORS,
            summary="Approve a proposed lower level or closure")
    async def approve(case_id: uuid.UUID, body: ApprovalRequest, official: Actor) -> Accepted:
        """The change applies once two different bureau officials have approved it (a closure only when
        every required action is done); until then the level in force stands. Approving twice counts once."""
        event = await acts.approve(deps.pool, official, case_id, body.follow_up_id, body.change, body.comment)
        deps.kick()
        return Accepted(event_id=event.event_id, note_zh="已记录您的审批意见；需两名不同的教育局工作人员审批后生效。")

    @r.post("/v1/cases/{case_id}/completion", status_code=202, response_model=Accepted, responses=ACT_ERRORS,
            summary="Report a look-back review (回头看) done")
    async def complete(case_id: uuid.UUID, body: LookBackDone, official: Actor) -> Accepted:
        event = await acts.complete_lookback(deps.pool, official, case_id, body.findings)
        deps.kick()
        return Accepted(event_id=event.event_id, note_zh="已记录“回头看”复查完成。")

    return r

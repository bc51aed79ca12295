"""The letter to every parent (致家长的一封信): the bureau writes it, a second bureau official approves it,
and the bureau (its jurisdiction) and each school (its own share) read the delivery figures."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from services.archive import letters
from services.archive.deps import ERRORS, TEXT, ArchiveDeps
from shared.contracts.letters import LetterAudience
from shared.contracts.text import FreeText
from shared.errors import ErrorBody
from shared.identity import Official


class LetterDraft(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "title": "致全市中小学生家长的一封信", "body": "尊敬的家长：\n为深入开展防治中小学生欺凌专项整治……",
        "audience": {"school_ids": [], "grades": []}}]})

    title: FreeText = Field(min_length=1, max_length=60, pattern=TEXT, description="Short: it is in the SMS.")
    body: FreeText = Field(min_length=1, max_length=20000, pattern=TEXT,
                           description="The letter, in Simplified Chinese.")
    audience: LetterAudience = Field(default_factory=LetterAudience,
                                     description="Empty lists: every school of your jurisdiction, every grade.")


class LetterCreated(BaseModel):
    letter_id: uuid.UUID
    status: str = "draft"
    note_zh: str = "已保存。须由另一名教育局工作人员审核后发送。"


class LetterApprovedAnswer(BaseModel):
    letter_id: uuid.UUID
    event_id: uuid.UUID
    approved_by: str
    status: str = "approved"
    note_zh: str = "已审核，正在按学校分批发送。"


class LetterSummary(BaseModel):
    letter_id: uuid.UUID
    title: str
    created_by: str
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    schools: int
    recipients: int
    no_contact: int
    merged: int
    batches: int
    batches_done: int
    sent: int
    failed: int
    by_sms: int
    by_email: int
    delivered: int
    undelivered: int
    read: int
    wrong_number: int


_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS, 403: {"model": ErrorBody, "description": "Not a bureau official (or, for figures, not a school)."},
    404: {"model": ErrorBody, "description": "No such letter within your authority."},
    409: {"model": ErrorBody, "description": "The author cannot approve the letter (two officials)."}}


def router(deps: ArchiveDeps) -> APIRouter:
    r = APIRouter(tags=["letters"])
    Actor = Annotated[Official, Depends(deps.official)]  # noqa: N806 - type alias

    @r.post("/v1/letters", status_code=201, response_model=LetterCreated, responses=_ERRORS,
            summary="Write a letter to every parent (a draft until a second bureau official approves it)")
    async def create(body: LetterDraft, official: Actor) -> LetterCreated:
        letter_id = await letters.create(deps.pool, official, body.title, body.body, body.audience, deps.clock())
        return LetterCreated(letter_id=letter_id)

    @r.post("/v1/letters/{letter_id}/approve", status_code=202, response_model=LetterApprovedAnswer,
            responses=_ERRORS, summary="Approve a letter written by another bureau official: it is sent")
    async def approve(letter_id: uuid.UUID, official: Actor) -> LetterApprovedAnswer:
        """Once approved, intake fans it out to the schools' rosters and notify sends it at bulk priority.
        Approving again answers the same approval and sends nothing more."""
        event = await letters.approve(deps.pool, official, letter_id, deps.clock())
        deps.kick()
        return LetterApprovedAnswer(letter_id=letter_id, event_id=event.event_id, approved_by=event.approved_by)

    @r.get("/v1/letters", response_model=list[LetterSummary], responses=_ERRORS,
           summary="Letters with their figures: the bureau's jurisdiction, or a school's own share")
    async def list_letters(official: Actor) -> list[dict[str, Any]]:
        return await letters.list_letters(deps.pool, official)

    @r.get("/v1/letters/{letter_id}", responses=_ERRORS,
           summary="A letter and its figures per school (sent, failed, no contact, read)")
    async def letter(letter_id: uuid.UUID, official: Actor) -> dict[str, Any]:
        """`sent`: a gateway accepted it; `delivered` / `undelivered`: the SMS providers' delivery reports
        (the handset got it / the carrier gave up); `failed`: every address refused; `no_contact`: roster rows with
        neither phone nor e-mail; `merged`: rows whose parent the letter reached through another row (a
        parent of two pupils gets one letter); `read`: parents who pressed 已阅 (once each); `wrong_number`:
        letters that reached someone who pressed 号码有误 (the school corrects the row). A school sees its
        own row."""
        return await letters.letter_figures(deps.pool, official, letter_id)

    return r

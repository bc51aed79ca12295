"""Public disclosure of a grave case's handling: the bureau drafts, edits, approves (two officials) and
withdraws; anyone reads what is published (no account)."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from services.archive import disclosures
from services.archive.deps import ERRORS, TEXT, ArchiveDeps, stated_purpose
from shared.contracts.disclosure import MAX_TEXT, DisclosureState
from shared.contracts.text import FreeText
from shared.directory import Directory, load_directory
from shared.errors import ErrorBody
from shared.identity import Official


class Finding(BaseModel):
    category: str = Field(description="personal | class | date | location | quasi_identifier | placeholder")
    category_zh: str
    start: int = Field(description="Character offset in the text (0-based).")
    end: int = Field(description="Exclusive.")
    match: str
    reason_zh: str


class Disclosure(BaseModel):
    disclosure_id: uuid.UUID
    case_id: uuid.UUID
    case_ref: str | None
    school_id: str
    level: str
    level_zh: str
    month: str = Field(description="YYYY-MM")
    title: str
    version: int
    state: DisclosureState
    approvals: list[str] = Field(description="The officials who approved this version (two: published).")
    drafted_by: str
    drafted_at: datetime
    edited_by: str
    edited_at: datetime
    published_at: datetime | None
    withdrawn_at: datetime | None
    text: str
    findings: list[Finding] = Field(description="What the rule refuses in the text now (a draft with findings "
                                    "cannot be approved).")


class DisclosureItem(BaseModel):
    disclosure_id: uuid.UUID
    case_id: uuid.UUID
    school_id: str
    level: str
    level_zh: str
    month: str
    title: str
    version: int
    state: DisclosureState
    approvals: list[str]
    drafted_by: str
    drafted_at: datetime
    edited_by: str
    edited_at: datetime
    published_at: datetime | None
    withdrawn_at: datetime | None


class PublicNotice(BaseModel):
    disclosure_id: uuid.UUID
    month: str = Field(description="YYYY-MM: the finest date a notice gives.")
    level: str
    level_zh: str
    title: str
    text: str
    published_at: datetime


class Edit(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    version: int = Field(ge=1, le=1_000_000, description="The version you edited (409 if it changed meanwhile).")
    text: FreeText = Field(min_length=1, max_length=MAX_TEXT, pattern=TEXT, description="The whole new text.")


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=1_000_000, description="The version you read and approve.")


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: FreeText = Field(min_length=1, max_length=MAX_TEXT, pattern=TEXT, description="Why (kept sealed).")


_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    403: {"model": ErrorBody, "description": "Not a bureau official."},
    404: {"model": ErrorBody, "description": "Unknown, or outside your jurisdiction."},
    409: {"model": ErrorBody, "description": "Not in a state for this: not a closed severe or criminal incident, "
          "a disclosure already there, published or withdrawn, another version, approved by you already."},
    422: {"model": ErrorBody, "description": "An invalid field, or the rule's findings (`errors[].field` = "
          "`text[start:end]`, category and place in the reasons)."},
}


def router(deps: ArchiveDeps) -> APIRouter:
    r = APIRouter(tags=["disclosures"])
    Actor = Annotated[Official, Depends(deps.official)]  # noqa: N806 - type aliases
    Purpose = Annotated[str, Depends(stated_purpose)]  # noqa: N806

    def directory() -> Directory:
        return load_directory(deps.settings.directory_file)

    @r.post("/v1/cases/{case_id}/disclosures", status_code=201, response_model=Disclosure, responses=_ERRORS,
            summary="Draft a public notice of how a closed severe or criminal incident was handled")
    async def draft(case_id: uuid.UUID, official: Actor) -> dict[str, Any]:
        """Written from the record: the level, the month, the jurisdiction instead of the school, the measures
        and the rectification; accountability is left 【待填写】 for the bureau. Edit it, then two different
        bureau officials approve it."""
        disclosure_id = await disclosures.draft(deps.pool, official, case_id, directory(), deps.clock())
        deps.kick()
        return await disclosures.read(deps.pool, official, disclosure_id, directory(), "起草公开通报", deps.clock())

    @r.get("/v1/disclosures", response_model=list[DisclosureItem], responses=_ERRORS,
           summary="The jurisdiction's disclosures, newest first")
    async def listing(official: Actor) -> list[dict[str, Any]]:
        return await disclosures.listing(deps.pool, official)

    @r.get("/v1/disclosures/{disclosure_id}", response_model=Disclosure, responses=_ERRORS,
           summary="A disclosure with its text and the rule's findings")
    async def one(disclosure_id: uuid.UUID, official: Actor, purpose: Purpose) -> dict[str, Any]:
        return await disclosures.read(deps.pool, official, disclosure_id, directory(), purpose, deps.clock())

    @r.put("/v1/disclosures/{disclosure_id}", response_model=Disclosure, responses=_ERRORS,
           summary="A new version of the text (approvals start again)")
    async def edit(disclosure_id: uuid.UUID, body: Edit, official: Actor) -> dict[str, Any]:
        """Refused (422) while the rule finds anything; the same text again changes nothing."""
        out = await disclosures.edit(deps.pool, official, disclosure_id, body.version, body.text, directory(),
                                     deps.clock())
        deps.kick()
        return out

    @r.post("/v1/disclosures/{disclosure_id}/approve", response_model=Disclosure, responses=_ERRORS,
            summary="Approve this version (the rule runs again); the second official's approval publishes it")
    async def approve(disclosure_id: uuid.UUID, body: Approval, official: Actor) -> dict[str, Any]:
        out = await disclosures.approve(deps.pool, official, disclosure_id, body.version, directory(), deps.clock())
        deps.kick()
        return out

    @r.post("/v1/disclosures/{disclosure_id}/withdraw", response_model=Disclosure, responses=_ERRORS,
            summary="Withdraw it: off the public page and feed (the record keeps both acts)")
    async def withdraw(disclosure_id: uuid.UUID, body: Withdrawal, official: Actor) -> dict[str, Any]:
        out = await disclosures.withdraw(deps.pool, official, disclosure_id, body.reason, directory(), deps.clock())
        deps.kick()
        return out

    @r.get("/v1/public/disclosures", response_model=list[PublicNotice], tags=["public"],
           summary="Published notices, newest first (no account)")
    async def public_list(limit: Annotated[int, Query(ge=1, le=100)] = 50) -> list[dict[str, Any]]:
        return await disclosures.public_list(deps.pool, limit)

    @r.get("/v1/public/disclosures/{disclosure_id}", response_model=PublicNotice, tags=["public"],
           responses={404: {"model": ErrorBody, "description": "Not published (or withdrawn)."}},
           summary="One published notice (no account)")
    async def public_one(disclosure_id: uuid.UUID) -> dict[str, Any]:
        return await disclosures.public_one(deps.pool, disclosure_id)

    return r

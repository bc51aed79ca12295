"""The bureau schedules look-backs (回头看): for one school by hand, or for a list of schools with incidents
from before the system (CSV), answered row by row."""

import logging
import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from services.archive import lookbacks
from services.archive.deps import ERRORS, ArchiveDeps
from services.archive.listing import SHANGHAI
from services.archive.lookback_rows import COLUMNS, MAX_ROWS, REASON_MAX, csv_rows, window_of
from shared.directory import load_directory
from shared.errors import ApiError, ErrorBody, FieldError
from shared.identity import Official

log = logging.getLogger("antibully.archive.lookbacks")


class LookBackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "school_id": "demo-school", "reason": "2024 年曾发生欺凌事件（系统上线前），按专项整治要求开展回头看。",
        "due_at": "2026-12-31T17:00:00+08:00"}]})

    school_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    reason: Annotated[str, StringConstraints(min_length=2, max_length=REASON_MAX)] = Field(
        description="Why this school gets a look-back (no child's name). Kept in the record, not in notices.")
    due_at: AwareDatetime | None = Field(default=None, description="By when; default the policy's review period.")


class LookBackAccepted(BaseModel):
    lookback_id: uuid.UUID = Field(description="The look-back's case id (its record, once scheduled).")
    case_ref: str
    event_id: uuid.UUID
    status: str = "accepted"
    note_zh: str


class ImportRow(BaseModel):
    row: int
    school_id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    lookback_id: uuid.UUID | None = Field(default=None, description="accepted: the new look-back; duplicate: the "
                                          "school's look-back already requested or scheduled in the window.")
    errors: list[FieldError] | None = None


class ImportAnswer(BaseModel):
    accepted: int
    duplicate: int
    rejected: int
    rows: list[ImportRow]


_ERRORS = {**ERRORS, 403: {"model": ErrorBody, "description": "Not a bureau official."},
           404: {"model": ErrorBody, "description": "No such school within your jurisdiction."}}
_IMPORT_DOC = (
    f"A UTF-8 sheet (with or without BOM) with the header `school_id,reason` and optionally `due_date` "
    f"(YYYY-MM-DD, Asia/Shanghai), nothing else; at most {MAX_ROWS} rows. Answers **200** row by row: "
    "`accepted` (a look-back is requested, with its id), `duplicate` (the school already has a look-back "
    "requested or scheduled within the policy's `lookback_window`: nothing new, its id given) or `rejected` "
    "(field errors: an unknown school or one outside your jurisdiction, a missing reason, a bad or past date). "
    "`row` counts data rows after the header, blank ones included. Uploading the same sheet again is safe."
)


def router(deps: ArchiveDeps) -> APIRouter:
    r = APIRouter(tags=["acts"])
    directory = load_directory(deps.settings.directory_file)
    try:
        window = window_of(deps.settings.policy_file.read_text(encoding="utf-8"))
    except OSError:
        window = window_of("")
        log.warning("policy file unreadable: look-back imports use a window of %d days", window.days)
    Actor = Annotated[Official, Depends(deps.official)]  # noqa: N806 - type alias

    @r.post("/v1/lookbacks", status_code=202, response_model=LookBackAccepted, responses=_ERRORS,
            summary="Schedule a look-back review (回头看) of a school by hand")
    async def request(body: LookBackRequest, official: Actor) -> LookBackAccepted:
        """The review duty and the bureau's notice follow (escalation), as for a school's first incident.
        The same request again is the same look-back (202, same id)."""
        event = await lookbacks.request_one(deps.pool, directory, official, body.school_id, body.reason,
                                            body.due_at, deps.clock())
        deps.kick()
        return LookBackAccepted(lookback_id=event.lookback_id, case_ref="LB-" + event.lookback_id.hex[:8].upper(),
                                event_id=event.event_id, note_zh="已安排“回头看”复查，值班室将收到复查任务通知。")

    @r.post("/v1/lookbacks/import.csv", response_model=ImportAnswer, description=_IMPORT_DOC,
            responses={**_ERRORS, 413: {"model": ErrorBody, "description": f"More than {MAX_ROWS} rows."},
                       415: {"model": ErrorBody, "description": "Content-Type is not text/csv."}},
            summary="Import a list of schools for look-backs (e.g. incidents from before the system)",
            openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {
                "schema": {"type": "string", "pattern": r"^\ufeff?school_id,reason(,due_date)?\r?\n"},
                "example": f"{','.join(COLUMNS)}\ndemo-school,2024 年曾发生欺凌事件（系统上线前）,2026-12-31\n"}}}})
    async def import_csv(request: Request, official: Actor) -> ImportAnswer:
        known = lookbacks.schools_of(directory, official)  # 403 before reading anything
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in ("text/csv", "application/csv"):
            raise ApiError(415, "unsupported_media_type", "Send the sheet with 'Content-Type: text/csv'.",
                           "请以 Content-Type: text/csv 上传表格。")
        now: datetime = deps.clock()
        rows = csv_rows(await request.body(), known, now.astimezone(SHANGHAI).date())
        outcomes = await lookbacks.import_rows(deps.pool, official, rows, window, now)
        deps.kick()
        counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("accepted", "duplicate", "rejected")}
        return ImportAnswer(**counts, rows=[ImportRow(row=o.row, school_id=o.school_id, status=o.status,
                                                      lookback_id=o.lookback_id, errors=o.errors) for o in outcomes])

    return r

"""Hazard findings (苗头迹象/隐患点) and their rectification progress: one at a time or a whole sheet.

Batch uploads answer per row: a bad row is named with its field errors and never blocks the
good ones. Each good row is published durably under its own id (derived from `client_ref`), so
re-uploading a sheet, e.g. after a 503 or a partly unavailable answer, is always safe.
"""

import logging
import uuid
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.intake import repository
from services.intake.auth import Principal, unavailable
from services.intake.deps import ERRORS, IdempotencyKey, IntakeDeps, respond
from services.intake.examples import (
    HAZARD_BATCH_EXAMPLE,
    HAZARD_EXAMPLE,
    HAZARD_PROGRESS_EXAMPLE,
    HAZARDS_CSV_EXAMPLE,
)
from services.intake.hazard_rows import (
    COLUMNS,
    MAX_ROWS,
    RowCheck,
    batch_hazard_id,
    check_rows,
    csv_column,
    csv_rows,
    finding_fingerprint,
    hazard_id_for,
    json_rows,
    progress_id_for,
    progressed_event,
    reported_event,
)
from services.intake.person_keys import without_national_ids
from shared.bus import safe_error
from shared.contracts.hazard import HazardFinding, HazardProgress
from shared.errors import ApiError, FieldError

log = logging.getLogger("antibully.intake.hazards")


class HazardAccepted(BaseModel):
    hazard_id: uuid.UUID


class ProgressAccepted(BaseModel):
    hazard_id: uuid.UUID
    progress_id: uuid.UUID
    seq: int


class BatchRow(BaseModel):
    row: int
    client_ref: str | None
    status: Literal["accepted", "rejected", "unavailable"]
    hazard_id: uuid.UUID | None = None
    errors: list[FieldError] | None = None


class BatchAnswer(BaseModel):
    accepted: int
    rejected: int
    unavailable: int
    rows: list[BatchRow]


_CONFLICT = FieldError(field="client_ref", reason="This client_ref was already reported with other content; "
                       "report changes as progress or use a new client_ref.",
                       reason_zh="该 client_ref 已以不同内容上报；如有变化请报告整改进展，或使用新的 client_ref。")
_BATCH_ERRORS: dict[int | str, dict[str, object]] = {
    401: ERRORS[401], 422: ERRORS[422], 429: ERRORS[429],
    413: {**ERRORS[413], "description": f"Body too large, or more than {MAX_ROWS} rows."},
    503: {**ERRORS[503], "description": "No row could be made durable; upload the same rows again later."},
}
_BATCH_DOC = (
    f"At most {MAX_ROWS} rows, each with its own `client_ref`. Answers **200** with a status per row: "
    "`accepted` (durable in JetStream, with its `hazard_id`), `rejected` (with field errors) or `unavailable` "
    "(not made durable: upload again; after the first such row the rest are not tried). **503** with "
    "Retry-After only if rows could be published but none was. The hazard id derives from the school and "
    "`client_ref`: uploading the same sheet again answers the same ids and publishes nothing twice; a row "
    "whose `client_ref` was reported with other content is rejected. No Idempotency-Key is needed."
)


def router(deps: IntakeDeps) -> APIRouter:
    r = APIRouter(tags=["hazards"])
    School = Annotated[Principal, Depends(deps.auth)]  # noqa: N806 - a type alias

    @r.post("/v1/hazards", status_code=202, response_model=HazardAccepted, responses=ERRORS,
            summary="Report an early sign or hazard point (苗头迹象/隐患点)")
    async def report_hazard(
        finding: Annotated[HazardFinding, HAZARD_EXAMPLE], school: School, idempotency_key: IdempotencyKey
    ) -> JSONResponse:
        """202 means the finding, its intervention and rectification plan are on disk in JetStream."""
        school.require_school(finding.school_id)
        event = reported_event(hazard_id_for(school.school_id, idempotency_key),
                               without_national_ids(finding, deps.settings.pseudonym_key))

        async def accept() -> tuple[int, dict[str, object]]:
            await repository.register_hazard(deps.pool, event.hazard_id, school.school_id, finding_fingerprint(finding))
            await deps.submissions.publish(event)
            await repository.mark_hazard_accepted(deps.pool, event.hazard_id)
            return 202, {"hazard_id": str(event.hazard_id)}

        return respond(await deps.submissions.once(
            school.school_id, idempotency_key, "POST /v1/hazards", finding, accept))

    @r.post("/v1/hazards/{hazard_id}/progress", status_code=202, response_model=ProgressAccepted,
            responses={**ERRORS, 404: ERRORS[403] | {"description": "No such hazard."}},
            summary="Report rectification progress (整改进展)")
    async def report_progress(
        hazard_id: uuid.UUID, progress: Annotated[HazardProgress, HAZARD_PROGRESS_EXAMPLE], school: School,
        idempotency_key: IdempotencyKey,
    ) -> JSONResponse:
        """A step of the rectification, numbered per hazard; `completed: true` when it is done."""
        owner = await repository.hazard_owner(deps.pool, hazard_id)
        if owner is None:
            raise ApiError(404, "not_found", "No accepted hazard has this id.", "未找到该隐患记录。")
        school.require_school(owner)
        progress_id = progress_id_for(school.school_id, idempotency_key)

        async def accept() -> tuple[int, dict[str, object]]:
            async with deps.pool.acquire() as conn:
                seq = await repository.allocate_seq(conn, "hazard_progress", progress_id, hazard_id)
            await deps.submissions.publish(progressed_event(hazard_id, school.school_id, progress_id, seq, progress))
            return 202, {"hazard_id": str(hazard_id), "progress_id": str(progress_id), "seq": seq}

        return respond(await deps.submissions.once(
            school.school_id, idempotency_key, f"POST /v1/hazards/{hazard_id}/progress", progress, accept))

    async def publish_rows(checks: list[RowCheck], school_id: str, endpoint: str) -> JSONResponse:
        rows: list[BatchRow] = []
        down = False
        for check in checks:
            if check.finding is None:
                rows.append(BatchRow(row=check.row, client_ref=check.client_ref, status="rejected",
                                     errors=check.errors))
            elif down:
                rows.append(BatchRow(row=check.row, client_ref=check.client_ref, status="unavailable"))
            else:
                row = await accept_row(check, school_id)
                down = row.status == "unavailable"
                rows.append(row)
            deps.submissions.outcomes.labels(endpoint, rows[-1].status).inc()
        counts = {s: sum(1 for x in rows if x.status == s) for s in ("accepted", "rejected", "unavailable")}
        if counts["unavailable"] and not counts["accepted"]:
            raise unavailable(deps.settings.retry_after_s)
        answer = BatchAnswer(accepted=counts["accepted"], rejected=counts["rejected"],
                             unavailable=counts["unavailable"], rows=rows)
        return JSONResponse(answer.model_dump(mode="json", exclude_unset=True))

    async def accept_row(check: RowCheck, school_id: str) -> BatchRow:
        assert check.finding is not None
        try:
            travelling = without_national_ids(check.finding, deps.settings.pseudonym_key)
        except ApiError as refused:
            return BatchRow(row=check.row, client_ref=check.client_ref, status="rejected", errors=refused.errors)
        event = reported_event(batch_hazard_id(school_id, check.finding.client_ref), travelling)
        mark = finding_fingerprint(check.finding)
        row, ref = check.row, check.client_ref
        try:
            if await repository.register_hazard(deps.pool, event.hazard_id, school_id, mark) != mark:
                return BatchRow(row=row, client_ref=ref, status="rejected", errors=[_CONFLICT])
            await deps.submissions.publish(event)
            await repository.mark_hazard_accepted(deps.pool, event.hazard_id)
        except ApiError:  # publish failed (logged there); uploading again is safe
            return BatchRow(row=row, client_ref=ref, status="unavailable")
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("hazard registration failed: %s", safe_error(exc))
            return BatchRow(row=row, client_ref=ref, status="unavailable")
        return BatchRow(row=row, client_ref=ref, status="accepted", hazard_id=event.hazard_id)

    @r.post("/v1/hazards/batch", response_model=BatchAnswer, responses=_BATCH_ERRORS,
            summary="Upload a screening sheet's findings as a JSON array", description=_BATCH_DOC,
            openapi_extra={"requestBody": {"content": {"application/json": {"schema": {
                "type": "array", "maxItems": MAX_ROWS, "items": {"$ref": "#/components/schemas/HazardFinding"}}}}}})
    async def upload_batch(rows: Annotated[list[Any], HAZARD_BATCH_EXAMPLE], school: School) -> JSONResponse:
        return await publish_rows(check_rows(json_rows(rows), school.school_id), school.school_id,
                                  "POST /v1/hazards/batch")

    @r.post("/v1/hazards/batch.csv", response_model=BatchAnswer,
            responses={**_BATCH_ERRORS, 415: {**ERRORS[422], "description": "Content-Type is not text/csv."}},
            summary="Upload a screening sheet as CSV (UTF-8)", description=_BATCH_DOC + (
                f" Header row with the columns `{'`, `'.join(COLUMNS)}` in any order, nothing else (never names). "
                "`student_refs`: refs separated by `;`, each `involved` unless written `ref:at_risk`; empty cells "
                "are missing fields; `row` counts data rows after the header, blank ones included."),
            openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {
                "schema": {"type": "string"}, "example": HAZARDS_CSV_EXAMPLE}}}})
    async def upload_csv(request: Request, school: School) -> JSONResponse:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in ("text/csv", "application/csv"):
            raise ApiError(415, "unsupported_media_type", "Send the sheet with 'Content-Type: text/csv'.",
                           "请以 Content-Type: text/csv 上传表格。")
        checks = check_rows(csv_rows(await request.body()), school.school_id, csv_column)
        return await publish_rows(checks, school.school_id, "POST /v1/hazards/batch.csv")

    return r

"""The case list and a case's record, scoped to the reader's authority and logged with their purpose."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from services.archive import reads
from services.archive.deps import ERRORS, ArchiveDeps, IsoDate, stated_purpose
from services.archive.listing import CURSOR_PATTERN, CaseFilter, Cursor
from services.archive.views import CasePage, CaseRecord
from shared.contracts import Level
from shared.errors import ApiError, ErrorBody, FieldError
from shared.identity import Official

NOT_FOUND = ApiError(404, "not_found", "No record for this case.", "未找到该案件的记录。")


def router(deps: ArchiveDeps) -> APIRouter:
    r = APIRouter(tags=["cases"])
    Reader = Annotated[Official, Depends(deps.official)]  # noqa: N806 - type aliases
    Purpose = Annotated[str, Depends(stated_purpose)]  # noqa: N806

    @r.get("/v1/cases", response_model=CasePage, responses=ERRORS, summary="List cases within your authority")
    async def list_cases(
        official: Reader, purpose: Purpose,
        kind: Literal["incident", "hazard", "help", "lookback", "campaign"] | None = None,
        school: Annotated[str | None, Query(max_length=64)] = None,
        jurisdiction: Annotated[str | None, Query(max_length=64)] = None,
        level: Level | None = None,
        status: Literal["open", "closed"] | None = None,
        reported_from: Annotated[IsoDate | None, Query(alias="from", description="First day, Asia/Shanghai.")] = None,
        reported_to: Annotated[IsoDate | None, Query(alias="to", description="Last day, Asia/Shanghai.")] = None,
        overdue: bool | None = None,
        flag: Annotated[str | None, Query(pattern=r"^[a-z_]{1,64}$", examples=["late_report"])] = None,
        referred_to_police: bool | None = None,
        public_attention_wide: bool | None = None,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page.",
                                                          json_schema_extra={"pattern": CURSOR_PATTERN})]
        = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> CasePage:
        """Newest report first. A school sees its own cases, the bureau its jurisdiction's, the police the
        incidents referred to it, the stability office the cases of wide public attention."""
        try:
            after = Cursor.decode(cursor) if cursor is not None else None
        except ValueError:
            raise ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                           errors=[FieldError(field="cursor", reason="Not a cursor from this API.",
                                              reason_zh="分页游标无效，请使用上一页返回的 next_cursor。")]) from None
        f = CaseFilter(kind, school, jurisdiction, level.value if level else None, status, reported_from,
                       reported_to, overdue, flag, referred_to_police, public_attention_wide)
        return await reads.case_page(deps.pool, official, f, after, limit, purpose, deps.clock())

    async def record(case_id: uuid.UUID, official: Official, purpose: str) -> CaseRecord:
        found = await reads.case_record(deps.pool, official, case_id, purpose, deps.clock())
        if found is None:
            raise NOT_FOUND
        return found

    detail_errors = {**ERRORS, 404: {"model": ErrorBody, "description": "Unknown, or outside your authority."}}

    @r.get("/v1/cases/{case_id}", response_model=CaseRecord, responses=detail_errors, summary="A case's record")
    async def get_case(case_id: uuid.UUID, official: Reader, purpose: Purpose) -> CaseRecord:
        """404, not 403, for a case outside your authority: the answer must not confirm that it exists."""
        return await record(case_id, official, purpose)

    @r.get("/v1/incidents/{incident_id}", response_model=CaseRecord, responses=detail_errors,
           summary="A case's record (the first path of this API)")
    async def get_incident(incident_id: uuid.UUID, official: Reader, purpose: Purpose) -> CaseRecord:
        """The same as GET /v1/cases/{case_id}, for any kind of case."""
        return await record(incident_id, official, purpose)

    return r

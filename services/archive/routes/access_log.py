"""The access log, for the bureau: who read which case, when, and why."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.archive import reads
from services.archive.deps import ERRORS, ArchiveDeps, IsoDate, stated_purpose
from services.archive.listing import AccessQuery
from services.archive.scopes import may_read_access_log
from services.archive.views import AccessLogPage
from shared.errors import ApiError, ErrorBody
from shared.identity import Official


def router(deps: ArchiveDeps) -> APIRouter:
    r = APIRouter(tags=["access log"])
    Reader = Annotated[Official, Depends(deps.official)]  # noqa: N806 - type aliases
    Purpose = Annotated[str, Depends(stated_purpose)]  # noqa: N806

    @r.get("/v1/access-log", response_model=AccessLogPage, summary="Reads of cases (bureau only)",
           responses={**ERRORS, 403: {"model": ErrorBody, "description": "Not a bureau account."}})
    async def access_log(
        official: Reader, purpose: Purpose,
        case_id: uuid.UUID | None = None,
        account: Annotated[str | None, Query(max_length=100)] = None,
        day_from: Annotated[IsoDate | None, Query(alias="from", description="First day, Asia/Shanghai.")] = None,
        day_to: Annotated[IsoDate | None, Query(alias="to", description="Last day, Asia/Shanghai.")] = None,
        cursor: Annotated[int | None, Query(ge=1, description="next_cursor of the previous page.")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> AccessLogPage:
        """Newest first; reads by accounts of your jurisdiction. 403 for other roles: the log's existence is
        no secret, only its content. Reading the log is itself logged."""
        if not may_read_access_log(official):
            raise ApiError(403, "forbidden", "Only the bureau reads the access log.", "仅教育局可查阅访问日志。")
        q = AccessQuery(case_id, account, day_from, day_to, cursor, limit)
        return await reads.access_page(deps.pool, official, q, purpose, deps.clock())

    return r

"""The ledger (台账) and supervision figures, for schools and the bureau: JSON, CSV, XLSX, a school's summary."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from services.archive import campaign_start, coverage_reads, ledger_reads, letters
from services.archive.deps import ERRORS, ArchiveDeps, stated_purpose
from services.archive.exports import ledger_csv, ledger_xlsx
from services.archive.ledger import MONTH, Ledger, LedgerInputError, Period, SchoolSummary
from services.archive.listing import SHANGHAI
from services.archive.scopes import may_read_ledger
from shared.directory import load_directory
from shared.errors import ApiError, ErrorBody, FieldError
from shared.identity import Official, OfficialRole

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORBIDDEN = ApiError(403, "forbidden", "The ledger is the schools' and the bureau's; use the case list.",
                     "台账仅供学校和教育局使用，请通过案件列表查阅。")


def _invalid(field: str, reason: str, reason_zh: str) -> ApiError:
    return ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                    errors=[FieldError(field=field, reason=reason, reason_zh=reason_zh)])


def router(deps: ArchiveDeps) -> APIRouter:
    r = APIRouter(tags=["ledger"])
    directory = load_directory(deps.settings.directory_file)
    campaigns = deps.campaigns or {}

    async def ledger_reader(official: Annotated[Official, Depends(deps.official)]) -> Official:
        if not may_read_ledger(official):
            raise FORBIDDEN
        return official

    Reader = Annotated[Official, Depends(ledger_reader)]  # noqa: N806 - type aliases
    Purpose = Annotated[str, Depends(stated_purpose)]  # noqa: N806
    From = Annotated[str | None, Query(  # noqa: N806
        alias="from", json_schema_extra={"pattern": MONTH},
        description="First month (YYYY-MM), Asia/Shanghai; default January of this year.")]
    To = Annotated[str | None, Query(alias="to", json_schema_extra={"pattern": MONTH},  # noqa: N806
                                     description="Last month (YYYY-MM); default this month.")]
    School = Annotated[str | None, Query(max_length=64, description="One school (filters, never widens).")]  # noqa: N806
    errors = {**ERRORS, 403: {"model": ErrorBody, "description": "Not a school or bureau account."}}

    def period(first: str | None, last: str | None) -> Period:
        try:
            return Period.parse(first, last, deps.clock().astimezone(SHANGHAI).date())
        except LedgerInputError as e:
            raise _invalid(e.field, e.reason, e.reason_zh) from None

    async def read(official: Official, first: str | None, last: str | None, school: str | None, action: str,
                   fmt: str, purpose: str) -> Ledger:
        return await ledger_reads.ledger(deps.pool, official, period(first, last), school, directory, action, fmt,
                                         purpose, deps.clock())

    @r.get("/v1/ledger", response_model=Ledger, responses=errors, summary="The ledger within your authority")
    async def get_ledger(official: Reader, purpose: Purpose, first: From = None, last: To = None,
                         school: School = None) -> Ledger:
        """Counts per school and per jurisdiction, by month of report: incidents by level, hazards open and
        rectified, late reports, cases overdue now and ever late, unanswered help requests, repeat cases,
        look-backs due.
        A school sees its own row, the bureau its jurisdiction's schools."""
        return await read(official, first, last, school, "ledger", "json", purpose)

    @r.get("/v1/ledger.csv", response_class=Response, responses={**errors, 200: {"content": {"text/csv": {}}}},
           summary="The ledger as CSV (UTF-8 with BOM, Chinese headers)")
    async def get_ledger_csv(official: Reader, purpose: Purpose, first: From = None, last: To = None,
                             school: School = None) -> Response:
        found = await read(official, first, last, school, "export", "csv", purpose)
        return Response(ledger_csv(found), media_type="text/csv; charset=utf-8",
                        headers=_attachment(f"ledger-{found.period_from}-{found.period_to}.csv"))

    @r.get("/v1/ledger.xlsx", response_class=Response, responses={**errors, 200: {"content": {XLSX: {}}}},
           summary="The ledger as an Excel workbook")
    async def get_ledger_xlsx(official: Reader, purpose: Purpose, first: From = None, last: To = None,
                              school: School = None) -> Response:
        found = await read(official, first, last, school, "export", "xlsx", purpose)
        span = period(first, last)
        sent = await letters.ledger_rows(deps.pool, official, school, span.since(), span.until())
        started = await campaign_start.ledger_progress(deps.pool, directory, official, school, deps.clock())
        covered = await coverage_reads.ledger_coverages(deps.pool, official, campaigns, directory, school, deps.clock())
        return Response(ledger_xlsx(found, sent, started, covered), media_type=XLSX,
                        headers=_attachment(f"ledger-{found.period_from}-{found.period_to}.xlsx"))

    async def school_summary(official: Official, first: str | None, last: str | None, school: str | None,
                             purpose: str) -> SchoolSummary:
        if school is None:
            if official.role is not OfficialRole.school or official.school_id is None:
                raise _invalid("query.school", "Name the school to summarise.", "请指定要汇总的学校。")
            school = official.school_id
        found = await ledger_reads.summary(deps.pool, official, period(first, last), school, directory, purpose,
                                           deps.clock())
        if found is None:
            raise ApiError(404, "not_found", "No such school within your authority.", "您的管辖范围内没有该学校。")
        return found

    summary_errors = {**errors, 404: {"model": ErrorBody, "description": "The school is outside your authority."}}

    @r.get("/v1/ledger/summary", response_model=SchoolSummary, responses=summary_errors,
           summary="A school's summary for the bureau's periodic summary")
    async def get_summary(official: Reader, purpose: Purpose, first: From = None, last: To = None,
                          school: School = None) -> SchoolSummary:
        """The school's figures, month by month, and the cases that need attention by reference only;
        `report_zh` is the same as a Chinese Markdown report. A school account may omit `school`."""
        return await school_summary(official, first, last, school, purpose)

    @r.get("/v1/ledger/summary.md", response_class=Response,  # errors stay JSON in the document too
           responses={**summary_errors, 200: {"content": {"text/markdown": {}}}},
           summary="A school's summary as a Chinese Markdown report")
    async def get_summary_md(official: Reader, purpose: Purpose, first: From = None, last: To = None,
                             school: School = None) -> Response:
        found = await school_summary(official, first, last, school, purpose)
        return Response(found.report_zh, media_type="text/markdown; charset=utf-8")

    return r


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}

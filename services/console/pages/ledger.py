"""The ledger (台账) for schools and the bureau: a filter form and tables, the CSV/XLSX downloads
proxied from the archive, a school's summary; and the access log for the bureau."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.backend import Answer
from services.console.schools import schools_for
from services.console.session import Session
from services.console.web import ConsoleDeps, page_doc

LEDGER_PURPOSE = "查看台账"
EXPORT_PURPOSE = "下载台账"
SUMMARY_PURPOSE = "查看学校台账汇总"
ACCESS_LOG_PURPOSE = "监督查阅记录"
LEDGER_FILTERS = ("from", "to", "school")
ACCESS_FILTERS = ("from", "to", "account", "case_id", "limit")
ROLES = ("school", "bureau")


def filters(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    """The filters the visitor set (empty ones dropped), passed on to the archive as they are."""
    return {n: v.strip() for n in names if (v := request.query_params.get(n)) and v.strip()}


def form_errors(answer: Answer) -> dict[str, str]:
    """The archive names query fields `query.from` or `from`; the form's inputs are `from`."""
    return {k.removeprefix("query."): v for k, v in answer.field_errors().items()}


def attachment(ascii_name: str, name_zh: str) -> str:
    """A download's name: an ASCII fallback for old clients, the Chinese name for the rest (RFC 6266)."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name_zh)}"


def download_names(session: Session, params: dict[str, str], ext: str) -> tuple[str, str]:
    span = "-".join(params.get(k, "") for k in ("from", "to") if params.get(k)) or "this-year"
    school = params.get("school") or session.school_id
    suffix = f"-{school}" if school else ""
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_"
                         for c in f"ledger{suffix}-{span}.{ext}")
    return ascii_name, f"台账{suffix}-{span}.{ext}"


def columns_of(counts: dict[str, Any]) -> list[str]:
    """The count columns, in the archive's order (a month row also carries its `month`)."""
    return [c for c in counts if c != "month"]


def month_rows(months: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"label": m["month"], "counts": m} for m in months]


def ledger_tables(ledger: dict[str, Any], session: Session, params: dict[str, str]) -> dict[str, Any]:
    """What the page's tables show: per school (the bureau) and per month (the jurisdiction, or the school)."""
    period: dict[str, str] = {k: params[k] for k in ("from", "to") if k in params}
    schools: list[dict[str, Any]] = [{"label": s["school_name"] or s["school_id"], "counts": s["totals"],
                "link": "/ledger/summary?" + urlencode(period | {"school": str(s["school_id"])})}
               for s in ledger["schools"]]
    if session.is_bureau and not params.get("school"):
        months = [m for j in ledger["jurisdictions"] for m in j["months"]]
        schools += [{"label": "合计", "counts": j["totals"], "total": True} for j in ledger["jurisdictions"]]
    else:
        months = [m for s in ledger["schools"] for m in s["months"]]
    first = (ledger["jurisdictions"] or ledger["schools"] or [{"totals": {}}])[0]["totals"]
    return {"columns": columns_of(first), "school_rows": schools, "month_rows": month_rows(months)}


FILTER_ORDER = ("from", "to", "school", "account", "case_id", "kind", "level", "status", "format", "cursor")


def shown_filter(stated: dict[str, Any]) -> list[tuple[str, Any]]:
    """An access-log entry's filters in reading order, without the page size the console always sends."""
    rank = {k: i for i, k in enumerate(FILTER_ORDER)}
    return sorted(((k, v) for k, v in stated.items() if k != "limit"), key=lambda kv: (rank.get(kv[0], 99), kv[0]))


def router(deps: ConsoleDeps) -> APIRouter:
    r = APIRouter()
    directory_file = deps.settings.directory_file
    deps.env.filters["shown_filter"] = shown_filter

    def refused(request: Request, answer: Answer) -> Response:
        status = answer.status if answer.status in (403, 404, 422, 429) else 502
        return deps.message(request, "无法查阅", answer.message_zh(), status, back="/ledger")

    @r.get("/ledger", **page_doc())
    async def ledger(request: Request) -> Response:
        session = deps.require(request, *ROLES)
        params = filters(request, LEDGER_FILTERS)
        answer = await deps.backend.archive(session, "GET", "/v1/ledger", purpose=LEDGER_PURPOSE, params=params)
        if answer.status == 422:
            return deps.render(request, "ledger.html", 422, ledger=None, params=params, errors=form_errors(answer),
                               schools=schools_for(directory_file, session), query="")
        if not answer.ok:
            return refused(request, answer)
        return deps.render(request, "ledger.html", ledger=answer.body, params=params, errors={},
                           schools=schools_for(directory_file, session), query=urlencode(params),
                           **ledger_tables(answer.body, session, params))

    async def download(request: Request, ext: str) -> Response:
        session = deps.require(request, *ROLES)
        params = filters(request, LEDGER_FILTERS)
        answer = await deps.backend.archive(session, "GET", f"/v1/ledger.{ext}", purpose=EXPORT_PURPOSE,
                                            params=params)
        if not answer.ok:
            return refused(request, answer)
        ascii_name, name_zh = download_names(session, params, ext)
        return Response(answer.content, media_type=answer.headers.get("content-type"),
                        headers={"Content-Disposition": attachment(ascii_name, name_zh)})

    @r.get("/ledger.csv", **page_doc(download="text/csv"))
    async def ledger_csv(request: Request) -> Response:
        return await download(request, "csv")

    @r.get("/ledger.xlsx", **page_doc(download="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    async def ledger_xlsx(request: Request) -> Response:
        return await download(request, "xlsx")

    @r.get("/ledger/summary", **page_doc())
    async def summary(request: Request) -> Response:
        session = deps.require(request, *ROLES)
        params = filters(request, LEDGER_FILTERS)
        if session.is_bureau and "school" not in params:
            return deps.message(request, "请选择学校", "请在台账中点击某所学校的“汇总”查看该校汇总。", 422,
                                back="/ledger")
        answer = await deps.backend.archive(session, "GET", "/v1/ledger/summary", purpose=SUMMARY_PURPOSE,
                                            params=params)
        if not answer.ok:
            return refused(request, answer)
        return deps.render(request, "ledger_summary.html", summary=answer.body, query=urlencode(params),
                           columns=columns_of(answer.body["totals"]), month_rows=month_rows(answer.body["months"]))

    @r.get("/ledger/summary.md", **page_doc(download="text/markdown"))
    async def summary_md(request: Request) -> Response:
        session = deps.require(request, *ROLES)
        params = filters(request, LEDGER_FILTERS)
        answer = await deps.backend.archive(session, "GET", "/v1/ledger/summary.md", purpose=SUMMARY_PURPOSE,
                                            params=params)
        if not answer.ok:
            return refused(request, answer)
        ascii_name, name_zh = download_names(session, params, "md")
        return Response(answer.content, media_type=answer.headers.get("content-type"),
                        headers={"Content-Disposition": attachment(ascii_name.replace("ledger", "summary", 1),
                                                                   name_zh.replace("台账", "台账汇总", 1))})

    @r.get("/access-log", **page_doc())
    async def access_log(request: Request) -> Response:
        session = deps.require(request, "bureau")
        params = filters(request, ACCESS_FILTERS)
        cursor = request.query_params.get("cursor")
        sent: dict[str, Any] = {**params, **({"cursor": cursor} if cursor else {})}
        answer = await deps.backend.archive(session, "GET", "/v1/access-log", purpose=ACCESS_LOG_PURPOSE,
                                            params=sent)
        if answer.status == 422:
            return deps.render(request, "access_log.html", 422, page=None, params=params,
                               errors=form_errors(answer), next_url=None, first_url=None)
        if not answer.ok:
            return deps.message(request, "无法查阅", answer.message_zh(), answer.status if answer.status in (403, 429)
                                else 502, back="/")
        following = answer.body.get("next_cursor")
        return deps.render(request, "access_log.html", page=answer.body, params=params, errors={},
                           next_url="/access-log?" + urlencode({**params, "cursor": following}) if following else None,
                           first_url="/access-log?" + urlencode(params) if cursor else None)

    return r

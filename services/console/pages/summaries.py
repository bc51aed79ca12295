"""Phase summaries in the console (issue 16): a school's form 阶段总结 (its figures shown, attached by the
archive), and the bureau's page 总结汇总 (who submitted, who not, each summary, the city summary as DOCX)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.campaigns import campaigns_in, chosen
from services.console.pages.ledger import attachment, form_errors
from services.console.pages.school_help import fields
from services.console.web import ConsoleDeps, form_doc, page_doc

LIST_PURPOSE = "查看阶段总结报送情况"
READ_PURPOSE = "查阅学校阶段总结"
EXPORT_PURPOSE = "导出全市总结汇总"
FIGURES_PURPOSE = "填写阶段总结（本校数据）"
SECTIONS = (("achievements", "成效", "本阶段取得的成绩、亮点工作和成功事例"),
            ("problems", "问题", "仍然存在的突出问题和薄弱环节"),
            ("causes", "原因", "问题产生的根源"),
            ("next_steps", "下一步", "下一步的工作计划和措施"))
ROLES = ("school", "bureau")
SCHOOL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def router(deps: ConsoleDeps) -> APIRouter:
    r = APIRouter()
    campaigns_dir = deps.settings.campaigns_dir

    def pick(request: Request) -> tuple[Any, str] | None:
        q = request.query_params
        return chosen(campaigns_dir, q.get("campaign"), q.get("phase"))

    def unknown(request: Request) -> Response:
        return deps.message(request, "未找到", "没有该专项整治活动或阶段。", 404, back="/summaries")

    def query(campaign_id: str, phase_id: str) -> str:
        return urlencode({"campaign": campaign_id, "phase": phase_id})

    @r.get("/summaries", **page_doc())
    async def summaries(request: Request) -> Response:
        session = deps.require(request, *ROLES)
        found = pick(request)
        if found is None:
            return unknown(request)
        campaign, phase = found
        answer = await deps.backend.archive(session, "GET", f"/v1/campaigns/{campaign.id}/summaries",
                                            purpose=LIST_PURPOSE, params={"phase": phase})
        if not answer.ok:
            return deps.message(request, "无法查阅", answer.message_zh(), answer.status if answer.status in
                                (403, 404, 429) else 502, back="/")
        return deps.render(request, "summaries.html", listing=answer.body, campaign=campaign, phase=phase,
                           campaigns=campaigns_in(campaigns_dir), query=query(campaign.id, phase),
                           submitted=request.query_params.get("submitted") == "1")

    @r.get("/summaries/city.docx", **page_doc(download=DOCX))
    async def city(request: Request) -> Response:
        session = deps.require(request, "bureau")
        found = pick(request)
        if found is None:
            return unknown(request)
        campaign, phase = found
        answer = await deps.backend.archive(session, "GET", f"/v1/campaigns/{campaign.id}/city-summary.docx",
                                            purpose=EXPORT_PURPOSE, params={"phase": phase})
        if not answer.ok:
            return deps.message(request, "无法导出", answer.message_zh(), answer.status if answer.status in
                                (403, 404, 429) else 502, back="/summaries")
        return Response(answer.content, media_type=DOCX, headers={"Content-Disposition": attachment(
            f"city-summary-{campaign.id}-{phase}.docx", f"总结汇总-{campaign.id}-{phase}.docx")})

    @r.get("/summaries/{school_id}", **page_doc())
    async def one(request: Request, school_id: str) -> Response:
        session = deps.require(request, *ROLES)
        found = pick(request)
        if found is None or not SCHOOL_ID.fullmatch(school_id):
            return unknown(request)
        campaign, phase = found
        answer = await deps.backend.archive(session, "GET",
                                            f"/v1/campaigns/{campaign.id}/summaries/{quote(school_id, safe='')}",
                                            purpose=READ_PURPOSE, params={"phase": phase})
        if not answer.ok:
            return deps.message(request, "无法查阅", answer.message_zh(), answer.status if answer.status in
                                (403, 404, 422, 429) else 502, back="/summaries?" + query(campaign.id, phase))
        return deps.render(request, "summary.html", summary=answer.body, sections=SECTIONS,
                           query=query(campaign.id, phase))

    async def show_form(request: Request, campaign: Any, phase: str, status: int = 200,
                        values: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> Response:
        session = deps.require(request, "school")
        figures = await deps.backend.archive(session, "GET", f"/v1/campaigns/{campaign.id}/figures",
                                             purpose=FIGURES_PURPOSE)
        return deps.render(request, "school_summary.html", status, campaign=campaign, phase=phase,
                           phase_zh=campaign.phase(phase).zh, figures=figures.body if figures.ok else None,
                           sections=SECTIONS, values=values or {}, errors=errors or {})

    @r.get("/school/summary", **page_doc())
    async def form(request: Request) -> Response:
        deps.require(request, "school")
        found = pick(request)
        if found is None:
            return unknown(request)
        return await show_form(request, *found)

    @r.post("/school/summary", **form_doc("campaign", "phase", *(s[0] for s in SECTIONS)))
    async def submit(request: Request) -> Response:
        session = deps.require(request, "school")
        values = fields(await deps.form(request))
        found = chosen(campaigns_dir, values.get("campaign") or None, values.get("phase") or None)
        if found is None:
            return unknown(request)
        campaign, phase = found
        body = {name: values.get(name, "") for name, _, _ in SECTIONS}
        answer = await deps.backend.archive(session, "POST", f"/v1/campaigns/{campaign.id}/phases/{phase}/summary",
                                            json=body)
        if answer.ok:
            return deps.redirect("/summaries?" + query(campaign.id, phase) + "&submitted=1")
        if answer.status == 422:
            errors = {k.removeprefix("body."): v for k, v in form_errors(answer).items()}
            return await show_form(request, campaign, phase, 422, values, errors or {"form": answer.message_zh()})
        status = answer.status if answer.status in (403, 404, 409, 429) else 502
        return await show_form(request, campaign, phase, status, values, {"form": answer.message_zh()})

    return r

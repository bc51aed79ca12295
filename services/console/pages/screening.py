"""Screening in a campaign phase (issue 16): coverage for schools and the bureau (the uncovered first), a
school's student screening return (findings picked from its hazards, or nothing found explicitly), and the
bureau's screening of a school on the seven aspects. Everything goes to the archive as the signed-in official."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console import screening_forms as forms
from services.console.backend import Answer
from services.console.pages.ledger import attachment
from services.console.pages.school_help import fields
from services.console.schools import schools_for
from services.console.session import Session
from services.console.web import ConsoleDeps, form_doc, page_doc

COVERAGE_PURPOSE = "查看排查覆盖情况"
EXPORT_PURPOSE = "下载排查覆盖情况"
PICK_PURPOSE = "选择排查发现的隐患"
ROLES = ("school", "bureau")
DONE_ZH = {"return": "学生排查报告已报送，数秒后在下表中显示。",
           "screening": "学校排查已记录，存在问题的方面已作为隐患交学校整改，数秒后在下表中显示。"}


def router(deps: ConsoleDeps) -> APIRouter:
    r = APIRouter()

    def campaign_phase(request: Request, values: dict[str, str] | None = None) -> tuple[Any, str] | None:
        source = values if values is not None else request.query_params
        return forms.chosen(forms.campaigns(deps.settings.campaigns_dir), source.get("campaign"), source.get("phase"))

    def no_campaign(request: Request) -> Response:
        return deps.message(request, "未找到", "没有该专项整治活动或阶段。", 404, back="/screening")

    def refused(request: Request, answer: Answer, back: str) -> Response:
        status = answer.status if answer.status in (403, 404, 409, 422, 429) else 502
        return deps.message(request, "无法完成", answer.message_zh(), status, back=back)

    def where(campaign: Any, phase: str) -> dict[str, str]:
        return {"campaign": campaign.id, "phase": phase}

    @r.get("/screening", **page_doc())
    async def coverage(request: Request) -> Response:
        session = deps.require(request, *ROLES)
        found = campaign_phase(request)
        if found is None:
            return no_campaign(request)
        campaign, phase = found
        answer = await deps.backend.archive(session, "GET", f"/v1/campaigns/{campaign.id}/coverage",
                                            purpose=COVERAGE_PURPOSE, params={"phase": phase})
        if not answer.ok:
            return refused(request, answer, "/")
        done = request.query_params.get("done", "")
        return deps.render(request, "screening_coverage.html", coverage=answer.body, campaign=campaign, phase=phase,
                           phases=forms.screening_phases(campaign), query=urlencode(where(campaign, phase)),
                           done=DONE_ZH.get(done))

    @r.get("/screening/coverage.csv", **page_doc(download="text/csv"))
    async def coverage_csv(request: Request) -> Response:
        session = deps.require(request, *ROLES)
        found = campaign_phase(request)
        if found is None:
            return no_campaign(request)
        campaign, phase = found
        answer = await deps.backend.archive(session, "GET", f"/v1/campaigns/{campaign.id}/coverage.csv",
                                            purpose=EXPORT_PURPOSE, params={"phase": phase})
        if not answer.ok:
            return refused(request, answer, "/screening")
        name = f"coverage-{campaign.id}-{phase}.csv"
        return Response(answer.content, media_type=answer.headers.get("content-type"),
                        headers={"Content-Disposition": attachment(name, f"排查覆盖-{campaign.id}-{phase}.csv")})

    # -- the school's student screening return ------------------------------------------------------

    async def hazards(session: Session) -> list[dict[str, Any]]:
        answer = await deps.backend.archive(session, "GET", "/v1/cases", purpose=PICK_PURPOSE,
                                            params={"kind": "hazard", "limit": 200})
        return list(answer.body["items"]) if answer.ok else []

    async def show_return(request: Request, session: Session, campaign: Any, phase: str, status: int = 200,
                          errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                          picked: list[str] | None = None) -> Response:
        return deps.render(request, "screening_return.html", status, campaign=campaign, phase=phase,
                           phase_zh=campaign.phase(phase).zh, hazards=await hazards(session), errors=errors or {},
                           values=values or {}, picked=picked or [])

    @r.get("/screening/return", **page_doc())
    async def return_form(request: Request) -> Response:
        session = deps.require(request, "school")
        found = campaign_phase(request)
        if found is None:
            return no_campaign(request)
        return await show_return(request, session, *found)

    @r.post("/screening/return", **form_doc("campaign", "phase", "students_screened", "parent_talks",
                                            "nothing_found", "hazard_ids", "note"))
    async def file_return(request: Request) -> Response:
        session = deps.require(request, "school")
        form = await deps.form(request)
        values = fields(form)
        found = campaign_phase(request, values)
        if found is None:
            return no_campaign(request)
        campaign, phase = found
        picked = [str(v)[:64] for v in form.getlist("hazard_ids") if isinstance(v, str)]
        answer = await deps.backend.archive(session, "POST", f"/v1/campaigns/{campaign.id}/phases/{phase}/"
                                            "student-screening", json=forms.return_body(values, picked))
        if answer.ok:
            return deps.redirect("/screening?" + urlencode({**where(campaign, phase), "done": "return"}))
        if answer.status == 422:
            errors = forms.form_errors(answer.field_errors()) or {"form": answer.message_zh()}
            return await show_return(request, session, campaign, phase, 422, errors, values, picked)
        return refused(request, answer, "/screening")

    # -- the bureau's screening of a school ------------------------------------------------------------

    def show_screening(request: Request, session: Session, campaign: Any, phase: str, school_id: str,
                       status: int = 200, errors: dict[str, str] | None = None,
                       values: dict[str, str] | None = None) -> Response:
        name = schools_for(deps.settings.directory_file, session).get(school_id)
        if name is None:
            return deps.message(request, "未找到", "您的管辖范围内没有该学校。", 404, back="/screening")
        return deps.render(request, "screening_school.html", status, campaign=campaign, phase=phase,
                           phase_zh=campaign.phase(phase).zh, school_id=school_id, school_name=name,
                           aspects=forms.ASPECTS, risk_levels=forms.RISK_LEVELS, errors=errors or {},
                           values=values or {})

    @r.get("/screening/schools/{school_id}", **page_doc())
    async def screening_form(request: Request, school_id: str) -> Response:
        session = deps.require(request, "bureau")
        found = campaign_phase(request)
        if found is None:
            return no_campaign(request)
        return show_screening(request, session, *found, school_id)

    @r.post("/screening/schools/{school_id}", **form_doc("campaign", "phase", "note"))
    async def file_screening(request: Request, school_id: str) -> Response:
        session = deps.require(request, "bureau")
        values = fields(await deps.form(request))
        found = campaign_phase(request, values)
        if found is None:
            return no_campaign(request)
        campaign, phase = found
        if school_id not in schools_for(deps.settings.directory_file, session):
            return deps.message(request, "未找到", "您的管辖范围内没有该学校。", 404, back="/screening")
        answer = await deps.backend.archive(session, "POST", f"/v1/campaigns/{campaign.id}/phases/{phase}/schools/"
                                            f"{school_id}/screening", json=forms.screening_body(values))
        if answer.ok:
            return deps.redirect("/screening?" + urlencode({**where(campaign, phase), "done": "screening"}))
        if answer.status == 422:
            errors = forms.form_errors(answer.field_errors()) or {"form": answer.message_zh()}
            return show_screening(request, session, campaign, phase, school_id, 422, errors, values)
        return refused(request, answer, "/screening")

    return r

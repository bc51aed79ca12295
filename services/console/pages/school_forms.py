"""The school reports by form what its own system would send by API: an incident, a hazard, a follow-up.

The form's inputs are named by the API's JSON paths; the API alone validates, and its reasons come back
next to the inputs, with everything typed kept. A hidden key made when the form is shown makes a double
submit one report.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console import report_forms
from services.console.formjson import Built
from services.console.labels import zh
from services.console.pages.school_help import fields, new_idem
from services.console.web import ConsoleDeps, form_doc, page_doc

REPORTED = {"incident": ("欺凌事件", "incident"), "hazard": ("隐患线索", "hazard"), "follow-up": ("续报", "incident")}


def router(deps: ConsoleDeps) -> APIRouter:
    r = APIRouter()

    def show(request: Request, template: str, status: int = 200, errors: dict[str, str] | None = None,
             values: dict[str, str] | None = None, **context: Any) -> Response:
        values = values or {}
        return deps.render(request, template, status, errors=errors or {}, values=values,
                           idem=values.get("idem") or new_idem(), forms=report_forms, **context)

    async def submit(request: Request, template: str, path: str, build: Callable[[dict[str, str]], Built],
                     done: Callable[[dict[str, Any]], str], **context: Any) -> Response:
        session = deps.require(request, "school")
        values = fields(await deps.form(request))
        built = build(values)
        idem = values.get("idem", "")
        answer = await deps.backend.intake_as(session, "POST", path, json=built.body,
                                              headers={"Idempotency-Key": idem} if len(idem) >= 8 else {})
        if answer.ok:
            return deps.redirect(done(answer.body))
        if answer.status == 422:
            errors = built.form_errors(answer.field_errors())
            return show(request, template, 422, errors or {"form": answer.message_zh()}, values, **context)
        if answer.status in (403, 404):
            return deps.message(request, "未找到", "未找到该事件，或它不属于本校。", 404, back="/school/duties")
        # 409 (the key reused for other content) or 503: a new key, so that the user may send it again
        return show(request, template, answer.status, {"form": answer.message_zh()}, {**values, "idem": new_idem()},
                    **context)

    @r.get("/school/report", **page_doc())
    async def incident_form(request: Request) -> Response:
        session = deps.require(request, "school")
        return show(request, "school_report.html", values={"reporter.role": zh(session.title or "head", "title")})

    @r.post("/school/report", **form_doc())
    async def incident(request: Request) -> Response:
        session = deps.require(request, "school")
        return await submit(request, "school_report.html", "/v1/incidents",
                            lambda v: report_forms.incident(v, session.school_id or ""),
                            lambda b: f"/school/reported/incident/{b['incident_id']}")

    @r.get("/school/hazard", **page_doc())
    async def hazard_form(request: Request) -> Response:
        deps.require(request, "school")
        return show(request, "school_hazard.html")

    @r.post("/school/hazard", **form_doc())
    async def hazard(request: Request) -> Response:
        session = deps.require(request, "school")
        return await submit(request, "school_hazard.html", "/v1/hazards",
                            lambda v: report_forms.hazard(v, session.school_id or ""),
                            lambda b: f"/school/reported/hazard/{b['hazard_id']}")

    @r.get("/school/cases/{case_id}/follow-up", **page_doc())
    async def follow_up_form(request: Request, case_id: uuid.UUID) -> Response:
        deps.require(request, "school")
        return show(request, "school_follow_up.html", case_id=case_id)

    @r.post("/school/cases/{case_id}/follow-up/start", **form_doc("action", "student_ref"))
    async def follow_up_for_duty(request: Request, case_id: uuid.UUID) -> Response:
        """The form filled in for one duty (from 本校待办事项): posted, so the student's reference stays out of URLs."""
        deps.require(request, "school")
        form = await deps.form(request)
        values = {"completed.0.action": str(form.get("action") or "")[:64],
                  "completed.0.student_ref": str(form.get("student_ref") or "")[:64]}
        return show(request, "school_follow_up.html", values=values, case_id=case_id)

    @r.post("/school/cases/{case_id}/follow-up", **form_doc())
    async def follow_up(request: Request, case_id: uuid.UUID) -> Response:
        return await submit(request, "school_follow_up.html", f"/v1/incidents/{case_id}/follow-ups",
                            report_forms.follow_up, lambda b: f"/school/reported/follow-up/{case_id}",
                            case_id=case_id)

    @r.get("/school/reported/{kind}/{case_id}", **page_doc())
    async def reported(request: Request, kind: str, case_id: uuid.UUID) -> Response:
        session = deps.require(request, "school")
        if kind not in REPORTED:
            return deps.message(request, "页面不存在", "未找到您要访问的页面。", 404, back="/")
        what, case_kind = REPORTED[kind]
        # the case reference, once the archive has the case (it arrives within a second or so)
        cases = await deps.backend.archive(session, "GET", "/v1/cases", purpose="查看上报结果",
                                           params={"kind": case_kind, "limit": 20})
        found = [c for c in cases.body["items"] if c["case_id"] == str(case_id)] if cases.ok else []
        return deps.render(request, "school_reported.html", what=what, kind=kind, case_id=case_id,
                           case=found[0] if found else None)

    return r

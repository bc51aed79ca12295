"""School staff answer their school's help requests: read the thread, reply, convert into an incident the
school reported, or resolve with a reason. Every act goes to intake as the signed-in member of staff."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.backend import Answer
from services.console.labels import zh
from services.console.session import Session
from services.console.web import ConsoleDeps, form_doc, page_doc

CASE_CODE = re.compile(r"^H[A-Za-z0-9]{10}$")
PICK_PURPOSE = "选择关联事件"


def new_idem() -> str:
    return str(uuid.uuid4())


def fields(form: Any) -> dict[str, str]:
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


def router(deps: ConsoleDeps) -> APIRouter:
    r = APIRouter()

    def not_found(request: Request) -> Response:
        # another school's request answers as an unknown one: its existence is not the visitor's to know
        return deps.message(request, "未找到该求助", "未找到该求助记录，或它不属于本校。", 404, back="/school/help")

    def failed(request: Request, answer: Answer, back: str) -> Response:
        return deps.message(request, "操作未完成", answer.message_zh(), 502 if answer.status >= 500 else 409,
                            back=back)

    @r.get("/school/help", **page_doc())
    async def help_list(request: Request, status: str | None = None) -> Response:
        session = deps.require(request, "school")
        params = {"status": status} if status in ("open", "answered", "converted", "resolved") else {}
        answer = await deps.backend.intake_as(session, "GET", "/v1/help-requests", params=params)
        if not answer.ok:
            return failed(request, answer, "/")
        items = sorted(answer.body, key=lambda h: not h["urgent"])  # urgent first, newest order kept
        return deps.render(request, "school_help_list.html", items=items, chosen=status or "")

    async def thread(request: Request, session: Session, code: str, status: int = 200,
                     errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                     notice: str | None = None) -> Response:
        if not CASE_CODE.match(code):
            return not_found(request)
        answer = await deps.backend.intake_as(session, "GET", f"/v1/help-requests/{code}")
        if answer.status in (403, 404):
            return not_found(request)
        if not answer.ok:
            return failed(request, answer, "/school/help")
        cases = await deps.backend.archive(session, "GET", "/v1/cases", purpose=PICK_PURPOSE,
                                           params={"kind": "incident", "limit": 50})
        incidents = cases.body["items"] if cases.ok else []
        values = values or {}
        values.setdefault("by", zh(session.title or "head", "title"))
        return deps.render(request, "school_help_thread.html", status, help=answer.body, incidents=incidents,
                           errors=errors or {}, values=values, notice=notice, idem=values.get("idem") or new_idem())

    @r.get("/school/help/{code}", **page_doc())
    async def help_thread(request: Request, code: str) -> Response:
        session = deps.require(request, "school")
        return await thread(request, session, code)

    async def act(request: Request, code: str, path: str, body: dict[str, Any], values: dict[str, str],
                  idem: bool = True) -> Response:
        session = deps.require(request, "school")
        if not CASE_CODE.match(code):
            return not_found(request)
        headers = {"Idempotency-Key": values["idem"]} if idem and len(values.get("idem", "")) >= 8 else {}
        answer = await deps.backend.intake_as(session, "POST", f"/v1/help-requests/{code}/{path}", json=body,
                                              headers=headers)
        if answer.ok:
            return deps.redirect(f"/school/help/{code}")
        if answer.status in (403, 404):
            return not_found(request)
        if answer.status == 422:
            return await thread(request, session, code, 422, answer.field_errors() or {"form": answer.message_zh()},
                                values)
        return await thread(request, session, code, answer.status, {}, values, notice=answer.message_zh())

    @r.post("/school/help/{code}/replies", **form_doc())
    async def reply(request: Request, code: str) -> Response:
        values = fields(await deps.form(request))
        return await act(request, code, "replies", {"text": values.get("text", "")}, values)

    @r.post("/school/help/{code}/conversion", **form_doc())
    async def convert(request: Request, code: str) -> Response:
        values = fields(await deps.form(request))
        incident_id = values.get("incident_typed") or values.get("incident_id", "")
        return await act(request, code, "conversion", {"incident_id": incident_id}, values, idem=False)

    @r.post("/school/help/{code}/resolution", **form_doc())
    async def resolve(request: Request, code: str) -> Response:
        values = fields(await deps.form(request))
        body = {k: values[k] for k in ("resolution", "reason", "by") if values.get(k)}
        return await act(request, code, "resolution", body, values)

    return r

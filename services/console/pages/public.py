"""Pages for students and parents, no login: ask for help with the school's access code, then read the
school's replies and write again with the case code and passcode.

The access code is the school's (printed on posters), so a poster link may carry it (`/help?code=`);
the case code and passcode are the requester's only key and travel in POST bodies only, never a URL.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from services.console.backend import Answer
from services.console.web import ConsoleDeps, form_doc, page_doc

ACCESS_CODE = re.compile(r"^[A-Za-z0-9]{6,16}$")
CASE_CODE = re.compile(r"^[A-Za-z0-9]{4,32}$")
NOT_FOUND_ZH = "未找到对应的求助记录，请核对求助编号和查询码。"
TOO_MANY_ZH = "尝试次数过多，请稍后再试。如遇危险，请立即拨打 110。"
KINDS = ("student", "parent")


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def help_body(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """The intake request from the form, and what the form itself already knows is missing (pure)."""
    anonymous = _text(form, "requester.anonymous") != "0"
    kind = _text(form, "requester.kind")
    requester: dict[str, Any] = {"kind": kind if kind in KINDS else "student", "anonymous": anonymous}
    errors: dict[str, str] = {}
    if not anonymous:
        for name in ("name", "grade", "phone"):
            if value := _text(form, f"requester.{name}"):
                requester[name] = value
        if "name" not in requester:
            errors["requester.name"] = "请填写姓名，或选择匿名求助"
    body = {"access_code": _text(form, "access_code").upper(), "requester": requester,
            "message": _text(form, "message"), "urgent": _text(form, "urgent") == "1"}
    if not body["message"]:
        errors["message"] = "请写下发生了什么"
    if not body["access_code"]:
        errors["access_code"] = "请填写学校求助码"
    return body, errors


def router(deps: ConsoleDeps) -> APIRouter:
    r = APIRouter()

    def ask_page(request: Request, status: int, values: dict[str, str], errors: dict[str, str],
                 notice: str | None = None, idem: str | None = None) -> Response:
        return deps.render(request, "help_ask.html", status, values=values, errors=errors, notice=notice,
                           idem=idem or str(uuid.uuid4()))

    @r.get("/help", **page_doc())
    async def ask(request: Request, code: str = "") -> Response:
        prefilled = code.strip().upper() if ACCESS_CODE.match(code.strip()) else ""
        return ask_page(request, 200, {"access_code": prefilled, "requester.anonymous": "1",
                                       "requester.kind": "student"}, {})

    @r.post("/help", **form_doc())
    async def send(request: Request) -> Response:
        form = await deps.form(request)
        values = {k: v for k, v in form.items() if isinstance(v, str) and k not in ("csrf", "idem")}
        idem = _text(form, "idem") or str(uuid.uuid4())
        body, errors = help_body(form)
        if errors:
            return ask_page(request, 422, values, errors, idem=idem)
        answer = await deps.backend.intake_public("POST", "/v1/help-requests", json=body,
                                                  headers={"Idempotency-Key": idem})
        if answer.status == 422:
            errors = answer.field_errors()
            if "requester" in errors:  # the contract's own rule on the whole requester: beside the name
                errors["requester.name"] = errors.pop("requester")
            return ask_page(request, 422, values, errors, idem=idem)
        if not answer.ok:
            text = TOO_MANY_ZH if answer.status == 429 else answer.message_zh()
            return ask_page(request, answer.status if answer.status < 500 else 503, values, {}, text, idem)
        return deps.render(request, "help_sent.html", 200, answer=answer.body, urgent=body["urgent"])

    @r.get("/help/case", **page_doc())
    async def case_form(request: Request) -> Response:
        return deps.render(request, "help_case_form.html", 200, values={}, notice=None)

    async def show_case(request: Request, case_code: str, passcode: str, notice: str | None = None,
                        errors: dict[str, str] | None = None, text: str = "") -> Response:
        values = {"case_code": case_code}
        if not (CASE_CODE.match(case_code) and passcode):
            return deps.render(request, "help_case_form.html", 404, values=values, notice=NOT_FOUND_ZH)
        answer = await deps.backend.intake_public("GET", f"/v1/help-requests/{quote(case_code)}",
                                                  headers={"X-Passcode": passcode})
        if not answer.ok:
            status, why = _refusal(answer)
            return deps.render(request, "help_case_form.html", status, values=values, notice=why)
        return deps.render(request, "help_case.html", 200, case=answer.body, passcode=passcode, notice=notice,
                           errors=errors or {}, text=text, idem=str(uuid.uuid4()))

    @r.post("/help/case", **form_doc())
    async def open_case(request: Request) -> Response:
        form = await deps.form(request)
        return await show_case(request, _text(form, "case_code").upper(), _text(form, "passcode"))

    @r.post("/help/case/message", **form_doc())
    async def write(request: Request) -> Response:
        form = await deps.form(request)
        case_code, passcode = _text(form, "case_code").upper(), _text(form, "passcode")
        text = _text(form, "text")
        if not text:
            return await show_case(request, case_code, passcode, errors={"text": "请填写留言内容"})
        if not CASE_CODE.match(case_code):
            return deps.render(request, "help_case_form.html", 404, values={}, notice=NOT_FOUND_ZH)
        answer = await deps.backend.intake_public(
            "POST", f"/v1/help-requests/{quote(case_code)}/messages", json={"text": text},
            headers={"X-Passcode": passcode, "Idempotency-Key": _text(form, "idem") or str(uuid.uuid4())})
        if answer.status == 422:
            return await show_case(request, case_code, passcode, errors=answer.field_errors(), text=text)
        if not answer.ok:
            status, why = _refusal(answer)
            return deps.render(request, "help_case_form.html", status, values={"case_code": case_code},
                               notice=why)
        return await show_case(request, case_code, passcode, notice="留言已发送，学校会看到。")

    return r


def _refusal(answer: Answer) -> tuple[int, str]:
    """Never which part was wrong: a wrong code and a wrong passcode read the same."""
    if answer.status == 429:
        return 429, TOO_MANY_ZH
    if answer.status in (401, 403, 404, 422):
        return 404, NOT_FOUND_ZH
    return 503, answer.message_zh()

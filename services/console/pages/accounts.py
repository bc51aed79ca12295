"""School staff accounts: the bureau (any school of its jurisdiction) and a school's head (its head
teachers and counsellors) list, create and disable them through the archive's /v1/accounts."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.schools import schools_for
from services.console.session import Session
from services.console.web import ConsoleDeps, Forbidden, form_doc, page_doc

FIELDS = ("account_id", "display_name", "title", "school_id", "password")
HEAD_MANAGES = ("head_teacher", "counsellor")
ALL_TITLES = ("head", "head_teacher", "counsellor")
DONE = {"created": "账号已开设。请当面将账号和初始密码交给本人，不要通过短信、微信或邮件发送；"
                   "并提醒本人妥善保管，不要告诉他人。",
        "disabled": "账号已停用：该账号无法再登录，正在使用的登录也已结束。"}


def titles_for(session: Session) -> tuple[str, ...]:
    return ALL_TITLES if session.is_bureau else HEAD_MANAGES


def manages(session: Session, account: dict[str, Any]) -> bool:
    """Whether the page offers to disable this account (the archive decides again)."""
    if account.get("disabled") or account.get("role") != "school":
        return False
    return session.is_bureau or account.get("title") in HEAD_MANAGES


def require_manager(deps: ConsoleDeps, request: Request) -> Session:
    session = deps.require(request, "school", "bureau")
    if not (session.is_bureau or session.is_head):
        raise Forbidden
    return session


def router(deps: ConsoleDeps) -> APIRouter:
    r = APIRouter()
    directory_file = deps.settings.directory_file

    async def page(request: Request, session: Session, status: int = 200, errors: dict[str, str] | None = None,
                   values: dict[str, str] | None = None, notice: str | None = None) -> Response:
        answer = await deps.backend.archive(session, "GET", "/v1/accounts")
        if not answer.ok:
            return deps.message(request, "无法查看账号", answer.message_zh(),
                                answer.status if answer.status in (403, 429) else 502, back="/")
        accounts = [{**a, "manageable": manages(session, a)} for a in answer.body]
        return deps.render(request, "accounts.html", status, accounts=accounts, errors=errors or {},
                           values=values or {}, notice=notice, titles=titles_for(session),
                           schools=schools_for(directory_file, session), idem=str(uuid.uuid4()))

    @r.get("/accounts", **page_doc())
    async def accounts(request: Request) -> Response:
        session = require_manager(deps, request)
        return await page(request, session, notice=DONE.get(request.query_params.get("done", "")))

    @r.post("/accounts", **form_doc("idem", "account_id", "display_name", "title", "password"))
    async def create(request: Request) -> Response:
        session = require_manager(deps, request)
        form = await deps.form(request)
        values = {k: str(form.get(k) or "").strip() for k in FIELDS if k != "password"}
        body: dict[str, Any] = {k: v for k, v in values.items() if k != "school_id"}
        body["password"] = str(form.get("password") or "")
        if session.is_bureau:
            body["school_id"] = values["school_id"] or None
        errors = {k: "请填写此项" for k in ("account_id", "display_name", "title", "password") if not body.get(k)}
        if session.is_bureau and not body.get("school_id"):
            errors["school_id"] = "请选择账号所属学校"
        if errors:
            return await page(request, session, 422, errors, values)
        answer = await deps.backend.archive(session, "POST", "/v1/accounts", json=body,
                                            headers={"Idempotency-Key": str(form.get("idem") or uuid.uuid4())})
        if answer.status == 409:
            return await page(request, session, 409, {"account_id": answer.message_zh()}, values)
        if answer.status == 422:
            errors = answer.field_errors() or {"account_id": answer.message_zh()}
            return await page(request, session, 422, errors, values)
        if not answer.ok:
            return deps.message(request, "未能开设账号", answer.message_zh(),
                                answer.status if answer.status in (403, 429) else 502, back="/accounts")
        return deps.redirect("/accounts?done=created")

    @r.post("/accounts/disable", **form_doc("account_id"))
    async def confirm_disable(request: Request) -> Response:
        """The confirmation page (no change yet): which account, and what disabling does."""
        session = require_manager(deps, request)
        form = await deps.form(request)
        account_id = str(form.get("account_id") or "")
        answer = await deps.backend.archive(session, "GET", "/v1/accounts")
        found = next((a for a in answer.body or [] if a["account_id"] == account_id), None) if answer.ok else None
        if found is None or not manages(session, found):
            return deps.message(request, "无法停用", "未找到您可管理的该账号，或该账号已停用。", 404, back="/accounts")
        return deps.render(request, "account_disable.html", account=found)

    @r.post("/accounts/disable/confirm", **form_doc("account_id"))
    async def disable(request: Request) -> Response:
        session = require_manager(deps, request)
        form = await deps.form(request)
        account_id = str(form.get("account_id") or "")
        answer = await deps.backend.archive(session, "POST", f"/v1/accounts/{quote(account_id, safe='')}/disable")
        if not answer.ok:
            return deps.message(request, "未能停用账号", answer.message_zh(),
                                answer.status if answer.status in (403, 404, 429)
                                else 404 if answer.status == 422 else 502,  # not an account id: none you manage
                                back="/accounts")
        return deps.redirect("/accounts?done=disabled")

    return r

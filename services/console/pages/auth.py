"""Signing in and out, and the home page each role starts from."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.home import at_a_glance
from services.console.session import Session
from services.console.throttle import Throttle
from services.console.web import ConsoleDeps, form_doc, page_doc

# where a login may return to: a page of the console by path only (no query: nothing personal, no open redirect)
_RETURNABLE = re.compile(r"^/(cases|duties|ledger|access-log|accounts|school)(/[A-Za-z0-9_-]+)*$")


def safe_next(path: object) -> str:
    """The page to return to after login (a notice's link to a case), or "" when it is not one of ours."""
    return path if isinstance(path, str) and len(path) <= 200 and _RETURNABLE.match(path) else ""


IDLE_NOTICE = "您已 15 分钟未操作，为保护信息安全已自动退出，请重新登录。"


def ended_notice(request: Request) -> str | None:
    return IDLE_NOTICE if getattr(request.state, "session_ended", False) else None


def router(deps: ConsoleDeps) -> APIRouter:
    r = APIRouter()
    throttle = Throttle(deps.settings.console_login_per_minute, 60.0)

    @r.get("/", **page_doc())
    async def home(request: Request) -> Response:
        session = deps.visitor(request)
        if session is None:
            return deps.render(request, "login.html", notice=ended_notice(request), errors={})
        return deps.render(request, "home.html", glance=await at_a_glance(deps, session))

    @r.get("/login", **page_doc())
    async def login_page(request: Request) -> Response:
        back = safe_next(request.query_params.get("next"))
        if deps.visitor(request) is not None:
            return deps.redirect(back or "/")
        return deps.render(request, "login.html", notice=ended_notice(request), errors={}, next=back)

    @r.post("/login", **form_doc("username", "password", "next"))
    async def login(request: Request) -> Response:
        form = await deps.form(request)
        back = safe_next(form.get("next"))
        username, password = str(form.get("username") or "").strip(), str(form.get("password") or "")
        errors = {k: "请填写此项" for k, v in (("username", username), ("password", password)) if not v}
        if errors:
            return deps.render(request, "login.html", 422, notice=None, errors=errors, username=username, next=back)
        client = request.client.host if request.client else "-"
        if (wait := throttle.acquire(client)) is not None:
            return deps.render(request, "login.html", 429, notice=f"登录尝试过于频繁，请 {int(wait) + 1} 秒后再试。",
                               errors={}, username=username, next=back)
        answer = await deps.backend.login(username, password, client)
        if not answer.ok:
            return deps.render(request, "login.html", answer.status if answer.status in (401, 422, 429) else 503,
                               notice=answer.message_zh(), errors={}, username=username, next=back)
        who = answer.body["official"]
        deps.start_session(request, Session(
            token=answer.body["access_token"], account_id=who["account_id"], name=who["display_name"],
            role=who["role"], jurisdiction=who["jurisdiction"], school_id=who.get("school_id"),
            title=who.get("title"), last_seen=deps.clock().timestamp()))
        return deps.redirect(back or "/")

    @r.post("/logout", **form_doc())
    async def logout(request: Request) -> Response:
        await deps.form(request)
        session = deps.visitor(request)
        if session is not None:
            await deps.backend.logout(session)
        deps.end_session(request)
        return deps.render(request, "login.html", notice="您已安全退出。", errors={})

    return r

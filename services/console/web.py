"""What every page handler shares: the visitor's session and CSRF secret, rendering, and refusals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from services.console import labels
from services.console.backend import Backend
from services.console.schools import school_name
from services.console.security import Csrf
from services.console.session import CSRF_COOKIE, SESSION_COOKIE, Session, SessionCodec, idle
from shared.config import Settings
from shared.contracts.base import utcnow

TEMPLATES = Path(__file__).with_name("templates")

# The console's OpenAPI document (not served: tests read app.openapi() and fuzz it with schemathesis).
# Every page answers HTML, whatever its status; a body over the limit is shared.http's JSON 413.
_STATUS = {
    200: "The page (a form shown again says what to correct).",
    303: "See other: after a form is taken, or to the login page.",
    401: "Not signed in, or the session has ended: the login page.",
    403: "Not for this role, or a form without this visitor's CSRF token (refused, nothing done).",
    404: "No such page, case or help request within your authority.",
    409: "The archive or intake refused the act in the case's state.",
    422: "A field to correct: the form again, with the reasons.",
    429: "Too many attempts (logins, help requests): try later.",
}
_HTML = {"content": {"text/html": {"schema": {"type": "string"}}}}
PAGE_STATUSES = (200, 303, 401, 403, 404, 422, 429)
FORM_STATUSES = (200, 303, 401, 403, 404, 409, 422, 429)


def _responses(statuses: tuple[int, ...], ok: dict[str, Any] | None = None) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {s: {"description": _STATUS[s], **({} if s == 303 else _HTML)}
                                            for s in statuses}
    if ok is not None:
        out[200] = {"description": _STATUS[200], "content": {**ok, **_HTML["content"]}}
    return out | {413: {"description": "The body is larger than the console takes.",
                        "content": {"application/json": {"schema": {"type": "object"}}}}}


def page_doc(*, download: str | None = None) -> dict[str, Any]:
    """A GET page's documented answers (a download: its file, or an HTML page saying why not)."""
    ok = {download: {"schema": {"type": "string"}}} if download else None
    return {"responses": _responses(PAGE_STATUSES, ok)}


def form_doc(*fields: str) -> dict[str, Any]:
    """A form post's documented answers and its form: the CSRF token, the named fields (text), maybe others
    (the report forms' numbered rows)."""
    properties = {"csrf": {"type": "string"}} | {f: {"type": "string"} for f in fields}
    return {"responses": _responses(FORM_STATUSES), "openapi_extra": {"requestBody": {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["csrf"], "properties": properties,
            "additionalProperties": {"type": "string"}}}}}}}


class LoginRequired(Exception):
    """No session (or an idle one): the login page, saying why."""

    def __init__(self, ended: bool = False) -> None:
        super().__init__("login required")
        self.ended = ended


class Forbidden(Exception):
    """Signed in, but this page is not for this role."""


class CsrfRefused(Exception):
    """A form without this visitor's CSRF token (posted from elsewhere, or from a page before login)."""


@dataclass
class ConsoleDeps:
    settings: Settings
    backend: Backend
    codec: SessionCodec
    csrf: Csrf
    clock: Callable[[], datetime] = field(default=utcnow)
    env: Environment = field(init=False)

    def __post_init__(self) -> None:
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                               trim_blocks=True, lstrip_blocks=True)
        labels.install(self.env)
        self.env.filters["school"] = lambda school_id: school_name(self.settings.directory_file, school_id)

    # -- the session -------------------------------------------------------------------------

    def visitor(self, request: Request) -> Session | None:
        found: Session | None = getattr(request.state, "session", None)
        return found

    def require(self, request: Request, *roles: str) -> Session:
        session = self.visitor(request)
        if session is None:
            raise LoginRequired(ended=bool(getattr(request.state, "session_ended", False)))
        if roles and session.role not in roles:
            raise Forbidden
        return session

    def start_session(self, request: Request, session: Session) -> None:
        request.state.session = session
        request.state.csrf_secret = self.csrf.new_secret()  # renewed at login
        request.state.csrf_renewed = True

    def end_session(self, request: Request) -> None:
        request.state.session = None
        request.state.session_cleared = True

    async def form(self, request: Request) -> FormData:
        """The posted form, once its CSRF token is checked."""
        form = await request.form()
        token = form.get("csrf")
        if not self.csrf.valid(request.cookies.get(CSRF_COOKIE), token if isinstance(token, str) else None):
            raise CsrfRefused
        return form

    # -- rendering -----------------------------------------------------------------------------

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        session = self.visitor(request)
        html = self.env.get_template(template).render(
            request=request, session=session, csrf=self.csrf.token(request.state.csrf_secret),
            dev=self.settings.console_dev_mode, **context)
        return HTMLResponse(html, status_code=status)

    def message(self, request: Request, title: str, text: str, status: int = 200, back: str | None = None
                ) -> HTMLResponse:
        return self.render(request, "message.html", status, title=title, text=text, back=back)

    @staticmethod
    def redirect(url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=303)

    # -- the middleware: load the session before, write the cookies after ----------------------

    async def middleware(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        now = self.clock()
        session = self.codec.decode(request.cookies.get(SESSION_COOKIE))
        request.state.session_ended = False
        if session is not None and idle(session, now, self.settings.console_idle_timeout_s):
            session, request.state.session_ended = None, True
        request.state.session = session
        secret = request.cookies.get(CSRF_COOKIE)
        request.state.csrf_renewed = not secret
        request.state.csrf_secret = secret or self.csrf.new_secret()
        response = await call_next(request)
        secure = not self.settings.console_dev_mode
        current = self.visitor(request)
        if current is not None:
            current.last_seen = now.timestamp()
            response.set_cookie(SESSION_COOKIE, self.codec.encode(current), httponly=True, secure=secure,
                                samesite="lax", path="/")
        elif getattr(request.state, "session_cleared", False) or request.state.session_ended:
            response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, secure=secure, samesite="lax")
        if request.state.csrf_renewed:
            response.set_cookie(CSRF_COOKIE, request.state.csrf_secret, httponly=True, secure=secure,
                                samesite="lax", path="/")
        return response

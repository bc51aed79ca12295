"""notify's small HTTP edge: the acknowledgement page a signed link opens (zh-CN, for a phone).

GET only shows the page (mail scanners prefetch links); the button POSTs the acknowledgement,
which is recorded once and published as NotificationAcknowledged.
"""

import html
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import FastAPI, Path
from fastapi.responses import HTMLResponse
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from services.console.security import SecurityHeaders
from services.notify import repository
from services.notify.family_page import form as family_form
from services.notify.handlers import notice_aad
from services.notify.link_page import page, stylesheet_router
from services.notify.links import LinkClaims, LinkError, Links
from services.notify.templates import FAMILY_ROLES
from shared.contracts import NotificationAcknowledged, RecipientRole
from shared.contracts.base import derive_id, utcnow
from shared.crypto import Sealer
from shared.errors import ErrorBody
from shared.http import install_common
from shared.outbox import OutboxRelay, enqueue


@dataclass
class NotifyDeps:
    pool: asyncpg.Pool
    relay: OutboxRelay
    links: Links | None
    tracer_provider: TracerProvider
    registry: CollectorRegistry
    sealer: Sealer | None = None


RECEIPT_MAX_BYTES = 1024 * 1024  # an Aliyun or Tencent batch of 1000 delivery reports, with room

_ERRORS = {
    "forged": (400, "链接无效", "该确认链接无效或不完整，请从通知邮件中重新打开，或联系发出通知的单位。"),
    "expired": (410, "链接已过期", "该确认链接已过期。请联系教育局值班室确认您已收到通知。"),
}


# What notify's pages answer, for its OpenAPI document (not served: notify is public; tests read app.openapi()).
# Every page is HTML, whatever its status; the JSON errors are those of shared.http (a body too large).
_PAGE_STATUS = {
    200: "The page.",
    400: "The link is not one notify signed (链接无效).",
    404: "The link is valid but leads to nothing here (no such letter, or a notice that takes no message).",
    410: "The link has expired (链接已过期).",
    422: "The message is empty or too long; the form is shown again.",
    429: "A notice's daily number of messages is reached.",
    503: "Links are not configured on this server (LINK_KEY).",
}
TOKEN_PATTERN = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"  # base64url claims "." base64url MAC (links.py)
Token = Annotated[str, Path(description="The signed link from the notice (SMS or e-mail).",
                            json_schema_extra={"pattern": TOKEN_PATTERN})]


def page_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented answers of a page: HTML for each status, JSON for a body over the limit (413)."""
    html_page = {"content": {"text/html": {"schema": {"type": "string"}}}}
    out: dict[int | str, dict[str, Any]] = {s: {"description": _PAGE_STATUS[s], **html_page} for s in statuses}
    return out | {413: {"model": ErrorBody, "description": "The body is larger than notify takes."}}


LINK_PAGE = (200, 400, 410, 503)  # what any link answers before its own outcome


def link_claims(deps: NotifyDeps, token: str) -> LinkClaims | HTMLResponse:
    """The link's claims, or the page saying why it does not open."""
    if deps.links is None:
        return page("暂不可用", "<p>本服务尚未配置确认链接。</p>", 503)
    try:
        return deps.links.verify(token, utcnow())
    except LinkError as exc:
        status, title, text = _ERRORS[exc.reason]
        return page(title, f"<p>{text}</p>", status)


def create_app(deps: NotifyDeps) -> FastAPI:
    app = FastAPI(title="antibully notify", version="1", docs_url=None, redoc_url=None, openapi_url=None)
    # a family's message (family_messages.py) is a form of up to 1000 characters, URL-encoded; the SMS
    # providers' receipt pushes batch up to ~1000 reports (~300 bytes each) in one body
    install_common(app, deps.tracer_provider, deps.registry, 16384, larger_bodies={"/receipts/": RECEIPT_MAX_BYTES})
    app.add_middleware(SecurityHeaders)  # the console's: strict CSP, no-store, no framing
    app.include_router(stylesheet_router())

    def claims(token: str) -> LinkClaims | HTMLResponse:
        return link_claims(deps, token)

    @app.get("/ack/{token}", response_class=HTMLResponse, responses=page_responses(*LINK_PAGE),
             summary="A notice's page: the acknowledgement button, or a family's message form")
    async def show(token: Token) -> HTMLResponse:
        c = claims(token)
        if isinstance(c, HTMLResponse):
            return c
        ref = html.escape(c.case_ref)
        notice = await _notice(c.notification_id)
        sent = await repository.delivery(deps.pool, c.notification_id)
        if sent is not None and sent[1] in FAMILY_ROLES:  # a family writes back here; it confirms nothing
            return page("案件通知", f"<p>案件编号：<strong>{ref}</strong></p>{notice}"
                         + family_form(f"{token}/message", uuid.uuid4()))
        done = await repository.acknowledged_at(deps.pool, c.notification_id)
        if done is not None:
            return page("已确认", f"<p>案件编号 {ref} 的通知已于 {done:%Y-%m-%d %H:%M} (UTC) 确认收到。</p>{notice}")
        return page("确认收到通知", f"""<p>案件编号：<strong>{ref}</strong></p>{notice}
<p>请确认您已收到以上通知，并将按要求处理。</p>
<form method="post" class="actions"><button type="submit">确认收到</button></form>""")

    async def _notice(notification_id: uuid.UUID) -> str:
        """The notice as this link's reader got it (only they hold the link), or a pointer to the archive."""
        sealed = await repository.notice(deps.pool, notification_id) if deps.sealer else None
        if deps.sealer is None or sealed is None:
            return "<p>详情请凭案件编号在专门档案系统中查阅，或联系发出通知的单位。</p>"
        text = deps.sealer.open(sealed, notice_aad(notification_id)).decode()
        return f'<div class="quoted">{html.escape(text)}</div>'


    @app.post("/ack/{token}", response_class=HTMLResponse, responses=page_responses(*LINK_PAGE),
              summary="Acknowledge a notice (recorded once)")
    async def acknowledge(token: Token) -> HTMLResponse:
        c = claims(token)
        if isinstance(c, HTMLResponse):
            return c
        async with deps.pool.acquire() as conn, conn.transaction():
            first = await repository.acknowledge(conn, c.notification_id)
            if first is not None:
                incident_id, role = first
                await enqueue(conn, acknowledged_event(c.notification_id, incident_id, role))
        deps.relay.kick()
        return page("已确认", f"<p>已确认收到案件编号 {html.escape(c.case_ref)} 的通知，谢谢。</p>")

    return app


def acknowledged_event(notification_id: uuid.UUID, incident_id: uuid.UUID, role: str) -> NotificationAcknowledged:
    return NotificationAcknowledged(event_id=derive_id("notification-acknowledged", notification_id),
                                    incident_id=incident_id, notification_id=notification_id,
                                    role=RecipientRole(role))

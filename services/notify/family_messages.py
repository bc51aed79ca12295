"""A family writes to the school through its notice's page: `POST /ack/{token}/message` (a plain form).

The signed token says which notice — and so which case and which family role; only notices to a
family take messages. Each is published as FamilyMessageAdded through notify's outbox, in the same
transaction that counts it against the notice's daily limit; the archive keeps the text sealed and
shows it to the school and the bureau. notify keeps no text.
"""

from __future__ import annotations

import html
import uuid
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.notify import repository
from services.notify.api import LINK_PAGE, NotifyDeps, Token, link_claims, page_responses
from services.notify.family_page import MAX_CHARS, PER_DAY, WHAT_HAPPENS_ZH, clean, form, refusal
from services.notify.link_page import page
from services.notify.templates import FAMILY_ROLES
from shared.bus_seal import producer
from shared.contracts import RecipientRole
from shared.contracts.base import derive_id
from shared.contracts.notification import FamilyMessageAdded
from shared.outbox import enqueue


def message_event(notification_id: uuid.UUID, nonce: uuid.UUID, incident_id: uuid.UUID, role: str,
                  text: str) -> FamilyMessageAdded:
    """The same form (nonce) sent twice is one message."""
    return producer().sections(FamilyMessageAdded(
        event_id=derive_id("family-message", notification_id, nonce), incident_id=incident_id, schema_version=2,
        notification_id=notification_id, role=RecipientRole(role), text=text))


# The form as family_page.form makes it: the text (a visible character at least once the control characters
# are removed; at most MAX_CHARS) and the form's nonce (anything else makes a new one).
_FORM = {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "required": ["text"], "properties": {
        "text": {"type": "string", "maxLength": MAX_CHARS, "pattern": r"[^\s\x00-\x1f\x7f]"},
        "nonce": {"type": "string", "format": "uuid"}}}}}}}


def family_messages_router(deps: NotifyDeps) -> APIRouter:
    router = APIRouter()

    @router.post("/ack/{token}/message", response_class=HTMLResponse,
                 responses=page_responses(*LINK_PAGE, 404, 422, 429), openapi_extra=_FORM,
                 summary="A family's message to the school, through its notice's page")
    async def write(token: Token, request: Request) -> HTMLResponse:
        c = link_claims(deps, token)
        if isinstance(c, HTMLResponse):
            return c
        sent = await repository.delivery(deps.pool, c.notification_id)
        if sent is None or sent[1] not in FAMILY_ROLES:
            return page("无法留言", "<p>该通知不支持留言。如需联系，请直接联系发出通知的单位。</p>", 404)
        incident_id, role = sent
        fields = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        text = clean(fields.get("text", ""))
        try:
            nonce = uuid.UUID(fields.get("nonce", ""))
        except ValueError:
            nonce = uuid.uuid4()  # a form from elsewhere: taken once, like any other
        if problem := refusal(text):
            return page("给学校留言", form("message", nonce, text[:2000], problem), 422)
        event = message_event(c.notification_id, nonce, incident_id, role, text)
        async with deps.pool.acquire() as conn, conn.transaction():
            outcome = await repository.add_family_message(conn, event.event_id, c.notification_id, PER_DAY)
            if outcome == "added":
                await enqueue(conn, event)
        if outcome == "limited":
            return page("留言过于频繁", f"<p>同一通知每天最多可留言 {PER_DAY} 次，请明天再试，或直接与学校联系。"
                         "如遇紧急危险，请立即拨打 110。</p>", 429)
        deps.relay.kick()
        ref = html.escape(c.case_ref)
        return page("留言已发送", f"<p>您关于案件编号 {ref} 的留言已发送给学校。</p><p>{WHAT_HAPPENS_ZH}</p>")

    return router

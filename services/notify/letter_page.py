"""The page a parent's letter link opens (zh-CN, for a phone): the letter and an "已阅" button.

GET only shows it (mail scanners prefetch links); the button POSTs the read, recorded once per parent
and published as LetterRead (counts per school at the archive). A wrong number is not reported here:
the parent tells the school, which corrects its roster (PATCH /v1/rosters/rows/{key} at intake).
"""

import html
import uuid

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from services.notify import repository_letters as sql
from services.notify.api import NotifyDeps, link_claims, page
from services.notify.letters import parse_ref
from shared.contracts.base import derive_id
from shared.contracts.letters import LetterRead
from shared.outbox import enqueue

_GONE = ("链接无效", "<p>该链接无效，请从短信或邮件中重新打开。</p>")


def letter_read_event(letter_id: uuid.UUID, school_id: str, key: str) -> LetterRead:
    return LetterRead(event_id=derive_id("letter-read", letter_id, key), letter_id=letter_id, school_id=school_id,
                      recipient_key=key)


def letter_router(deps: NotifyDeps) -> APIRouter:
    r = APIRouter()

    def _letter_html(title: str, body: str) -> str:
        return (f'<h2>{html.escape(title)}</h2><div style="white-space:pre-wrap;border:1px solid #ccc;'
                f'padding:1em">{html.escape(body)}</div>')

    async def _open(token: str) -> tuple[uuid.UUID, str, str, dict[str, object]] | HTMLResponse:
        c = link_claims(deps, token)
        if isinstance(c, HTMLResponse):
            return c
        ref = parse_ref(c.case_ref)
        found = await sql.letter_page(deps.pool, c.notification_id, ref[1]) if ref else None
        if ref is None or found is None:
            return page(*_GONE, 404)
        return c.notification_id, ref[0], ref[1], found

    @r.get("/letter/{token}", response_class=HTMLResponse)
    async def show(token: str) -> HTMLResponse:
        opened = await _open(token)
        if isinstance(opened, HTMLResponse):
            return opened
        _, _, _, letter = opened
        text = _letter_html(str(letter["title"]), str(letter["body"]))
        if letter["read_at"] is not None:
            return page("致家长的一封信", text + "<p>您已阅读本信，谢谢。</p>")
        return page("致家长的一封信", text + '<form method="post"><button type="submit">已阅</button></form>'
                    "<p>如短信号码有误，请告知孩子所在学校更正。</p>")

    @r.post("/letter/{token}", response_class=HTMLResponse)
    async def read(token: str) -> HTMLResponse:
        opened = await _open(token)
        if isinstance(opened, HTMLResponse):
            return opened
        letter_id, _, key, _ = opened
        async with deps.pool.acquire() as conn, conn.transaction():
            school = await sql.mark_read(conn, letter_id, key)
            if school is not None:
                await enqueue(conn, letter_read_event(letter_id, school, key))
        deps.relay.kick()
        return page("已阅", "<p>已记录您已阅读本信，谢谢您的支持。</p>")

    return r

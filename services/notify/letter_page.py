"""The page a parent's letter link opens (zh-CN, for a phone): the letter and an "已阅" button.

GET only shows it (mail scanners prefetch links); the button POSTs the read, recorded once per parent
and published as LetterRead (counts per school at the archive). Whoever got a letter meant for someone
else presses "号码有误" instead: LetterWrongNumberReported flags the roster row at intake, for the school
to correct (PATCH /v1/rosters/rows/{key}), and is counted per school at the archive.
"""

import html
import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from services.notify import repository_letters as sql
from services.notify.api import LINK_PAGE, NotifyDeps, Token, link_claims, page_responses
from services.notify.letters import parse_ref
from services.notify.link_page import page
from shared.contracts.base import Event, derive_id
from shared.contracts.letters import LetterRead, LetterWrongNumberReported
from shared.db import Executor
from shared.outbox import enqueue

Mark = Callable[[Executor, uuid.UUID, str], Awaitable[str | None]]  # the school, the first time only
Made = Callable[[uuid.UUID, str, str], Event]

_GONE = ("链接无效", "<p>该链接无效，请从短信或邮件中重新打开。</p>")


def letter_read_event(letter_id: uuid.UUID, school_id: str, key: str) -> LetterRead:
    return LetterRead(event_id=derive_id("letter-read", letter_id, key), letter_id=letter_id, school_id=school_id,
                      recipient_key=key)


def wrong_number_event(letter_id: uuid.UUID, school_id: str, key: str) -> LetterWrongNumberReported:
    return LetterWrongNumberReported(event_id=derive_id("letter-wrong-number", letter_id, key), letter_id=letter_id,
                                     school_id=school_id, recipient_key=key)


def letter_router(deps: NotifyDeps) -> APIRouter:
    r = APIRouter()

    def _letter_html(title: str, body: str) -> str:
        return f'<h2>{html.escape(title)}</h2><div class="quoted">{html.escape(body)}</div>'

    async def _open(token: str) -> tuple[uuid.UUID, str, str, dict[str, object]] | HTMLResponse:
        c = link_claims(deps, token)
        if isinstance(c, HTMLResponse):
            return c
        ref = parse_ref(c.case_ref)
        found = await sql.letter_page(deps.pool, c.notification_id, ref[1]) if ref else None
        if ref is None or found is None:
            return page(*_GONE, 404)
        return c.notification_id, ref[0], ref[1], found

    @r.get("/letter/{token}", response_class=HTMLResponse, responses=page_responses(*LINK_PAGE, 404),
           summary="A letter to parents, with its 已阅 and 号码有误 buttons")
    async def show(token: Token) -> HTMLResponse:
        opened = await _open(token)
        if isinstance(opened, HTMLResponse):
            return opened
        _, _, _, letter = opened
        text = _letter_html(str(letter["title"]), str(letter["body"]))
        if letter["read_at"] is not None:
            return page("致家长的一封信", text + "<p>您已阅读本信，谢谢。</p>")
        if letter["wrong_at"] is not None:
            return page("致家长的一封信", text + "<p>已收到您的反馈，学校将更正联系方式，谢谢。</p>")
        return page("致家长的一封信", text + '<form method="post"><button type="submit">已阅</button></form>'
                    f'<p>如果您并非本校学生家长（号码有误），请点击：</p><form method="post" action="{token}/wrong">'
                    '<button type="submit">号码有误</button></form>')

    async def _mark(token: str, mark: Mark, event: Made, title: str, text: str) -> HTMLResponse:
        """Record the parent's answer once (and its event with it), whatever the button was pressed for."""
        opened = await _open(token)
        if isinstance(opened, HTMLResponse):
            return opened
        letter_id, _, key, _ = opened
        async with deps.pool.acquire() as conn, conn.transaction():
            school = await mark(conn, letter_id, key)
            if school is not None:
                await enqueue(conn, event(letter_id, school, key))
        deps.relay.kick()
        return page(title, f"<p>{text}</p>")

    @r.post("/letter/{token}", response_class=HTMLResponse, responses=page_responses(*LINK_PAGE, 404),
            summary="已阅: the parent read the letter (recorded once)")
    async def read(token: Token) -> HTMLResponse:
        return await _mark(token, sql.mark_read, letter_read_event, "已阅", "已记录您已阅读本信，谢谢您的支持。")

    @r.post("/letter/{token}/wrong", response_class=HTMLResponse, responses=page_responses(*LINK_PAGE, 404),
            summary="号码有误: the letter reached someone else (recorded once)")
    async def wrong_number(token: Token) -> HTMLResponse:
        return await _mark(token, sql.mark_wrong, wrong_number_event, "已反馈",
                           "已收到您的反馈，学校将更正联系方式。给您带来打扰，敬请谅解。")

    return r

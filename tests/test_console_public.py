"""Students' and parents' pages, no login, in a real Chromium: ask for help with the school's access code,
read the school's reply with the case code and passcode, write again; the passcode never in a URL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.datastructures import FormData

from antibully.infra import SmtpSink
from services.console.pages.public import help_body
from tests.console_rig import ConsoleSystem, shoot
from tests.helpers import eventually, report

MESSAGE = "下课后有高年级同学在操场后面堵我，抢我的钱，说告诉老师就打我。"


@pytest.mark.pure
def test_the_form_becomes_the_contracts_request() -> None:
    anonymous = FormData([("access_code", " ab3def9 "), ("message", " 有人打我 "), ("urgent", "1"),
                          ("requester.kind", "parent"), ("requester.anonymous", "1"), ("requester.name", "王某")])
    body, errors = help_body(anonymous)
    assert errors == {}
    assert body == {"access_code": "AB3DEF9", "message": "有人打我", "urgent": True,
                    "requester": {"kind": "parent", "anonymous": True}}  # a name typed anyway is not sent
    named = FormData([("access_code", "AB3DEF9"), ("message", "x"), ("urgent", "0"), ("requester.kind", "other"),
                      ("requester.anonymous", "0"), ("requester.grade", "初二（3）班")])
    body, errors = help_body(named)
    assert errors == {"requester.name": "请填写姓名，或选择匿名求助"}
    assert body["requester"] == {"kind": "student", "anonymous": False, "grade": "初二（3）班"}
    assert body["urgent"] is False
    assert set(help_body(FormData([]))[1]) == {"access_code", "message"}


def visited(page: Any) -> list[str]:
    """Every URL the page asked for (navigations, assets, form posts)."""
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


async def ask_for_help(page: Any, system: ConsoleSystem, code: str) -> None:
    await page.goto(system.at("/help"))
    await page.fill("#f-access_code", code)
    await page.fill("#f-message", MESSAGE)
    await page.check("input[name=urgent][value='1']")
    await page.check("input[name='requester.anonymous'][value='1']")
    await page.click("button:has-text('提交求助')")


async def open_case(page: Any, system: ConsoleSystem, case_code: str, passcode: str) -> None:
    await page.goto(system.at("/help/case"))
    await page.fill("#f-case_code", case_code)
    await page.fill("#f-passcode", passcode)
    await page.click("button:has-text('查看')")


async def test_a_student_asks_for_help_reads_the_reply_and_writes_again(
        console_system: ConsoleSystem, page: Any, tmp_path: Path) -> None:
    urls = visited(page)
    await page.goto(console_system.at("/help"))
    await shoot(page, tmp_path, "help")
    await ask_for_help(page, console_system, console_system.access_code.lower())  # as copied by hand

    await page.wait_for_selector("#passcode")
    case_code = (await page.locator("#case-code").inner_text()).strip()
    passcode = (await page.locator("#passcode").inner_text()).strip()
    assert case_code.startswith("H") and passcode.isdigit()
    assert "请记下，凭此查看学校的答复" in await page.locator("main").inner_text()
    assert "110" in await page.locator("#guidance").inner_text()
    await shoot(page, tmp_path, "help-sent")

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{console_system.settings.intake_port}") as intake:
        reply = await intake.post(f"/v1/help-requests/{case_code}/replies", json={"text": "老师收到了，明天找你谈。"},
                                  headers={"Authorization": f"Bearer {console_system.school_key}",
                                           "Idempotency-Key": "reply-from-school-1"})
        assert reply.status_code == 202, reply.text

    await open_case(page, console_system, case_code, passcode)
    thread = page.locator("ol.thread")
    assert MESSAGE in await thread.inner_text()
    assert "老师收到了，明天找你谈。" in await thread.inner_text()
    assert await page.locator("#status").inner_text() == "已答复"

    await page.fill("#f-text", "谢谢老师，我明天第二节课后去办公室。")
    await page.click("button:has-text('发送留言')")
    assert "留言已发送" in await page.locator(".notice.ok").inner_text()
    assert await page.locator("ol.thread li").count() == 3
    assert "我明天第二节课后去办公室" in await page.locator("ol.thread li").nth(2).inner_text()
    await shoot(page, tmp_path, "help-case")

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{console_system.settings.intake_port}") as intake:
        seen = await intake.get(f"/v1/help-requests/{case_code}",
                                headers={"Authorization": f"Bearer {console_system.school_key}"})
    assert [m["author"] for m in seen.json()["messages"]] == ["requester", "school", "requester"]
    assert seen.json()["urgent"] is True

    assert urls and not [u for u in urls if passcode in u], "the passcode appeared in a URL"
    assert page.url.endswith("/help/case/message")


async def test_a_wrong_access_code_is_shown_next_to_its_field(console_system: ConsoleSystem, page: Any) -> None:
    await ask_for_help(page, console_system, "WRONG2345")
    error = page.locator(".field.invalid p.error[data-field=access_code]")
    assert await error.inner_text() == "学校求助码无效或已停用"
    assert await page.locator("#f-message").input_value() == MESSAGE  # what was written is kept

    # not anonymous, without a name: said next to the name field, nothing sent
    await page.check("input[name='requester.anonymous'][value='0']")
    await page.fill("#f-access_code", console_system.access_code)
    await page.click("button:has-text('提交求助')")
    assert "请填写姓名" in await page.locator("p.error[data-field='requester.name']").inner_text()


async def test_a_wrong_passcode_finds_nothing_and_says_not_which_part(
        console_system: ConsoleSystem, page: Any) -> None:
    await ask_for_help(page, console_system, console_system.access_code)
    case_code = (await page.locator("#case-code").inner_text()).strip()
    passcode = (await page.locator("#passcode").inner_text()).strip()
    wrong = f"{(int(passcode) + 1) % 10**8:08d}"
    await open_case(page, console_system, case_code, wrong)
    assert "未找到对应的求助记录" in await page.locator(".notice").inner_text()
    await open_case(page, console_system, "HXXXXXXXXXX", passcode)
    assert "未找到对应的求助记录" in await page.locator(".notice").inner_text()
    assert await page.locator("ol.thread").count() == 0


async def test_the_poster_link_fills_the_code_and_the_page_fits_a_phone(
        console_system: ConsoleSystem, browser: Any, tmp_path: Path) -> None:
    context = await browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844},
                                        is_mobile=True, has_touch=True)
    phone = await context.new_page()
    try:
        await phone.goto(console_system.at(f"/help?code={console_system.access_code}"))
        assert await phone.locator("#f-access_code").input_value() == console_system.access_code
        overflow = await phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
        assert "110" in await phone.locator("footer").inner_text()
        await phone.screenshot(path=str(tmp_path / "help-phone.png"), full_page=True)  # not kept in the docs
    finally:
        await context.close()


async def test_the_notice_link_page_has_the_consoles_look(
        console_system: ConsoleSystem, smtp_sink: SmtpSink, page: Any, tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{console_system.settings.intake_port}") as intake:
        posted = await intake.post("/v1/incidents", json=report(), headers={
            "Authorization": f"Bearer {console_system.school_key}", "Idempotency-Key": "public-look-1"})
        assert posted.status_code == 202, posted.text

    async def police_mail() -> str | None:
        mails = [m for m in smtp_sink.messages if m["To"] == "police-liaison@police.example.cn"]
        found = re.search(r"http://\S+/ack/\S+", mails[0].get_content()) if mails else None  # type: ignore[attr-defined]
        return found.group(0) if found else None

    url = await eventually(police_mail)
    response = await page.goto(url)
    assert "style-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert await page.locator("link[rel=stylesheet]").get_attribute("href") == "/static/console.css"
    assert await page.locator("[style], style, script").count() == 0
    footer = page.locator("footer.emergency")
    assert "110" in await footer.inner_text() and "12355" in await footer.inner_text()
    # the stylesheet is the console's and it applies: the footer's warm background
    assert await footer.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 245, 244)"
    await shoot(page, tmp_path, "notice-ack")
    await page.click("button:has-text('确认收到')")
    assert "已确认收到" in await page.locator("main").inner_text()

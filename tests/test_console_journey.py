"""Issue 13's "done when", in one run and one Chromium, as the people involved would do it.

A school system reports a severe incident; the bureau's mail links to it in the console, where the
duty officer opens it with a purpose and acknowledges the notice; a student asks for help with the
school's access code; the school's head answers that request and reports a duty done; the student
reads the answer.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from antibully.infra import SmtpSink
from tests.console_rig import PASSWORD, ConsoleSystem, login, shoot
from tests.helpers import eventually, report


async def _reloaded_until(page: Any, url: str, selector: str, text: str) -> None:
    async def shown() -> bool:
        await page.goto(url)
        return await page.locator(selector, has_text=text).count() > 0
    await eventually(shown, timeout_s=40, interval_s=0.5)


def _text(message: Any) -> str:
    return "".join(part.get_content() for part in message.walk() if part.get_content_type() == "text/plain")


async def test_a_severe_report_through_the_console(console_system: ConsoleSystem, browser: Any,
                                                   smtp_sink: SmtpSink, tmp_path: Path) -> None:
    system = console_system
    async with httpx.AsyncClient(timeout=10) as client:
        posted = await client.post(f"http://127.0.0.1:{system.settings.intake_port}/v1/incidents", json=report(),
                                   headers={"Authorization": f"Bearer {system.school_key}",
                                            "Idempotency-Key": str(uuid.uuid4())})
    assert posted.status_code == 202, posted.text
    case_id = posted.json()["incident_id"]

    def person() -> Any:
        return browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")

    # the bureau's duty officer: the mail links to the case's page; after the login, that page asks the purpose
    link = system.at(f"/cases/{case_id}")

    async def bureau_mail() -> str | None:
        found = [_text(m) for m in smtp_sink.messages if "bureau-duty@edu.example.cn" in str(m["To"])]
        return next((text for text in found if link in text), None)

    assert f"详情请登录学生欺凌防治工作平台查阅：{link}" in await eventually(bureau_mail, timeout_s=30)
    bureau_ctx = await person()
    bureau = await bureau_ctx.new_page()
    await bureau.goto(link)
    assert "/login?next=" in bureau.url
    await bureau.fill("#f-username", "bureau-wang")
    await bureau.fill("#f-password", PASSWORD)
    await bureau.click("button:has-text('登录')")
    assert await bureau.locator("h1").inner_text() == "查阅事由"
    await bureau.check("input[value='依职责办理本案']")
    await bureau.click("button:has-text('查看案件')")
    assert await bureau.locator("#case-level").inner_text() == "严重"
    assert "依职责办理本案" in await bureau.locator(".purpose").inner_text()
    await _reloaded_until(bureau, system.at("/cases"), "table.cases tbody tr", "严重")  # and it is in the list
    await _reloaded_until(bureau, system.at(f"/cases/{case_id}"), "table.duties a", "确认收到")
    await bureau.locator("table.duties a:has-text('确认收到')").first.click()
    await bureau.click("button:has-text('确认提交')")
    assert "已确认收到该通知" in await bureau.locator(".notice.ok").inner_text()
    await _reloaded_until(bureau, system.at(f"/cases/{case_id}"), "table.duties tbody tr", "已确认")
    await shoot(bureau, tmp_path, "journey-bureau-case")

    # a student, no account: asks for help with the access code from the poster
    student_ctx = await person()
    student = await student_ctx.new_page()
    await student.goto(system.at("/help"))
    await student.fill("#f-access_code", system.access_code)
    await student.fill("#f-message", "这几天放学总有人在校门口堵我，我不敢一个人回家。")
    await student.check("input[name=urgent][value='0']")
    await student.check("input[name='requester.anonymous'][value='1']")
    await student.click("button:has-text('提交求助')")
    case_code = (await student.locator("#case-code").inner_text()).strip()
    passcode = (await student.locator("#passcode").inner_text()).strip()

    # the school's head: answers the request and reports the counselling done
    head_ctx = await person()
    head = await head_ctx.new_page()
    await login(head, system, "head-li")
    await _reloaded_until(head, system.at("/school/help"), "a", case_code)
    await head.click(f"text={case_code}")
    await head.fill("#f-text", "已收到。今天放学班主任陪你到校门口，学校已安排保安在门口值守。")
    await head.click("button:has-text('发送答复')")
    await _reloaded_until(head, system.at("/school/duties"), "tr", "对受害学生开展心理辅导")
    await head.click("tr:has-text('对受害学生开展心理辅导') >> text=报告完成")
    await head.fill("[id='f-completed.0.done_at']", "2026-11-29T09:00")
    await head.click("button:has-text('提交续报')")
    await head.wait_for_selector("h1:has-text('续报已受理')")
    counselling = "tr:has-text('对受害学生开展心理辅导')"
    await _reloaded_until(head, system.at("/school/duties?state=all"), counselling, "已完成")

    # the student reads the answer with the case code and passcode
    await student.goto(system.at("/help/case"))
    await student.fill("#f-case_code", case_code)
    await student.fill("#f-passcode", passcode)
    await student.click("button:has-text('查看')")
    assert "班主任陪你到校门口" in await student.locator("ol.thread").inner_text()
    await shoot(student, tmp_path, "journey-student-reply")

    # and the bureau's record shows what the school did
    await _reloaded_until(bureau, system.at(f"/cases/{case_id}"), f"table.duties tbody {counselling}", "已完成")
    for ctx in (bureau_ctx, student_ctx, head_ctx):
        await ctx.close()

"""School staff in a real Chromium: help requests answered and resolved, another school refused, the incident
form's errors next to their inputs, and a family marked told."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from tests.console_rig import PASSWORD, ConsoleSystem, login, shoot
from tests.helpers import eventually, report


def _intake(system: ConsoleSystem) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{system.settings.intake_port}", timeout=10)


async def _ask_for_help(system: ConsoleSystem, message: str, urgent: bool = False) -> dict[str, Any]:
    async with _intake(system) as intake:
        r = await intake.post("/v1/help-requests", json={
            "access_code": system.access_code, "requester": {"kind": "student", "anonymous": True},
            "message": message, "urgent": urgent})
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


async def _archive_cases(system: ConsoleSystem, account: str, kind: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{system.settings.archive_port}", timeout=10) as a:
        token = (await a.post("/v1/auth/token", json={"username": account, "password": PASSWORD})).json()
        r = await a.get("/v1/cases", params={"kind": kind}, headers={
            "Authorization": f"Bearer {token['access_token']}", "X-Access-Purpose": quote("测试核对")})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_the_head_answers_a_help_request_and_the_student_reads_it(
        console_system: ConsoleSystem, page: Any, tmp_path: Path) -> None:
    calm = await _ask_for_help(console_system, "同桌总是拿走我的文具，还叫我外号。")
    urgent = await _ask_for_help(console_system, "放学后有人在校门口堵我，我很害怕。", urgent=True)
    await login(page, console_system, "head-li")
    await page.goto(console_system.at("/school/help"))
    rows = page.locator("tbody tr")
    assert await rows.count() == 2
    first = await rows.nth(0).inner_text()
    assert urgent["case_code"] in first and "紧急" in first and "待答复" in first  # urgent first, status in Chinese
    assert calm["case_code"] in await rows.nth(1).inner_text()
    await shoot(page, tmp_path, "school-help-list")

    await page.click(f"text={urgent['case_code']}")
    assert "放学后有人在校门口堵我" in await page.locator(".thread").inner_text()
    await page.fill("#f-text", "我们已收到，请放学时到传达室等候，班主任会陪你离校。")
    await page.click("button:has-text('发送答复')")
    await page.wait_for_selector("li.school")
    assert "班主任会陪你离校" in await page.locator("li.school").inner_text()
    assert "已答复" in await page.locator("h1").inner_text()
    await shoot(page, tmp_path, "school-help-thread")
    await page.set_viewport_size({"width": 390, "height": 844})
    await shoot(page, tmp_path, "school-help-thread-phone")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than a phone

    async with _intake(console_system) as intake:
        seen = await intake.get(f"/v1/help-requests/{urgent['case_code']}",
                                headers={"X-Passcode": urgent["passcode"]})
    assert seen.status_code == 200
    assert [(m["author"], m["text"]) for m in seen.json()["messages"]][-1] == (
        "school", "我们已收到，请放学时到传达室等候，班主任会陪你离校。")


async def test_a_help_request_is_resolved_with_a_reason(console_system: ConsoleSystem, page: Any) -> None:
    asked = await _ask_for_help(console_system, "我和同学吵架了，他说不跟我玩了。")
    await login(page, console_system, "teacher-chen")
    await page.goto(console_system.at(f"/school/help/{asked['case_code']}"))
    assert await page.input_value("#f-by") == "班主任"  # the staff member's title, not a name
    await page.select_option("#f-resolution", "no_bullying")
    await page.fill("#f-reason", "太短了")
    await page.click("button:has-text('办结')")
    assert "不得少于 10 个字符" in await page.locator(".error[data-field='reason']").inner_text()
    assert await page.input_value("#f-reason") == "太短了"  # kept
    await page.fill("#f-reason", "经班主任分别与两名学生谈话核实，系一次性争吵，已当面调解并持续关注。")
    await page.click("button:has-text('办结')")
    await page.wait_for_selector("h1:has-text('已办结')")
    assert await page.locator("text=说明理由办结").count() == 0  # no longer offered


async def test_another_schools_head_cannot_open_it(console_system: ConsoleSystem, page: Any) -> None:
    asked = await _ask_for_help(console_system, "有人在网上发我的照片取笑我。")
    await login(page, console_system, "other-head")
    response = await page.goto(console_system.at(f"/school/help/{asked['case_code']}"))
    assert response.status == 404
    assert "未找到该求助" in await page.locator("h1").inner_text()
    assert "网上发我的照片" not in await page.content()
    await page.goto(console_system.at("/school/help"))
    assert asked["case_code"] not in await page.content()
    replied = await page.request.post(console_system.at(f"/school/help/{asked['case_code']}/replies"),
                                      form={"csrf": await page.input_value("input[name=csrf]"), "text": "x"})
    assert replied.status == 404


async def test_the_incident_form_shows_the_reason_next_to_the_field(
        console_system: ConsoleSystem, page: Any, tmp_path: Path) -> None:
    await login(page, console_system, "head-li")
    await page.goto(console_system.at("/school/report"))
    await page.fill("#f-occurred_at", "2026-11-28T16:40")
    await page.fill("#f-discovered_at", "2026-11-28T17:05")
    await page.fill("#f-location", "教学楼三楼东侧卫生间")
    await page.select_option("#f-category", "physical")
    await page.fill("#f-cause", "课间因座位问题发生口角。")
    await page.fill("#f-course", "两名学生将一名学生堵在卫生间内推搡，值日教师发现后制止。")
    # the second row of the form, the first left empty: errors still land on the row filled in
    await page.fill("[id='f-students.1.ref']", "S-1042")
    await page.select_option("[id='f-students.1.role']", "victim")
    await page.fill("[id='f-students.1.name']", "李小明")
    await page.fill("[id='f-students.1.grade']", "初二(3)班")
    await page.fill("[id='f-students.1.guardians.0.name']", "李建国")
    await page.fill("[id='f-students.1.guardians.0.relation']", "父亲")
    await page.fill("[id='f-students.1.guardians.0.phone']", "电话不知道")
    await page.check("[id='f-indicators.violence']")
    await page.fill("#f-reporter\\.name", "陈老师")
    await page.click("button:has-text('提交上报')")

    error = page.locator(".error[data-field='students.1.guardians.0.phone']")
    assert await error.inner_text() == "格式不正确"
    assert await page.locator(".field.invalid").count() == 1
    assert "1 处" in await page.locator(".notice.warn").inner_text()
    assert await page.input_value("[id='f-students.1.name']") == "李小明"  # the input is kept
    assert await page.input_value("[id='f-students.1.guardians.0.phone']") == "电话不知道"
    assert await page.is_checked("[id='f-indicators.violence']")
    assert await page.input_value("#f-reporter\\.role") == "校长"
    await shoot(page, tmp_path, "school-report-error")

    await page.fill("[id='f-students.1.guardians.0.phone']", "13800000001")
    sent = await page.locator("form.report").evaluate("f => Object.fromEntries(new FormData(f))")
    await page.click("button:has-text('提交上报')")
    await page.wait_for_selector("h1:has-text('欺凌事件已受理')")
    incident_id = await page.locator(".case-id").inner_text()

    async def archived() -> list[dict[str, Any]]:
        return [c for c in await _archive_cases(console_system, "bureau-wang", "incident")
                if c["case_id"] == incident_id]

    [case] = await eventually(archived)
    assert case["school_id"] == "demo-school"
    again = await page.request.post(console_system.at("/school/report"), form=sent)  # a double submit
    assert again.status == 200 and f'class="case-id">{incident_id}<' in await again.text()  # the same report


async def test_the_head_marks_a_family_told(console_system: ConsoleSystem, page: Any, tmp_path: Path) -> None:
    async with _intake(console_system) as intake:
        r = await intake.post("/v1/incidents", json=report(), headers={
            "Authorization": f"Bearer {console_system.school_key}", "Idempotency-Key": "console-duty-0001"})
    assert r.status_code == 202, r.text
    await login(page, console_system, "head-li")

    async def listed() -> bool:  # all: a notice the mail already delivered ("done") may still be told in person
        await page.goto(console_system.at("/school/duties?state=all"))
        return await page.locator("text=登记已告知家长").count() >= 1

    await eventually(listed, timeout_s=30, interval_s=0.5)
    row = page.locator("tr", has=page.locator("text=登记已告知家长")).first
    row_id = await row.get_attribute("id")
    await row.locator("summary").click()
    await shoot(page, tmp_path, "school-duties")
    await row.locator("select[name=how]").select_option("phone")
    await row.locator("textarea[name=note]").fill("班主任电话告知家长处理情况，家长表示理解。")
    await row.locator("button:has-text('登记已告知')").click()

    async def told() -> bool:
        await page.goto(console_system.at("/school/duties?state=all"))
        return "已确认" in await page.locator(f"#{row_id}").inner_text()

    await eventually(told, timeout_s=30, interval_s=0.5)
    await page.goto(console_system.at("/school/duties"))
    assert await page.locator(f"#{row_id}").count() == 0  # no longer open


async def test_a_help_request_is_converted_into_the_schools_incident(console_system: ConsoleSystem, page: Any) -> None:
    asked = await _ask_for_help(console_system, "有两个同学在厕所打我。", urgent=True)
    async with _intake(console_system) as intake:
        r = await intake.post("/v1/incidents", json=report(), headers={
            "Authorization": f"Bearer {console_system.school_key}", "Idempotency-Key": "console-convert-01"})
    assert r.status_code == 202, r.text
    incident_id = r.json()["incident_id"]
    await eventually(lambda: _archive_cases(console_system, "head-li", "incident"))
    await login(page, console_system, "head-li")
    await page.goto(console_system.at(f"/school/help/{asked['case_code']}"))
    await page.fill("#f-incident_typed", "不是编号")
    await page.click("button:has-text('转为该事件')")
    assert "应为 UUID" in await page.locator(".error[data-field='incident_id']").inner_text()
    await page.fill("#f-incident_typed", "")
    await page.select_option("#f-incident_id", incident_id)  # the school's incidents, from the archive
    await page.click("button:has-text('转为该事件')")
    await page.wait_for_selector("h1:has-text('已转为事件')")
    assert await page.locator("text=说明理由办结").count() == 0


async def test_a_hazard_by_form(console_system: ConsoleSystem, page: Any, tmp_path: Path) -> None:
    await login(page, console_system, "teacher-chen")
    await page.goto(console_system.at("/school/hazard"))
    await page.fill("#f-found_at", "2026-11-25T10:20")
    await page.select_option("#f-kind", "early_sign")
    await page.fill("#f-observed", "两名学生多次在课间向同班一名学生索要零食并起绰号。")
    await page.select_option("#f-risk_level", "medium")
    await page.fill("#f-intervention", "班主任已分别约谈三名学生。")
    await page.fill("[id='f-students.2.ref']", "S-2031")
    await page.select_option("[id='f-students.2.role']", "at_risk")
    await page.fill("[id='f-rectification.plan']", "班主任每日关注该生在校情况。")
    await page.fill("[id='f-rectification.due_date']", "2026-11-20")  # before it was found
    await page.fill("[id='f-rectification.responsible']", "德育处")
    await page.click("button:has-text('提交上报')")
    assert "整改期限不得早于发现日期" in await page.locator(".error[data-field='rectification.due_date']").inner_text()
    await shoot(page, tmp_path, "school-hazard-error")
    assert await page.input_value("[id='f-students.2.ref']") == "S-2031"
    await page.fill("[id='f-rectification.due_date']", "2026-12-20")
    await page.click("button:has-text('提交上报')")
    await page.wait_for_selector("h1:has-text('隐患线索已受理')")
    hazard_id = await page.locator(".case-id").inner_text()
    assert await eventually(lambda: _has(console_system, "hazard", hazard_id))


async def _has(system: ConsoleSystem, kind: str, case_id: str) -> bool:
    return any(c["case_id"] == case_id for c in await _archive_cases(system, "bureau-wang", kind))


async def test_a_task_reported_done_by_a_follow_up(console_system: ConsoleSystem, page: Any, tmp_path: Path
                                                   ) -> None:
    async with _intake(console_system) as intake:
        r = await intake.post("/v1/incidents", json=report(), headers={
            "Authorization": f"Bearer {console_system.school_key}", "Idempotency-Key": "console-task-0001"})
    assert r.status_code == 202, r.text
    await login(page, console_system, "head-li")

    async def listed() -> bool:
        await page.goto(console_system.at("/school/duties"))
        return await page.locator("tr:has-text('对受害学生开展心理辅导') >> text=报告完成").count() == 1

    await eventually(listed, timeout_s=30, interval_s=0.5)
    row_id = await page.locator("tr:has-text('对受害学生开展心理辅导')").get_attribute("id")
    await page.click("tr:has-text('对受害学生开展心理辅导') >> text=报告完成")
    assert await page.input_value("[id='f-completed.0.action']") == "counselling"
    assert await page.input_value("[id='f-completed.0.student_ref']") == "S-1042"
    await page.click("button:has-text('提交续报')")  # no time given: the API names it
    assert "缺少必填字段" in await page.locator(".error[data-field='completed.0.done_at']").inner_text()
    await shoot(page, tmp_path, "school-follow-up-error")
    await page.fill("[id='f-completed.0.done_at']", "2026-11-29T09:00")
    await page.fill("[id='f-measures_taken.0']", "已约谈双方家长")
    await page.click("button:has-text('提交续报')")
    await page.wait_for_selector("h1:has-text('续报已受理')")

    async def done() -> bool:
        await page.goto(console_system.at("/school/duties?state=all"))
        return "已完成" in await page.locator(f"#{row_id}").inner_text()

    await eventually(done, timeout_s=30, interval_s=0.5)

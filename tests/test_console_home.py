"""The home page shows first what is due: the office's nearest duties and, for a school, help requests waiting."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.console_rig import ConsoleSystem, login, shoot
from tests.helpers import eventually, report


async def test_the_home_page_shows_what_is_due_first(console_system: ConsoleSystem, page: Any,
                                                     tmp_path: Path) -> None:
    system = console_system
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{system.settings.intake_port}", timeout=10) as intake:
        posted = await intake.post("/v1/incidents", json=report(), headers={
            "Authorization": f"Bearer {system.school_key}", "Idempotency-Key": str(uuid.uuid4())})
        assert posted.status_code == 202, posted.text
        asked = await intake.post("/v1/help-requests", json={
            "access_code": system.access_code, "message": "有同学总是抢我的午饭钱。", "urgent": True,
            "requester": {"kind": "student", "anonymous": True}})
        assert asked.status_code == 202, asked.text
    case_id, help_code = posted.json()["incident_id"], asked.json()["case_code"]

    await login(page, system, "bureau-wang")

    async def bureau_sees_its_duty() -> bool:
        await page.goto(system.at("/"))
        return await page.locator(f"#glance-duties a[href='/cases/{case_id}']").count() > 0

    await eventually(bureau_sees_its_duty, timeout_s=30, interval_s=0.5)
    assert "报告教育主管部门" in await page.locator("#glance-duties").inner_text()
    assert await page.locator("#glance-help").count() == 0  # the help list is the school's
    await shoot(page, tmp_path, "home-bureau")
    await page.click("button:has-text('退出')")

    await login(page, system, "head-li")

    async def school_sees_the_request() -> bool:
        await page.goto(system.at("/"))
        return help_code in await page.locator("#glance-help").inner_text()

    await eventually(school_sees_the_request, timeout_s=30, interval_s=0.5)
    assert "紧急" in await page.locator("#glance-help").inner_text()
    await page.click(f"#glance-help >> text={help_code}")
    assert help_code in await page.locator("h1").inner_text()

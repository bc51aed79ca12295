"""Screening in the console (issue 16 item 2), in a real Chromium: two schools file their student returns (one
with a hazard it filed, one with nothing found), the bureau screens a school on the seven aspects, and the
coverage page shows the third school uncovered, first and highlighted; refusals come back next to the inputs."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.archive.campaign_files import load_campaigns
from services.archive.campaign_filing import started_event
from shared.config import Settings
from shared.contracts.base import utcnow
from shared.directory import load_directory
from tests.campaign_rig import directory_with_three_schools
from tests.console_rig import ConsoleSystem, login, shoot
from tests.helpers import publish_started

CAMPAIGN = "2027-zhuanxiang"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The rig's settings with the console's second school and a third one in the directory (lechang)."""
    path = directory_with_three_schools(tmp_path, second="other-school")
    return settings.model_copy(update={"directory_file": path})


async def _until(page: Any, ok: Callable[[], Awaitable[bool]], timeout_s: float = 20) -> None:
    """Load the page again until the archive's projection shows what was filed (within a second or so)."""
    url = page.url
    for _ in range(int(timeout_s * 2)):
        if await ok():
            return
        await asyncio.sleep(0.5)
        await page.goto(url)
    raise AssertionError("the page never showed it")


async def _hazard(system: ConsoleSystem) -> None:
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    due = (now + timedelta(days=14)).date().isoformat()
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.post(f"http://127.0.0.1:{system.settings.intake_port}/v1/hazards", json={
            "school_id": "demo-school", "found_at": (now - timedelta(hours=2)).isoformat(), "kind": "hazard_point",
            "students": [], "observed": "操场东侧围墙角落课间无人看管", "risk_level": "medium",
            "intervention": "已安排课间值守", "rectification": {"plan": "加装监控", "responsible": "后勤处",
                                                             "due_date": due}},
            headers={"Authorization": f"Bearer {system.school_key}", "Idempotency-Key": "console-screening-hz-1"})
        assert r.status_code == 202, r.text


def _row(page: Any, school: str) -> Any:
    return page.locator(f"table.coverage tr[data-school='{school}']")


async def test_returns_screening_and_coverage_in_the_console(console_system: ConsoleSystem, page: Any,
                                                             tmp_path: Path) -> None:
    system = console_system
    campaign = load_campaigns(system.settings.campaigns_dir)[CAMPAIGN]
    await publish_started(system.settings.database_url, system.settings.nats_url, started_event(
        campaign, load_directory(system.settings.directory_file), "lechang", "bureau-wang", utcnow()))
    await _hazard(system)

    # the school with a finding: saying nothing is refused next to the checkbox, everything typed kept
    await login(page, system, "head-li")
    await page.click("nav >> text=排查覆盖")
    assert await page.locator("h1").inner_text() == "排查覆盖"
    await page.click("text=填写学生排查报告")
    await _until(page, lambda: _has_pick(page))  # the hazard the school filed, once the archive has it
    await page.fill("#f-students_screened", "1250")
    await page.fill("#f-parent_talks", "310")
    await page.click("button:has-text('报送')")
    assert "未发现问题须明确报告" in await page.locator("p.error[data-field=nothing_found]").inner_text()
    assert await page.input_value("#f-students_screened") == "1250"
    await page.locator("#hazard-picks input[type=checkbox]").first.check()
    await shoot(page, tmp_path, "screening-return")
    await page.click("button:has-text('报送')")
    assert "学生排查报告已报送" in await page.locator("p.notice.ok").first.inner_text()

    # the second school: nothing found, said explicitly
    await page.context.clear_cookies()
    await login(page, system, "other-head")
    await page.goto(system.at("/screening/return"))
    await page.fill("#f-students_screened", "860")
    await page.fill("#f-parent_talks", "120")
    await page.check("#f-nothing_found")
    await page.click("button:has-text('报送')")
    assert "学生排查报告已报送" in await page.locator("main").inner_text()
    assert await page.locator("table.coverage tbody tr").count() == 1  # a school reads itself only

    # the bureau: the three schools, the uncovered first; it screens the first school on the seven aspects
    await page.context.clear_cookies()
    await login(page, system, "bureau-wang")
    await page.click("nav >> text=排查覆盖")

    async def returns_shown() -> bool:
        return "已报送·无发现" in await _row(page, "other-school").inner_text() \
            and "已报送·有发现" in await _row(page, "demo-school").inner_text()

    await _until(page, returns_shown)
    assert "未报送" in await _row(page, "third-school").inner_text()
    assert "乐昌市第三中学" in await page.locator("#uncovered").inner_text()
    await _row(page, "demo-school").locator("text=填写学校排查").click()
    assert await page.locator("h1").inner_text() == "学校排查（七个方面）"
    for i in range(7):
        await page.fill(f"[name='aspects.{i}.finding']", "已查阅制度、台账并现场查看")
    await page.fill("[name='aspects.6.problem']", "教学楼楼梯间存在监控盲区")
    await page.click("#aspect-facilities summary")
    await page.fill("[name='aspects.6.rectification.plan']", "加装监控并安排课间巡查")
    await page.click("button:has-text('提交排查结果')")
    # a problem without a due date: the reason next to the input, the rest kept
    assert await page.locator("p.error[data-field='aspects.6.rectification.due_date']").count() == 1
    assert await page.input_value("[name='aspects.6.problem']") == "教学楼楼梯间存在监控盲区"
    due = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=30)).date().isoformat()
    await page.fill("[name='aspects.6.rectification.due_date']", due)
    await page.fill("[name='aspects.6.rectification.responsible']", "后勤处")
    await shoot(page, tmp_path, "screening-school")
    await page.click("button:has-text('提交排查结果')")
    assert "学校排查已记录" in await page.locator("p.notice.ok").first.inner_text()

    async def screened() -> bool:
        return "硬件条件" in await _row(page, "demo-school").inner_text()

    await _until(page, screened)
    rows = await page.locator("table.coverage tbody tr").evaluate_all("rs => rs.map(r => r.dataset.school)")
    assert rows[-1] == "demo-school" and "已覆盖" in await _row(page, "demo-school").inner_text()
    assert await _row(page, "third-school").get_attribute("class") == "uncovered"
    await shoot(page, tmp_path, "screening-coverage")
    await page.set_viewport_size({"width": 390, "height": 844})
    await shoot(page, tmp_path, "screening-coverage-phone")
    await page.set_viewport_size({"width": 1280, "height": 900})

    async with page.expect_download() as download:
        await page.click("text=下载 CSV")
    got = await download.value
    text = (await asyncio.to_thread(Path(await got.path()).read_bytes)).decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    column = table[0].index("学生排查报告")
    assert {r[1]: r[column] for r in table[1:]} == {
        "demo-school": "已报送·有发现", "other-school": "已报送·无发现", "third-school": "未报送"}
    assert got.suggested_filename.endswith(".csv")

    # the police have no coverage page
    await page.context.clear_cookies()
    await login(page, system, "police-zhao")
    response = await page.goto(system.at("/screening"))
    assert response is not None and response.status == 403


async def _has_pick(page: Any) -> bool:
    return bool(await page.locator("#hazard-picks input[type=checkbox]").count())

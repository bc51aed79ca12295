"""培训记录 in a real Chromium: a school records a training session for its staff (errors named next to the
inputs, everything typed kept), sees it in its list, and the ledger page shows 培训场次 and 培训学时."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from services.archive.campaign_files import load_campaigns
from services.archive.campaign_filing import started_event
from shared.contracts.base import utcnow
from shared.directory import load_directory
from tests.console_rig import ConsoleSystem, login, shoot
from tests.helpers import eventually, owner_connection, publish

TOPIC = "学生欺凌的早期识别与报告流程"


async def _campaign_started(system: ConsoleSystem) -> None:
    s = system.settings
    campaign = load_campaigns(s.campaigns_dir)["2027-zhuanxiang"]
    start = started_event(campaign, load_directory(s.directory_file), "lechang", "bureau-wang", utcnow())
    await publish(s.nats_url, start)
    conn = await owner_connection(s)
    try:
        async def chained() -> bool:
            return bool(await conn.fetchval("SELECT count(*) FROM entries WHERE event_id = $1", start.event_id))
        await eventually(chained)
    finally:
        await conn.close()


async def test_a_school_records_training_and_the_ledger_counts_it(console_system: ConsoleSystem, page: Any,
                                                                  tmp_path: Path) -> None:
    await _campaign_started(console_system)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    await login(page, console_system, "head-li")
    await page.click("nav >> text=培训记录")
    assert await page.locator("h1").inner_text() == "培训记录"
    assert "本校尚无培训记录" in await page.content()

    # refused by the archive: no role ticked, then a day still to come — the reason next to its input
    await page.fill("#f-held_on", (today + timedelta(days=3)).isoformat())
    await page.fill("#f-participants", "40")
    await page.fill("#f-hours", "1.5")
    await page.fill("#f-topic", TOPIC)
    await page.click("button:has-text('提交培训记录')")
    assert await page.locator("p.error[data-field=audience]").count() == 1
    assert await page.input_value("#f-topic") == TOPIC and await page.input_value("#f-participants") == "40"
    await shoot(page, tmp_path, "school-training-errors")
    for role in ("校长", "班主任", "法治副校长"):
        await page.check(f"input[name=audience][value={role}]")
    await page.click("button:has-text('提交培训记录')")
    assert "不能晚于今天" in await page.locator("p.error[data-field=held_on]").inner_text()
    assert await page.locator("input[name=audience]:checked").count() == 3  # the ticks kept

    await page.fill("#f-held_on", today.isoformat())
    await page.click("button:has-text('提交培训记录')")
    assert "培训记录已提交" in await page.locator("p.notice.ok").inner_text()

    async def listed() -> bool:
        await page.goto(console_system.at("/school/trainings"))
        return await page.locator("table tbody tr").count() == 1

    await eventually(listed, timeout_s=20)
    row = await page.locator("table tbody tr").first.inner_text()
    assert today.isoformat() in row and "校长、班主任、法治副校长" in row and "1.5" in row and "40" in row
    assert "动员部署和排查" in row or "集中整治" in row or "督导检查" in row
    assert TOPIC not in await page.locator("table").inner_text()  # the topic stays in the sealed record
    await shoot(page, tmp_path, "school-trainings")
    await page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing wider than the screen
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    await shoot(page, tmp_path, "school-trainings-phone")
    await page.set_viewport_size({"width": 1280, "height": 900})

    # the school's ledger: this month, one session of 1.5 class hours; the new columns last
    await page.click("nav >> text=台账")
    month = page.locator("table.ledger").first.locator("tr", has=page.locator(f"th:text-is('{today:%Y-%m}')"))
    assert await month.locator("td[data-col=training_sessions]").inner_text() == "1"
    assert await month.locator("td[data-col=training_hours]").inner_text() == "1.5"
    head = await page.locator("table.ledger").first.locator("thead").inner_text()
    assert head.rstrip().endswith("培训学时") and "培训场次" in head
    await shoot(page, tmp_path, "ledger-training")

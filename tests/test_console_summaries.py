"""Phase summaries in the console (issue 16), in a real Chromium: a school fills in 阶段总结 with its figures
shown, the bureau's 总结汇总 highlights who has not submitted, reads each, and downloads the city summary."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import docx
import pytest

from services.archive.campaign_files import campaign_of, load_campaigns
from services.archive.campaign_filing import started_event
from shared.config import Settings
from shared.contracts.base import utcnow
from shared.directory import load_directory
from tests.console_rig import ConsoleSystem, login, shoot
from tests.helpers import directory_with_more_schools, eventually, publish_started

CAMPAIGN = "2027-zhuanxiang"
TEXT = {"achievements": "完成全体学生排查，召开家长会十二场。", "problems": "个别班级欺凌苗头发现不及时。",
        "causes": "班主任培训不足，巡查存在盲区。", "next_steps": "开展全员培训，每月专项排查一次。"}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The shipped directory and a second school of the jurisdiction (one that will not submit)."""
    return settings.model_copy(update={"directory_file": directory_with_more_schools(tmp_path)})


async def _started(system: ConsoleSystem) -> None:
    s = system.settings
    campaign = campaign_of(load_campaigns(s.campaigns_dir), CAMPAIGN)
    await publish_started(s.database_url, s.nats_url, started_event(
        campaign, load_directory(s.directory_file), "lechang", "bureau-wang", utcnow()))


async def test_a_school_submits_and_the_bureau_sees_who_has_not(console_system: ConsoleSystem, page: Any,
                                                                 browser: Any, tmp_path: Path) -> None:
    await _started(console_system)
    await login(page, console_system, "head-li")
    await page.click("nav >> text=阶段总结")
    assert await page.locator("h1").inner_text() == "阶段总结"
    mine = page.locator("table.summaries tbody tr")
    assert await mine.count() == 1 and "未报送" in await mine.inner_text()
    await mine.locator("a", has_text="填写阶段总结").click()
    assert await page.locator("h1").inner_text() == "填写阶段总结"
    assert await page.locator("#figures dd[data-col=incidents]").inner_text() == "0"
    # blanks pass the browser's `required` but not the archive: the reason shows next to the field, text kept
    for name, text in TEXT.items():
        await page.fill(f"#f-{name}", text)
    await page.fill("#f-causes", "   ")
    await page.click("button:has-text('提交阶段总结')")
    assert await page.locator(".error[data-field=causes]").is_visible()
    assert await page.input_value("#f-problems") == TEXT["problems"]
    await page.fill("#f-causes", TEXT["causes"])
    await shoot(page, tmp_path, "school-summary-form")
    await page.click("button:has-text('提交阶段总结')")
    await page.wait_for_selector("text=阶段总结已提交")

    async def shown() -> bool:
        await page.reload()
        return "已报送" in await page.locator("table.summaries tbody tr").inner_text()

    await eventually(shown, timeout_s=30)
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(console_system.at("/school/summary"))
    await shoot(page, tmp_path, "school-summary-form-phone")

    context = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                        viewport={"width": 1280, "height": 900})
    bureau = await context.new_page()
    try:
        await login(bureau, console_system, "bureau-wang")
        await bureau.click("nav >> text=总结汇总")
        assert await bureau.locator("h1").inner_text() == "总结汇总"
        missing = bureau.locator("table.summaries tr.missing")
        assert await missing.count() == 1 and "乐昌市第二中学" in await missing.inner_text()
        done = bureau.locator("table.summaries tr.submitted")
        assert "乐昌市示范中学" in await done.inner_text() and "head-li" in await done.inner_text()
        bg = await missing.locator("td").first.evaluate("e => getComputedStyle(e).backgroundColor")
        assert bg == "rgb(255, 245, 244)"  # highlighted
        await shoot(bureau, tmp_path, "summaries-bureau")

        async with bureau.expect_download() as download:
            await bureau.click("text=下载全市总结汇总（Word）")
        got = await download.value
        assert got.suggested_filename.endswith(".docx") and "总结汇总" in got.suggested_filename
        content = await asyncio.to_thread(Path(await got.path()).read_bytes)
        text = "\n".join(p.text for p in docx.Document(io.BytesIO(content)).paragraphs)
        assert "乐昌市第二中学（second-school）" in text and f"原因：{TEXT['causes']}" in text

        await done.locator("a", has_text="查阅总结").click()
        assert await bureau.locator("h1").inner_text() == "乐昌市示范中学 阶段总结"
        assert await bureau.locator("#s-problems p").inner_text() == TEXT["problems"]
        assert await bureau.locator("dd[data-col=incidents]").inner_text() == "0"
        await shoot(bureau, tmp_path, "summary-read")
        await bureau.set_viewport_size({"width": 390, "height": 844})
        await bureau.goto(console_system.at("/summaries"))
        await shoot(bureau, tmp_path, "summaries-bureau-phone")
        # the city summary is the bureau's: a school's staff are refused
        refused = await page.goto(console_system.at("/summaries/city.docx"))
        assert refused is not None and refused.status == 403
    finally:
        await context.close()

"""专项整治 in the console, in a real Chromium: the bureau starts a campaign after a confirmation page, sees the
matrix school × phase (done of total, overdue highlighted) and downloads the CSV; a school's head sees its own
row and duties; the police have no such page; a start without the form's CSRF token is refused."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.config import Settings
from shared.contracts.campaign import campaign_case_id
from shared.contracts.duties import Duty, DutyState, DutyUpdated
from tests.campaign_rig import campaign_files
from tests.console_rig import ConsoleSystem, login, shoot
from tests.helpers import directory_with_more_schools, publish
from tests.test_campaign_archive import DRILL


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The shipped campaign and a drill (first phase due 3 s after the start); a second school of the bureau's."""
    return settings.model_copy(update={"directory_file": directory_with_more_schools(tmp_path),
                                       "campaigns_dir": campaign_files(tmp_path, DRILL)})


def _done(school: str, action: str) -> DutyUpdated:
    case_id = campaign_case_id(DRILL, school)
    now = datetime.now(UTC)
    return DutyUpdated(event_id=uuid.uuid4(), incident_id=case_id, school_id=school, version=2, duty=Duty(
        obligation_id=uuid.uuid5(case_id, action), action_id=action, label_zh="全面排查本校学生并报送排查报告",
        kind="task", role="school", state=DutyState.done, due_at=now + timedelta(seconds=3),
        first_due_at=now + timedelta(seconds=3), settled_at=now, settled_by=f"school:{school}"))


async def test_the_bureau_starts_a_campaign_and_follows_each_school(console_system: ConsoleSystem, page: Any,
                                                                     tmp_path: Path) -> None:
    await login(page, console_system, "bureau-wang")
    await page.click("nav >> text=专项整治")
    assert await page.locator("h1").inner_text() == "专项整治"
    drill = page.locator(f"section[data-campaign='{DRILL}']")
    assert "未启动" in await drill.inner_text() and "启动后 3 秒内" in await drill.inner_text()
    shipped = await page.locator("section[data-campaign='2027-zhuanxiang']").inner_text()
    assert "2027-04-01 00:00 前" in shipped  # 2027-03-31, to the end of the day
    await shoot(page, tmp_path, "campaigns")

    await drill.locator("a", has_text="启动").click()
    assert await page.locator("h1").inner_text() == "确认启动专项整治"
    listed = await page.locator("ul.schools").inner_text()
    assert "乐昌市示范中学" in listed and "乐昌市第二中学" in listed and "仁化县第一中学" not in listed
    await shoot(page, tmp_path, "campaign-start")
    await page.click("button:has-text('确认启动')")
    assert "已启动" in await page.locator("p.notice").inner_text()

    await publish(console_system.settings.nats_url, _done("demo-school", "student_screening"))
    await asyncio.sleep(4)  # past the drill's first deadline
    await page.reload()
    mine = page.locator("table.matrix tr[data-school='demo-school'] td[data-phase='p1']")
    theirs = page.locator("table.matrix tr[data-school='second-school'] td[data-phase='p1']")
    for _ in range(50):  # the archive projects the duty
        if "完成 1/2" in await mine.inner_text():
            break
        await asyncio.sleep(0.3)
        await page.reload()
    assert "完成 1/2" in await mine.inner_text()
    assert "完成 0/2" in await theirs.inner_text() and "逾期 2" in await theirs.inner_text()
    assert "late" in (await theirs.get_attribute("class") or "")
    p2 = page.locator("table.matrix tr[data-school='second-school'] td[data-phase='p2']")
    assert "完成 0/1" in await p2.inner_text() and "逾期" not in await p2.inner_text()
    assert "汇总全市学校总结并上报" in await page.locator("main").inner_text()  # the bureau's own duty
    await shoot(page, tmp_path, "campaign")
    await page.set_viewport_size({"width": 390, "height": 844})
    await shoot(page, tmp_path, "campaign-phone")
    await page.set_viewport_size({"width": 1280, "height": 900})

    async with page.expect_download() as download:
        await page.click("text=下载 CSV")
    got = await download.value
    assert got.suggested_filename.endswith(".csv")
    text = (await asyncio.to_thread(Path(await got.path()).read_bytes)).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["学校代码", "学校", "阶段", "事项"]
    assert any(r[0] == "second-school" and r[-1] == "是" for r in rows)

    # the school's part is a case like any other (kind 专项整治), with its duty
    await page.goto(console_system.at(f"/cases/{campaign_case_id(DRILL, 'demo-school')}"))
    await page.check("input[value='督办检查']")
    await page.click("button:has-text('查看案件')")
    facts = await page.locator("main").inner_text()
    assert "专项整治" in facts and "全面排查本校学生并报送排查报告" in facts and "ZX-" in facts

    # starting again from the list: already started, nothing new
    await page.goto(console_system.at(f"/campaigns/{DRILL}/start"))
    assert "此前已在本辖区启动" in await page.locator("p.notice").inner_text()
    # a form posted without this visitor's CSRF token is refused
    refused = await page.request.post(console_system.at("/campaigns/2027-zhuanxiang/start"), form={"csrf": "x"})
    assert refused.status == 403
    await page.goto(console_system.at("/campaigns"))
    assert "未启动" in await page.locator("section[data-campaign='2027-zhuanxiang']").inner_text()


async def test_a_school_sees_its_own_row_and_duties_the_police_no_page(console_system: ConsoleSystem, page: Any,
                                                                      tmp_path: Path) -> None:
    await login(page, console_system, "bureau-wang")
    await page.goto(console_system.at(f"/campaigns/{DRILL}/start"))
    await page.click("button:has-text('确认启动')")
    await page.context.clear_cookies()

    await login(page, console_system, "head-li")
    await page.click("nav >> text=专项整治")
    assert await page.locator("a.button", has_text="启动").count() == 0  # the bureau starts campaigns
    await page.locator(f"section[data-campaign='{DRILL}'] a", has_text="查看进度").click()
    schools = await page.locator("table.matrix tbody tr").all_inner_texts()
    assert len(schools) == 1 and "乐昌市示范中学" in schools[0]
    duties = page.locator("table.campaign-duties").first
    assert "全面排查本校学生并报送排查报告" in await duties.inner_text()
    assert "汇总全市学校总结并上报" not in await page.locator("main").inner_text()
    await page.set_viewport_size({"width": 390, "height": 844})
    await shoot(page, tmp_path, "campaign-school-phone")
    assert (await page.request.get(console_system.at(f"/campaigns/{DRILL}/start"))).status == 403

    await page.context.clear_cookies()
    await login(page, console_system, "police-zhao")
    assert await page.locator("nav >> text=专项整治").count() == 0
    assert (await page.request.get(console_system.at("/campaigns"))).status == 403

"""The ledger (台账), its downloads and the access log in the console, in a real Chromium."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import openpyxl

from tests.console_rig import ConsoleSystem, login, shoot
from tests.helpers import eventually, report


async def _severe_incident_archived(system: ConsoleSystem) -> str:
    """A severe incident reported by the school's system, and the archive's ledger counting it."""
    intake = f"http://127.0.0.1:{system.settings.intake_port}"
    archive = f"http://127.0.0.1:{system.settings.archive_port}"
    async with httpx.AsyncClient(timeout=10) as client:
        posted = await client.post(f"{intake}/v1/incidents", json=report(),
                                   headers={"Authorization": f"Bearer {system.school_key}",
                                            "Idempotency-Key": "console-ledger-severe-1"})
        assert posted.status_code == 202, posted.text
        token = (await client.post(f"{archive}/v1/auth/token",
                                   json={"username": "bureau-wang", "password": "correct horse battery staple"})
                 ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "X-Access-Purpose": quote("核对台账测试")}

        async def counted() -> bool:
            r = await client.get(f"{archive}/v1/ledger", headers=headers)
            return r.status_code == 200 and r.json()["jurisdictions"][0]["totals"]["severe"] == 1

        await eventually(counted, timeout_s=30)
    return str(posted.json()["incident_id"])


def this_month() -> str:
    return f"{datetime.now(ZoneInfo('Asia/Shanghai')):%Y-%m}"


async def test_the_bureau_reads_and_downloads_the_ledger(console_system: ConsoleSystem, page: Any,
                                                          tmp_path: Path) -> None:
    await _severe_incident_archived(console_system)
    await login(page, console_system, "bureau-wang")
    await page.click("nav >> text=台账")
    assert await page.locator("h1").inner_text() == "台账"
    month = page.locator("table.ledger").nth(1).locator("tr", has=page.locator(f"th:text-is('{this_month()}')"))
    assert await month.locator("td[data-col=incidents]").inner_text() == "1"
    assert await month.locator("td[data-col=severe]").inner_text() == "1"
    school = page.locator("table.ledger").first.locator("tbody tr", has_text="乐昌市示范中学")
    assert await school.locator("td[data-col=severe]").inner_text() == "1"
    assert "情节严重" in await page.locator("table.ledger").first.locator("thead").inner_text()
    await shoot(page, tmp_path, "ledger")

    async with page.expect_download() as csv_download:
        await page.click("text=下载 CSV")
    got = await csv_download.value
    assert got.suggested_filename.endswith(".csv") and "台账" in got.suggested_filename
    text = (await asyncio.to_thread(Path(await got.path()).read_bytes)).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len({len(r) for r in rows}) == 1 and len(rows) >= 2  # rectangular: valid CSV
    assert any("乐昌市示范中学" in cell or "demo-school" in cell for r in rows for cell in r)

    async with page.expect_download() as xlsx_download:
        await page.click("text=下载 Excel")
    got = await xlsx_download.value
    assert got.suggested_filename.endswith(".xlsx")
    saved = tmp_path / got.suggested_filename
    await got.save_as(saved)
    book = await asyncio.to_thread(openpyxl.load_workbook, saved)
    cells = [str(c) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row if c]
    assert any("乐昌市示范中学" in c or "demo-school" in c for c in cells)

    await school.locator("a", has_text="乐昌市示范中学").click()
    assert "乐昌市示范中学 台账汇总" in await page.locator("h1").inner_text()
    assert "严重" in await page.locator("main").inner_text()
    async with page.expect_download() as md_download:
        await page.click("text=下载汇总报告")
    got = await md_download.value
    report_md = (await asyncio.to_thread(Path(await got.path()).read_text, encoding="utf-8"))
    assert got.suggested_filename.endswith(".md") and "乐昌市示范中学" in report_md

    raw = await page.request.get(console_system.at(f"/ledger.csv?from={this_month()}&to={this_month()}"))
    disposition = raw.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="ledger-')
    assert "filename*=UTF-8''%E5%8F%B0%E8%B4%A6" in disposition  # 台账
    assert raw.headers["content-type"].startswith("text/csv")

    # the access log: the bureau's own ledger read, with the purpose the page stated
    await page.click("nav >> text=访问日志")
    log = page.locator("table.access-log tbody")
    ledger_read = log.locator("tr", has=page.locator("td:text-is('查看台账')")).filter(
        has=page.locator("td:text-is('bureau-wang')"))
    assert await ledger_read.count() >= 1
    assert "查看台账" in await ledger_read.first.inner_text()
    exported = log.locator("tr", has=page.locator("td:text-is('导出台账')"))
    assert "下载台账" in await exported.first.inner_text()
    await shoot(page, tmp_path, "access-log")

    # paging by the archive's cursor: two entries a page, the next page older, and back to the first
    await page.goto(console_system.at("/access-log?limit=2"))
    first_page = await log.locator("td.purpose").all_inner_texts()
    assert len(first_page) == 2 and first_page[0] == "监督查阅记录"
    await page.click("text=下一页")
    second_page = await log.locator("td.purpose").all_inner_texts()
    assert len(second_page) == 2 and second_page != first_page
    await page.click("text=回到第一页")
    assert await log.locator("td.purpose").count() == 2

    await page.fill("#f-account", "police-zhao")
    await page.click("button:has-text('查询')")
    assert "没有符合条件的记录" in await log.inner_text()


async def test_a_school_sees_only_itself_and_police_gets_403(console_system: ConsoleSystem, page: Any,
                                                             tmp_path: Path) -> None:
    await _severe_incident_archived(console_system)
    await login(page, console_system, "other-head")
    await page.goto(console_system.at("/ledger"))
    main = await page.locator("main").inner_text()
    assert "乐昌市示范中学" not in main and "各校合计" not in main
    assert await page.locator("td.num.some").count() == 0  # the other school's severe case is not counted here

    await page.context.clear_cookies()
    await login(page, console_system, "head-li")
    await page.goto(console_system.at("/ledger"))
    month = page.locator("table.ledger tr", has=page.locator(f"th:text-is('{this_month()}')"))
    assert await month.locator("td[data-col=severe]").inner_text() == "1"
    assert await page.locator("#f-school").count() == 0  # a school picks no school
    await page.set_viewport_size({"width": 390, "height": 844})
    await shoot(page, tmp_path, "ledger-phone")
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.fill("#f-from", "2026-05")
    await page.fill("#f-to", "2026-03")
    await page.click("button:has-text('查询')")
    assert "起始月份晚于截止月份" in await page.locator("p.error[data-field=from]").inner_text()
    await page.goto(console_system.at("/ledger"))
    await page.click("text=本校汇总")
    assert "台账汇总" in await page.locator("h1").inner_text()
    refused = await page.goto(console_system.at("/access-log"))
    assert refused.status == 403

    await page.context.clear_cookies()
    await login(page, console_system, "police-zhao")
    for path in ("/ledger", "/access-log", "/ledger.csv"):
        refused = await page.goto(console_system.at(path))
        assert refused.status == 403, path
        assert "无权访问" in await page.locator("h1").inner_text()


async def test_a_head_opens_and_disables_a_counsellor_account(console_system: ConsoleSystem, page: Any,
                                                              tmp_path: Path) -> None:
    await login(page, console_system, "head-li")
    await page.click("nav >> text=人员账号")
    assert await page.locator("#f-school_id").count() == 0  # a head creates for its own school only
    assert await page.locator("#f-title option[value=head]").count() == 0  # and no other heads

    await page.fill("#f-display_name", "刘老师")
    await page.fill("#f-account_id", "liu.counsellor")
    await page.select_option("#f-title", "counsellor")
    await page.fill("#f-password", "short")
    await page.click("button:has-text('开设账号')")
    error = page.locator(".field.invalid p.error[data-field=password]")
    assert "不得少于 12 个字符" in await error.inner_text()
    assert await page.locator("#f-display_name").input_value() == "刘老师"  # the rest is kept
    assert await page.locator("#f-password").input_value() == ""  # a password is never sent back

    await page.fill("#f-password", "a long initial passphrase")
    await page.click("button:has-text('开设账号')")
    assert "当面" in await page.locator(".notice.ok").inner_text()
    row = page.locator("table.accounts tr", has=page.locator("td:text-is('liu.counsellor')"))
    assert "心理辅导老师" in await row.inner_text() and "正常" in await row.inner_text()
    await shoot(page, tmp_path, "accounts")

    await page.click("button:has-text('退出')")
    await page.fill("#f-username", "liu.counsellor")
    await page.fill("#f-password", "a long initial passphrase")
    await page.click("button:has-text('登录')")
    assert "刘老师（学校 · 心理辅导老师）" in await page.locator(".who").inner_text()
    assert (await page.goto(console_system.at("/accounts"))).status == 403  # a counsellor manages no one

    await page.context.clear_cookies()
    await login(page, console_system, "head-li")
    await page.goto(console_system.at("/accounts"))
    await row.locator("button:has-text('停用')").click()
    assert await page.locator("h1").inner_text() == "确认停用账号"
    assert "liu.counsellor" in await page.locator("main").inner_text()
    await page.click("button:has-text('确认停用')")
    assert "账号已停用" in await page.locator(".notice.ok").inner_text()
    assert "已停用" in await row.inner_text()
    assert await row.locator("button:has-text('停用')").count() == 0

    await page.click("button:has-text('退出')")
    await page.fill("#f-username", "liu.counsellor")
    await page.fill("#f-password", "a long initial passphrase")
    await page.click("button:has-text('登录')")
    assert await page.locator(".notice").count() == 1 and await page.locator("text=退出").count() == 0


async def test_staff_accounts_are_the_bureaus_and_the_heads(console_system: ConsoleSystem, page: Any) -> None:
    await login(page, console_system, "teacher-chen")
    refused = await page.goto(console_system.at("/accounts"))
    assert refused.status == 403 and "无权访问" in await page.locator("h1").inner_text()
    assert await page.locator("nav >> text=人员账号").count() == 0

    await page.context.clear_cookies()
    await login(page, console_system, "bureau-wang")
    await page.goto(console_system.at("/accounts"))
    await page.fill("#f-display_name", "周校长")
    await page.fill("#f-account_id", "zhou.head")
    await page.select_option("#f-title", "head")
    await page.fill("#f-password", "another long passphrase")
    await page.click("button:has-text('开设账号')")
    assert "请选择账号所属学校" in await page.locator("p.error[data-field=school_id]").inner_text()
    await page.select_option("#f-school_id", "demo-school")
    await page.fill("#f-password", "another long passphrase")
    await page.click("button:has-text('开设账号')")
    row = page.locator("table.accounts tr", has=page.locator("td:text-is('zhou.head')"))
    assert "乐昌市示范中学" in await row.inner_text() and "校长" in await row.inner_text()
    # the same login name again: the archive's refusal, next to the field
    await page.fill("#f-display_name", "周校长")
    await page.fill("#f-account_id", "zhou.head")
    await page.select_option("#f-title", "head")
    await page.select_option("#f-school_id", "demo-school")
    await page.fill("#f-password", "another long passphrase")
    await page.click("button:has-text('开设账号')")
    assert "该账号已存在" in await page.locator("p.error[data-field=account_id]").inner_text()

"""The canary test of public disclosure (issue 16, "Done when"): a real severe case reported with unique canary
names, phone numbers, e-mails, a class, an exact date and a location, followed up (a student added, a
guardian corrected, a sanction, counselling), closed by two bureau officials, drafted, approved twice and
published from the console in a real Chromium. The public API's JSON, the public pages' HTML (in Chromium,
without login) and the Atom feed hold none of the canaries; a draft edited to hold any one is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest

from services.archive.disclosure_draft import ACCOUNTABILITY_PLACEHOLDER
from tests.campaign_rig import CANARIES, FILLED, canary_report, close_by_two, follow_up, leaked
from tests.console_rig import ConsoleSystem, login, shoot
from tests.helpers import eventually, official_headers

pytestmark = pytest.mark.timeout(300)

async def test_a_published_notice_holds_no_canary(console_system: ConsoleSystem, browser: Any, page: Any,
                                                  tmp_path: Path) -> None:
    s = console_system
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{s.settings.intake_port}", timeout=15) as intake, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{s.settings.archive_port}", timeout=15) as archive:
        school = {"Authorization": f"Bearer {s.school_key}"}
        posted = await intake.post("/v1/incidents", json=canary_report(),
                                   headers={**school, "Idempotency-Key": "canary-report-1"})
        assert posted.status_code == 202, posted.text
        case_id = posted.json()["incident_id"]
        wang = await official_headers(archive, s.settings.database_url, "bureau-wang-api")
        li = await official_headers(archive, s.settings.database_url, "bureau-li")

        async def reported() -> bool:
            r = await archive.get(f"/v1/cases/{case_id}", headers=wang)
            return r.status_code == 200 and r.json()["level"] == "severe" and bool(r.json()["duties"])
        await eventually(reported, timeout_s=60)
        r = await intake.post(f"/v1/incidents/{case_id}/follow-ups", json=follow_up(),
                              headers={**school, "Idempotency-Key": "canary-follow-up-1"})
        assert r.status_code == 202, r.text

        async def followed() -> bool:
            rec = (await archive.get(f"/v1/cases/{case_id}", headers=wang)).json()
            return any(st["name"] == "蔺鸣鹤" for st in rec["personal"]["students"])
        await eventually(followed, timeout_s=60)
        await close_by_two(archive, case_id, [wang, li])

        # the bureau drafts from the case page, in Chromium
        await login(page, s, "bureau-wang")
        await page.goto(s.at(f"/cases/{case_id}"))
        await page.check("input[value='督办检查']")
        await page.click("button:has-text('查看案件')")
        await page.click("#disclose")
        await page.wait_for_selector("#findings")
        assert "待填写内容" in await page.locator("#findings").inner_text()
        text = await page.locator("#f-text").input_value()
        assert text.startswith("2026年11月，乐昌市某中学") and not leaked(text), leaked(text)
        assert "警告处分" in text and "心理辅导1人次" in text
        did = page.url.split("/disclosures/")[1].split("?")[0]

        # a draft edited to hold any canary is refused by the rule (the API, each canary on its own) ...
        version = (await archive.get(f"/v1/disclosures/{did}", headers=wang)).json()["version"]
        clean = text.replace(ACCOUNTABILITY_PLACEHOLDER, FILLED)
        for canary in CANARIES:
            r = await archive.put(f"/v1/disclosures/{did}", headers=wang,
                                  json={"version": version, "text": f"{clean}另：{canary}。"})
            assert r.status_code == 422, (canary, r.text)
            assert canary not in r.text  # where, never what
        # ... and in the console, with the findings shown in Chinese and marked in the text
        await page.fill("#f-text", clean + "甄卡纳（初二(7)班）于11月3日在宿舍被打。")
        await page.click("button:has-text('保存修改')")
        await page.wait_for_selector("#findings")
        findings = await page.locator("#findings").inner_text()
        for word in ("个人信息", "班级", "具体日期或时间", "具体地点"):
            assert word in findings, word
        assert await page.locator("#findings mark").count() >= 4
        await shoot(page, tmp_path, "disclosure-findings")

        await page.fill("#f-text", clean)
        await page.click("button:has-text('保存修改')")
        await page.wait_for_selector("text=已保存新版本")
        assert await page.locator("#findings").count() == 0
        await page.click("button:has-text('审核同意')")
        await page.wait_for_selector("#awaiting")
        assert "bureau-wang" in await page.locator("#approvals").inner_text()
        await shoot(page, tmp_path, "disclosure-draft")

        # the second official, in another browser: approving publishes it
        other = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                          viewport={"width": 1280, "height": 900})
        second = await other.new_page()
        await login(second, s, "bureau-li")
        await second.click("nav >> text=公开通报")
        row = second.locator("table.disclosures tbody tr")
        assert "一人已审核" in await row.inner_text() and "1/2" in await row.inner_text()
        await shoot(second, tmp_path, "disclosures")
        await row.locator("a").click()
        await second.click("button:has-text('审核同意')")
        await second.wait_for_selector("text=通报已公开")
        assert await second.locator("#state").inner_text() == "已公开"
        await other.close()

        # public: the API's JSON, the pages in Chromium without login, the feed
        public = await archive.get("/v1/public/disclosures")
        assert [n["disclosure_id"] for n in public.json()] == [did]
        assert public.json()[0]["text"] == clean and not leaked(public.text), leaked(public.text)
        visitor = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                            viewport={"width": 390, "height": 844})
        anon = await visitor.new_page()
        listed = await anon.goto(s.at("/public/disclosures"))
        assert listed is not None and listed.status == 200
        assert listed.headers["content-security-policy"].startswith("default-src 'self'")
        assert listed.headers["x-frame-options"] == "DENY"
        assert "乐昌市某中学" in await anon.locator("#notices").inner_text()
        assert not leaked(await anon.content())
        await shoot(anon, tmp_path, "public-disclosures-phone")
        await anon.click(f"a[href='/public/disclosures/{did}']")
        await anon.wait_for_selector("#notice")
        html = await anon.content()
        assert "情节严重" in html and FILLED in html and not leaked(html), leaked(html)
        await shoot(anon, tmp_path, "public-disclosure-phone")
        await anon.set_viewport_size({"width": 1280, "height": 900})
        await shoot(anon, tmp_path, "public-disclosure")
        await visitor.close()
        async with httpx.AsyncClient(base_url=s.url) as console:
            feed = await console.get("/public/disclosures/feed.xml")
        assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
        assert not leaked(feed.text), leaked(feed.text)
        entries = ET.fromstring(feed.content).findall("{http://www.w3.org/2005/Atom}entry")
        assert len(entries) == 1 and f"urn:uuid:{did}" in feed.text

        # the record shows what was published and when
        async def published() -> list[dict[str, Any]] | None:
            rec = (await archive.get(f"/v1/cases/{case_id}", headers=wang)).json()
            steps = [e["summary"] for e in rec["timeline"] if e["event_type"] == "DisclosureChanged"]
            return steps if steps and steps[-1]["state"] == "published" else None
        steps = await eventually(published)
        assert steps[-1]["public_text"] == clean and steps[-1]["published_at"]

        # withdrawn from the console: off the public page and the feed; the record keeps both acts
        await page.goto(s.at(f"/disclosures/{did}"))
        await page.fill("#f-reason", "表述需进一步核实")
        await page.click("button:has-text('撤回通报')")
        await page.wait_for_selector("text=通报已撤回")
        assert await page.locator("#state").inner_text() == "已撤回"
        assert (await archive.get("/v1/public/disclosures")).json() == []
        async with httpx.AsyncClient(base_url=s.url) as console:
            assert "<entry" not in (await console.get("/public/disclosures/feed.xml")).text
            gone = await console.get(f"/public/disclosures/{did}")
            assert gone.status_code == 404 and "已撤回" in gone.text

        async def withdrawn() -> list[str] | None:
            rec = (await archive.get(f"/v1/cases/{case_id}", headers=wang)).json()
            states = [e["summary"]["state"] for e in rec["timeline"] if e["event_type"] == "DisclosureChanged"]
            return states if states[-1:] == ["withdrawn"] else None
        assert "published" in await eventually(withdrawn)

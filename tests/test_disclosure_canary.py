"""The canary test of public disclosure (issue 16, "Done when"): a real severe case reported with unique canary
names, phone numbers, e-mails, a class, an exact date and a location, followed up (a student added, a
guardian corrected, a sanction, counselling), closed by two bureau officials, drafted, approved twice and
published from the console in a real Chromium. The public API's JSON, the public pages' HTML (in Chromium,
without login) and the Atom feed hold none of the canaries; a draft edited to hold any one is refused."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest

from services.archive.disclosure_draft import ACCOUNTABILITY_PLACEHOLDER
from services.intake.examples import SEVERE_EXAMPLE
from tests.console_rig import ConsoleSystem, login, shoot
from tests.helpers import eventually, official_headers

pytestmark = pytest.mark.timeout(300)

SETTLED = ("done", "acknowledged", "waived", "not_applicable")
NAMES = ["甄卡纳", "郝金雀", "甄守望", "郝铁栓", "柯哨兵", "蔺鸣鹤", "蔺晨曦", "单于雁回"]
GIVEN = ["卡纳", "金雀", "守望", "铁栓", "哨兵", "鸣鹤", "晨曦", "雁回"]
PHONES = ["13912340071", "13912340072", "13912340073"]
EMAILS = ["canary.zhen@example.cn", "canary.hao@example.cn", "canary.lin@example.cn"]
REFS = ["CANARY-71", "CANARY-72", "CANARY-73"]
CLASS = ["初二(7)班", "初二（7）班", "7班"]
WHEN = ["2026年11月3日", "11月3日", "2026-11-03", "14:30"]
WHERE = ["东区学生宿舍楼302室", "宿舍", "302室", "乐昌市示范中学", "示范中学"]
CANARIES = NAMES + GIVEN + PHONES + EMAILS + REFS + CLASS + WHEN + WHERE
FILLED = "经调查，学校已按规定履行报告和处置职责；对学校分管负责人进行约谈，责令学校作出书面整改报告。"


def canary_report() -> dict[str, Any]:
    body = copy.deepcopy(SEVERE_EXAMPLE)
    body.update(occurred_at="2026-11-03T14:30:00+08:00", discovered_at="2026-11-03T15:00:00+08:00",
                location="东区学生宿舍楼302室", cause="2026年11月3日午休时在宿舍因琐事发生口角。",
                course="甄卡纳在初二(7)班宿舍被郝金雀推搡踢打，14:30值班教师柯哨兵发现后制止。",
                reporter={"name": "柯哨兵", "role": "值班教师"})
    body["students"] = [
        {"ref": "CANARY-71", "role": "victim", "name": "甄卡纳", "grade": "初二(7)班",
         "guardians": [{"name": "甄守望", "relation": "父亲", "phone": PHONES[0], "email": EMAILS[0]}]},
        {"ref": "CANARY-72", "role": "perpetrator", "name": "郝金雀", "grade": "初二(7)班",
         "guardians": [{"name": "郝铁栓", "relation": "父亲", "phone": PHONES[1], "email": EMAILS[1]}]},
    ]
    return body


def follow_up() -> dict[str, Any]:
    return {
        "students_added": [{"ref": "CANARY-73", "role": "perpetrator", "name": "蔺鸣鹤", "grade": "初二(7)班",
                            "guardians": [{"name": "单于雁回", "relation": "母亲", "phone": PHONES[2]}]}],
        "guardians_corrected": [{"student_ref": "CANARY-73", "guardians": [
            {"name": "蔺晨曦", "relation": "母亲", "phone": PHONES[2], "email": EMAILS[2]}]}],
        "sanctions": [{"student_ref": "CANARY-72", "measure": "警告处分", "decided_at": "2026-11-20T10:00:00+08:00"}],
        "counselling": [{"student_ref": "CANARY-71", "given_at": "2026-11-21T10:00:00+08:00", "by": "心理健康教师"}],
    }


def leaked(text: str) -> list[str]:
    return [c for c in CANARIES if c in text]


async def close_by_two(archive: httpx.AsyncClient, case_id: str, officials: list[dict[str, str]]) -> None:
    """Waive whatever is still open (two officials each), then close (two officials), until closed."""
    async def closed() -> bool:
        rec = (await archive.get(f"/v1/cases/{case_id}", headers=officials[0])).json()
        if rec["status"] == "closed":
            return True
        still_open = [d for d in rec["duties"] if d["state"] not in SETTLED]
        for d in still_open:
            for who in officials:
                await archive.post(f"/v1/cases/{case_id}/acts", headers=who, json={
                    "act": "waive_duty", "obligation_id": d["obligation_id"], "reason": "测试：集中免除以便结案"})
        if not still_open and rec["duties"]:
            for who in officials:
                await archive.post(f"/v1/cases/{case_id}/acts", headers=who,
                                   json={"act": "close_case", "reason": "各项处置措施均已落实"})
        return False
    await eventually(closed, timeout_s=150, interval_s=1.0)


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

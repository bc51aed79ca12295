"""Issue 16's "Done when" as ONE journey through every real process (intake, escalation, notify, archive, console;
real JetStream, PostgreSQL, SMTP sink, Chromium): the bureau starts a drill campaign over the archive's API
(its first phase due seconds after the start); two schools file their student screening returns (one with a
hazard it filed, one with nothing found) and the bureau screens both; the third files nothing and, once the
deadline has passed, escalation's watchdog marks its duties missed and mails the bureau, coverage lists it
uncovered (API and console page) and the progress API shows it overdue, while the two schools' screening
duties are settled; a school submits its summary and the city summary DOCX names it and the schools that
did not; a severe case reported in this journey with canary personal data is closed, drafted, approved by
two officials and published, and its public API, page and feed hold none of its canaries."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import quote

import docx
import httpx
import openpyxl
import pytest

from services.archive.disclosure_draft import ACCOUNTABILITY_PLACEHOLDER
from shared.config import Settings
from shared.contracts.campaign import campaign_case_id
from shared.contracts.duties import DutyUpdated
from shared.subjects import DUTIES, DUTY_UPDATED
from tests.campaign_rig import (
    FILLED,
    SUMMARY_TEXT,
    campaign_files,
    canary_report,
    close_by_two,
    directory_with_three_schools,
    follow_up,
    hazard_body,
    leaked,
    screening_body,
)
from tests.console_rig import ConsoleSystem, login, shoot
from tests.helpers import eventually, official_headers, stream_messages

pytestmark = pytest.mark.timeout(300)

DRILL = "t-journey"
BASE = f"/v1/campaigns/{DRILL}"
FILERS = ("demo-school", "other-school")  # the console rig's two schools (intake keys: demo-school's)
SILENT = "third-school"
FIRST_DUE_S = 20  # p1 ends this long after the start: time for the two schools and the bureau to file


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The console rig's settings with three lechang schools, the drill (p1 due 20 s after the start) and a
    watchdog that looks every second."""
    return settings.model_copy(update={
        "directory_file": directory_with_three_schools(tmp_path, second="other-school"),
        "campaigns_dir": campaign_files(tmp_path, DRILL, f"{FIRST_DUE_S}s"),
        "watchdog_interval_s": 1.0})


async def _duty_updates(settings: Settings) -> list[DutyUpdated]:
    return [DutyUpdated.model_validate_json(m.data) for m in await stream_messages(settings.nats_url, DUTIES.name)
            if m.subject.startswith(DUTY_UPDATED)]


async def test_the_campaign_from_start_to_public_notice(console_system: ConsoleSystem, browser: Any, page: Any,
                                                        smtp_sink: Any, tmp_path: Path) -> None:
    s = console_system
    db = s.settings.database_url
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{s.settings.intake_port}", timeout=15) as intake, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{s.settings.archive_port}", timeout=20) as archive:
        bureau = await official_headers(archive, db, "bureau-zhou", purpose=quote("专项整治全程核查"))
        bureau2 = await official_headers(archive, db, "bureau-qian")
        demo = await official_headers(archive, db, "head-demo-j", role="school", school="demo-school", title="head")
        other = await official_headers(archive, db, "head-other-j", role="school", school="other-school",
                                       title="head")
        school_key = {"Authorization": f"Bearer {s.school_key}"}

        # demo-school's finding, filed as a hazard in intake before the campaign (the return names it)
        r = await intake.post("/v1/hazards", json=hazard_body("demo-school"),
                              headers={**school_key, "Idempotency-Key": "journey-hazard-1"})
        assert r.status_code == 202, r.text
        hazard = str(r.json()["hazard_id"])
        await eventually(lambda: _status(archive, f"/v1/cases/{hazard}", demo, 200), timeout_s=30)

        # 1. the bureau starts the campaign over the archive's API
        started = await archive.post(f"{BASE}/start", headers=bureau)
        assert started.status_code == 202, started.text
        assert started.json()["schools"] == ["demo-school", "other-school", SILENT]

        # 2. two schools file their returns (findings / nothing found); the bureau screens both (nothing wrong)
        ret = f"{BASE}/phases/p1/student-screening"

        async def filed(path: str, body: dict[str, Any], who: dict[str, str]) -> bool:
            r = await archive.post(path, json=body, headers=who)  # 409 until the start is projected
            assert r.status_code in (202, 409), r.text
            return r.status_code == 202

        await eventually(lambda: filed(ret, {"students_screened": 1250, "parent_talks": 310, "hazard_ids": [hazard]},
                                       demo), timeout_s=15)
        assert await filed(ret, {"students_screened": 860, "parent_talks": 120, "nothing_found": True}, other)
        for school in FILERS:
            assert await filed(f"{BASE}/phases/p1/schools/{school}/screening", screening_body(()), bureau)

        # 3. a school submits its phase summary
        assert await filed(f"{BASE}/phases/p3/summary", SUMMARY_TEXT, demo)

        # 4. a severe case of this journey, reported with canary personal data, followed up and closed by two
        posted = await intake.post("/v1/incidents", json=canary_report(),
                                   headers={**school_key, "Idempotency-Key": "journey-report-1"})
        assert posted.status_code == 202, posted.text
        case_id = posted.json()["incident_id"]

        async def reported() -> bool:
            r = await archive.get(f"/v1/cases/{case_id}", headers=bureau)
            return r.status_code == 200 and r.json()["level"] == "severe" and bool(r.json()["duties"])
        await eventually(reported, timeout_s=60)
        r = await intake.post(f"/v1/incidents/{case_id}/follow-ups", json=follow_up(),
                              headers={**school_key, "Idempotency-Key": "journey-follow-up-1"})
        assert r.status_code == 202, r.text

        async def followed() -> bool:
            rec = (await archive.get(f"/v1/cases/{case_id}", headers=bureau)).json()
            return any(st["name"] == "蔺鸣鹤" for st in rec["personal"]["students"])
        await eventually(followed, timeout_s=60)
        await close_by_two(archive, case_id, [bureau, bureau2])

        # ... drafted, the accountability written, approved by two officials: published
        draft = await archive.post(f"/v1/cases/{case_id}/disclosures", headers=bureau)
        assert draft.status_code in (200, 201), draft.text
        did, text = draft.json()["disclosure_id"], draft.json()["text"]
        assert not leaked(text), leaked(text)
        edited = await archive.put(f"/v1/disclosures/{did}", headers=bureau, json={
            "version": draft.json()["version"], "text": text.replace(ACCOUNTABILITY_PLACEHOLDER, FILLED)})
        assert edited.status_code == 200 and edited.json()["findings"] == [], edited.text
        version = edited.json()["version"]
        one = await archive.post(f"/v1/disclosures/{did}/approve", headers=bureau, json={"version": version})
        assert one.status_code == 200 and one.json()["state"] == "approved", one.text
        assert (await archive.get("/v1/public/disclosures")).json() == []  # one approval publishes nothing
        two = await archive.post(f"/v1/disclosures/{did}/approve", headers=bureau2, json={"version": version})
        assert two.status_code == 200 and two.json()["state"] == "published", two.text

        public = await archive.get("/v1/public/disclosures")
        assert [n["disclosure_id"] for n in public.json()] == [did]
        assert FILLED in public.text and not leaked(public.text), leaked(public.text)
        async with httpx.AsyncClient(base_url=s.url) as console:
            feed = await console.get("/public/disclosures/feed.xml")
        assert f"urn:uuid:{did}" in feed.text and not leaked(feed.text), leaked(feed.text)
        visitor = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
        anon = await visitor.new_page()
        shown = await anon.goto(s.at(f"/public/disclosures/{did}"))
        assert shown is not None and shown.status == 200
        html = await anon.content()
        assert "情节严重" in html and FILLED in html and not leaked(html), leaked(html)
        await shoot(anon, tmp_path, "journey-public-notice")
        await visitor.close()

        # 5. past p1's deadline: the watchdog marked the silent school's duties missed and told the bureau
        async def missed() -> dict[tuple[str, str], DutyUpdated] | None:
            newest = {(u.school_id, u.duty.action_id): u for u in await _duty_updates(s.settings)
                      if u.school_id != "jurisdiction:lechang"}
            silent = [newest.get((SILENT, a)) for a in ("student_screening", "school_screening")]
            return newest if all(u and u.duty.missed >= 1 for u in silent) else None
        newest = await eventually(missed, timeout_s=FIRST_DUE_S + 30, interval_s=0.5)
        for school in FILERS:
            for action in ("student_screening", "school_screening"):
                duty = newest[(school, action)].duty
                assert duty.state == "done" and duty.missed == 0, (school, action, duty)
        assert newest[(SILENT, "student_screening")].duty.state not in ("done", "waived")

        subject = "【专项整治·逾期未办】乐昌市第三中学（动员部署和排查）：全面排查本校学生并报送排查报告"

        async def mailed() -> Any:
            return next((m for m in smtp_sink.messages if str(m["Subject"]) == subject), None)
        mail = await eventually(mailed, timeout_s=30)
        assert mail.get_body(("plain",)).get_content().startswith("乐昌市教育局值班室：")
        assert not [m for m in smtp_sink.messages if "逾期未办" in str(m["Subject"])
                    and ("示范中学" in str(m["Subject"]) or "第二中学" in str(m["Subject"]))]

        # the progress API: the silent school overdue in p1, the two schools' p1 done
        async def progressed() -> dict[str, Any] | None:
            body = (await archive.get(BASE, headers=bureau)).json()
            rows = {row["school_id"]: row["phases"][0] for row in body["schools"]}
            return rows if rows[SILENT]["overdue"] == 2 and all(rows[f]["done"] == 2 for f in FILERS) else None
        rows = await eventually(progressed, timeout_s=30)
        assert {f: rows[f]["overdue"] for f in FILERS} == {"demo-school": 0, "other-school": 0}
        assert all(d["overdue"] and d["state"] != "done" for d in rows[SILENT]["duties"])

        # coverage: the silent school uncovered and not filed, the two covered (findings / nothing found)
        coverage = (await archive.get(f"{BASE}/coverage", params={"phase": "p1"}, headers=bureau)).json()
        by_school = {row["school_id"]: row for row in coverage["schools"]}
        assert [row["school_id"] for row in coverage["uncovered"]] == [SILENT]
        assert by_school[SILENT]["student_return"]["state"] == "not_filed"
        assert by_school[SILENT]["missing"] == ["school_screening", "student_screening"]
        assert {f: (by_school[f]["covered"], by_school[f]["student_return"]["state"]) for f in FILERS} == {
            "demo-school": (True, "findings"), "other-school": (True, "nothing_found")}
        assert by_school["demo-school"]["student_return"]["hazard_ids"] == [hazard]

        # the ledger workbook the bureau exports: 排查覆盖 and 专项整治 say the same; the miss is in the school's record
        book = openpyxl.load_workbook(io.BytesIO((await archive.get("/v1/ledger.xlsx", headers=bureau)).content))
        sheet = [list(row) for row in book["排查覆盖"].iter_rows(values_only=True)]
        head = sheet[0]
        returns = {row[head.index("学校代码")]: row[head.index("学生排查报告")] for row in sheet[1:]
                   if row[1] == "动员部署和排查"}
        assert returns == {"demo-school": "已报送·有发现", "other-school": "已报送·无发现", SILENT: "未报送"}
        sheet = [list(row) for row in book["专项整治"].iter_rows(values_only=True)]
        overdue = {row[1]: row[7] for row in sheet[1:] if row[3] == "动员部署和排查"}
        assert overdue == {"demo-school": 0, "other-school": 0, SILENT: 2}
        silent_case = campaign_case_id(DRILL, SILENT)

        async def chained() -> bool:
            timeline = (await archive.get(f"/v1/cases/{silent_case}", headers=bureau)).json()["timeline"]
            return "DeadlineMissed" in {e["event_type"] for e in timeline}
        await eventually(chained, timeout_s=20)

        # ... and on the console's coverage page, in Chromium
        await login(page, s, "bureau-wang")
        await page.goto(s.at(f"/screening?campaign={DRILL}&phase=p1"))
        silent_row = page.locator(f"table.coverage tr[data-school='{SILENT}']")
        assert await silent_row.get_attribute("class") == "uncovered"
        assert "未覆盖" in await silent_row.inner_text() and "未报送" in await silent_row.inner_text()
        bg = await silent_row.locator("td").first.evaluate("e => getComputedStyle(e).backgroundColor")
        assert bg == "rgb(255, 245, 244)"  # highlighted on a desktop too
        for school in FILERS:
            assert "已覆盖" in await page.locator(f"table.coverage tr[data-school='{school}']").inner_text()
        await shoot(page, tmp_path, "journey-coverage")
        # the bureau's own duties: the silent school's screening overdue, the city summary the jurisdiction's
        await page.goto(s.at("/duties"))
        duties = await page.locator("table").first.inner_text()
        assert "乐昌市第三中学" in duties and "已逾期" in duties
        assert "乐昌市（全辖区）" in duties and "jurisdiction:" not in duties

        # 6. the city summary: the school's text and the two schools that did not submit
        async def submitted() -> bool:
            listed = (await archive.get(f"{BASE}/summaries", params={"phase": "p3"}, headers=bureau)).json()
            return bool(listed["submitted"] == 1)
        await eventually(submitted, timeout_s=30)
        exported = await archive.get(f"{BASE}/city-summary.docx", params={"phase": "p3"}, headers=bureau)
        assert exported.status_code == 200, exported.text
        document = docx.Document(io.BytesIO(exported.content))
        words = "\n".join(p.text for p in document.paragraphs)
        assert "应报送学校 3 所，已报送 1 所，未报送 2 所。" in words
        missing = words.split("二、未报送总结的学校")[1].split("三、各校总结")[0]
        assert "乐昌市第二中学（other-school）" in missing and "乐昌市第三中学（third-school）" in missing
        assert "乐昌市示范中学" not in missing
        texts = words.split("三、各校总结")[1]
        for zh, field in (("成效", "achievements"), ("问题", "problems"), ("原因", "causes"), ("下一步", "next_steps")):
            assert f"{zh}：{SUMMARY_TEXT[field]}" in texts


async def _status(client: httpx.AsyncClient, path: str, who: dict[str, str], status: int) -> bool:
    return (await client.get(path, headers=who)).status_code == status

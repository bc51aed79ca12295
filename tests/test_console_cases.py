"""The officials' case pages in a real Chromium: the list, the purpose asked first, the record, the acts."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.console.pages.acts import beijing, request_for
from services.console.pages.case_acts import case_acts, higher_levels, offered_acts
from services.console.session import Session
from tests.console_rig import PASSWORD, ConsoleSystem, login, shoot
from tests.helpers import eventually, report

MINOR = {"injury": "none", "violence": False, "weapon": False, "group": False,
         "repeated_after_education": False, "suspected_crime": False, "public_attention": "none"}


async def _report(system: ConsoleSystem, **changes: Any) -> str:
    async with httpx.AsyncClient(timeout=10) as client:
        posted = await client.post(
            f"http://127.0.0.1:{system.settings.intake_port}/v1/incidents", json=report(**changes),
            headers={"Authorization": f"Bearer {system.school_key}", "Idempotency-Key": str(uuid.uuid4())})
    assert posted.status_code == 202, posted.text
    return str(posted.json()["incident_id"])


class Archive:
    """The archive's API as one official, to wait for the record and to check what the pages did."""

    def __init__(self, system: ConsoleSystem) -> None:
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{system.settings.archive_port}", timeout=10)
        self.token = ""

    async def login(self, account: str) -> Archive:
        r = await self.client.post("/v1/auth/token", json={"username": account, "password": PASSWORD})
        assert r.status_code == 200, r.text
        self.token = r.json()["access_token"]
        return self

    async def get(self, path: str, **params: str) -> Any:
        r = await self.client.get(path, params=params, headers={"Authorization": f"Bearer {self.token}",
                                                                 "X-Access-Purpose": "test checking"})
        return r.json() if r.status_code == 200 else None

    async def record_when(self, case_id: str, ready: Any) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            record = await self.get(f"/v1/cases/{case_id}")
            return record if record is not None and ready(record) else None
        return await eventually(probe, timeout_s=30)


def _delivered_to(role: str) -> Any:
    return lambda rec: rec.get("case_ref") and any(
        x["role"] == role and x["status"] == "delivered" for x in rec["recipients"])


async def _reload_until(page: Any, selector: str, text: str) -> None:
    async def shown() -> bool:
        await page.reload()
        return text in await page.locator(selector).inner_text()
    await eventually(shown, timeout_s=20, interval_s=0.3)


async def test_bureau_opens_a_severe_case_with_a_purpose_and_acts(
        console_system: ConsoleSystem, page: Any, tmp_path: Path) -> None:
    case_id = await _report(console_system)
    archive = await Archive(console_system).login("bureau-wang")
    record = await archive.record_when(case_id, _delivered_to("bureau"))
    ref = record["case_ref"]

    await login(page, console_system, "bureau-wang")
    await page.click("nav >> text=案件")
    row = page.locator("table.cases tbody tr", has_text=ref)
    assert "严重" in await row.inner_text() and "欺凌事件" in await row.inner_text()
    await shoot(page, tmp_path, "cases-list")
    # a filter the API has: minor cases only → this one is not listed
    await page.select_option("#f-level", "minor")
    await page.click("button:has-text('筛选')")
    assert "level=minor" in page.url and await page.locator("table.cases", has_text=ref).count() == 0
    await page.goto(console_system.at("/cases"))

    await page.locator("table.cases tbody tr", has_text=ref).locator("a").click()
    assert await page.locator("h1").inner_text() == "查阅事由"
    await shoot(page, tmp_path, "case-purpose")
    await page.click("button:has-text('查看案件')")  # nothing chosen: asked again, in Chinese, next to the choice
    assert "请选择或填写查阅事由" in await page.locator(".error[data-field=preset]").inner_text()
    await page.check("input[value='督办检查']")
    await page.click("button:has-text('查看案件')")
    assert await page.locator("#case-level").inner_text() == "严重"
    assert "督办检查" in await page.locator(".purpose").inner_text()
    duties = await page.locator("table.duties").inner_text()
    assert "教育局" in duties and "期限" in duties
    assert "教育局" in await page.locator("table.recipients").inner_text()
    assert "李小明" in await page.locator("table.students").inner_text()  # the bureau sees personal data
    assert "校验通过" in await page.locator("#chain").inner_text()
    await shoot(page, tmp_path, "case")

    log = await archive.get("/v1/access-log", case_id=case_id)
    assert any(e["purpose"] == "督办检查" and e["action"] == "detail" and e["account_id"] == "bureau-wang"
               for e in log["items"])

    # acknowledge the bureau's notice: button, confirmation page, back to the case with a notice
    bureau_row = page.locator("table.duties tbody tr", has=page.locator("a:has-text('确认收到')"))
    await bureau_row.locator("a:has-text('确认收到')").click()
    assert await page.locator("h1").inner_text() == "确认收到通知"
    await page.click("button:has-text('确认提交')")
    assert "已确认收到该通知" in await page.locator(".notice.ok").inner_text()
    assert "?done=ack" in page.url
    acked = await archive.record_when(case_id, lambda rec: any(
        d["role"] == "bureau" and d["kind"] == "notice" and d["state"] == "acknowledged" for d in rec["duties"]))
    [duty] = [d for d in acked["duties"] if d["role"] == "bureau" and d["kind"] == "notice"]
    assert duty["settled_by"] == "bureau-wang"
    await _reload_until(page, "table.duties", "已确认")

    # a bureau act: a note, recorded with its reason
    await page.click("a:has-text('添加备注')")
    await page.fill("#f-reason", "已电话督促学校校长落实心理辅导。")
    await page.click("button:has-text('确认提交')")
    assert "已记录" in await page.locator(".notice.ok").inner_text()
    await _reload_until(page, ".acts", "添加备注")
    assert "已电话督促学校校长落实心理辅导" in await page.locator(".acts").inner_text()

    # a form error, in Chinese, next to its field: a follow-up ordered for a time already past
    await page.click("a:has-text('责令学校限期续报')")
    await page.fill("#f-due_at", "2020-01-01T09:00")
    await page.fill("#f-reason", "请报告心理辅导落实情况。")
    await page.click("button:has-text('确认提交')")
    assert "续报期限须晚于当前时间" in await page.locator(".field.invalid .error[data-field=due_at]").inner_text()
    assert await page.locator("#f-reason").input_value() == "请报告心理辅导落实情况。"  # kept
    await shoot(page, tmp_path, "case-act")

    # my duties: the bureau's open duties, linking to their cases
    await page.click("nav >> text=我的待办")
    await page.select_option("#f-whose", "all")
    await page.click("button:has-text('筛选')")
    assert ref in await page.locator("table.duties").inner_text()


async def test_police_see_referred_cases_and_another_school_sees_nothing(
        console_system: ConsoleSystem, page: Any, tmp_path: Path) -> None:
    archive = await Archive(console_system).login("bureau-wang")
    minor_id = await _report(console_system, **MINOR)
    minor = await archive.record_when(minor_id, lambda rec: rec.get("case_ref") and rec.get("level"))
    severe_id = await _report(console_system)
    severe = await archive.record_when(severe_id, _delivered_to("police"))
    assert severe["referred_to_police"] and not minor["referred_to_police"]

    await login(page, console_system, "police-zhao")
    await page.goto(console_system.at("/cases"))
    listed = await page.locator("table.cases").inner_text()
    assert severe["case_ref"] in listed and minor["case_ref"] not in listed
    await page.goto(console_system.at(f"/cases/{minor_id}"))
    await page.check("input[value='公安调查处置']")
    await page.click("button:has-text('查看案件')")
    assert "未找到该案件或无权查看" in await page.locator("main").inner_text()
    await page.goto(console_system.at(f"/cases/{severe_id}"))
    await page.check("input[value='公安调查处置']")
    await page.click("button:has-text('查看案件')")
    assert await page.locator("#case-level").inner_text() == "严重"
    assert await page.locator("a:has-text('公安机关已接收')").count() == 1  # the police's acts, not the bureau's
    assert await page.locator("a:has-text('添加备注')").count() == 0
    await page.click("a:has-text('登记公安案件编号')")
    await page.fill("#f-police_case_number", "乐公（治）受案字〔2026〕1234号")
    await page.fill("#f-reason", "已受案。")
    await page.click("button:has-text('确认提交')")
    assert "已记录" in await page.locator(".notice.ok").inner_text()
    await _reload_until(page, ".acts", "乐公（治）受案字〔2026〕1234号")
    await page.click("button:has-text('退出')")

    await login(page, console_system, "other-head")
    await page.goto(console_system.at(f"/cases/{severe_id}"))
    await page.check("input[value='其他']")
    await page.fill("#f-other", "核对本校案件")
    await page.click("button:has-text('查看案件')")
    assert "未找到该案件或无权查看" in await page.locator("main").inner_text()
    await page.goto(console_system.at("/cases"))
    assert await page.locator("table.cases").count() == 0
    await page.click("button:has-text('退出')")

    await login(page, console_system, "head-li")
    await page.goto(console_system.at(f"/cases/{severe_id}"))
    await page.check("input[value='依职责办理本案']")
    await page.click("button:has-text('查看案件')")
    await page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing wider than the screen
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await page.screenshot(path=str(tmp_path / "case-phone.png"))  # looked at, not kept
    await page.locator("table.duties").scroll_into_view_if_needed()
    await page.screenshot(path=str(tmp_path / "case-phone-duties.png"))
    link = page.locator("a:has-text('报告后续进展')")
    assert await link.get_attribute("href") == f"/school/cases/{severe_id}/follow-up"
    await page.goto(console_system.at("/duties"))
    assert page.url.endswith("/school/duties")


def _session(role: str) -> Session:
    return Session(token="t", account_id="a", name="n", role=role, jurisdiction="lechang",
                   school_id="demo-school" if role == "school" else None, title=None, last_seen=0.0)


@pytest.mark.pure
def test_each_role_is_offered_only_its_acts() -> None:
    case = {"kind": "incident", "status": "open", "level": "severe", "referred_to_police": True,
            "public_attention_wide": False, "duties": [
                {"obligation_id": "n1", "kind": "notice", "role": "bureau", "notification_id": "x",
                 "state": "delivered"},
                {"obligation_id": "n2", "kind": "notice", "role": "police", "notification_id": "y",
                 "state": "acknowledged"},
                {"obligation_id": "t1", "kind": "task", "role": "bureau", "notification_id": None, "state": "open"}]}
    bureau = offered_acts(_session("bureau"), case)
    assert "refer_to_police" not in bureau["case"] and "add_note" in bureau["case"]
    assert "waive_duty" not in bureau["case"]  # per duty, not per case
    assert bureau["ack"] == {"n1"} and bureau["task"] == {"t1"} and bureau["waive"] == {"n1", "t1"}
    police = offered_acts(_session("police"), case)
    assert police["case"] == [a for a in police["case"] if a.startswith("police_")] and police["ack"] == set()
    assert offered_acts(_session("school"), case)["case"] == [] == case_acts(_session("stability_office"), case)
    closed = case | {"status": "closed"}
    assert case_acts(_session("bureau"), closed) == ["add_note"]
    assert higher_levels("serious") == ["severe", "criminal"] and higher_levels(None)[0] == "minor"


@pytest.mark.pure
def test_an_act_becomes_the_apis_request() -> None:
    from starlette.datastructures import FormData

    form = FormData({"reason": " 请续报 ", "due_at": "2026-12-05T17:00", "level": "x"})
    assert request_for("order_follow_up", {}, form) == (
        "/acts", {"act": "order_follow_up", "reason": "请续报", "due_at": "2026-12-05T17:00:00+08:00"})
    assert request_for("waive_duty", {}, form) is None  # which duty? only from the case page's button
    assert request_for("ack", {"notification_id": "n"}, form) == ("/acknowledgements", {"notification_id": "n"})
    assert beijing("tomorrow") == "tomorrow"  # the archive says what is wrong with it


async def _purpose(page: Any, system: ConsoleSystem, case_id: str, purpose: str) -> None:
    await page.goto(system.at(f"/cases/{case_id}"))
    await page.check(f"input[value='{purpose}']")
    await page.click("button:has-text('查看案件')")


async def test_bureau_approves_a_proposal_reports_its_task_done_and_completes_a_look_back(
        console_system: ConsoleSystem, page: Any) -> None:
    archive = await Archive(console_system).login("bureau-wang")
    case_id = await _report(console_system)
    await archive.record_when(case_id, _delivered_to("bureau"))
    async with httpx.AsyncClient(timeout=10) as client:
        posted = await client.post(
            f"http://127.0.0.1:{console_system.settings.intake_port}/v1/incidents/{case_id}/follow-ups",
            json={"outcome": "各项处置已落实。", "propose_closure": True},
            headers={"Authorization": f"Bearer {console_system.school_key}", "Idempotency-Key": str(uuid.uuid4())})
    assert posted.status_code == 202, posted.text
    await archive.record_when(case_id, lambda rec: any(e["event_type"] == "ChangeProposed" for e in rec["timeline"]))

    await login(page, console_system, "bureau-wang")
    await _purpose(page, console_system, case_id, "复核回访")
    await page.click("a:has-text('审批同意')")
    assert await page.locator("h1").inner_text() == "审批学校的变更申请"
    assert "结案" in await page.locator("main").inner_text()
    await page.fill("#f-comment", "同意结案。")
    await page.click("button:has-text('确认提交')")
    assert "已记录您的审批意见" in await page.locator(".notice.ok").inner_text()
    await archive.record_when(case_id, lambda rec: any(
        e["event_type"] == "ChangeApproved" for e in rec["timeline"]))

    # the bureau's own task (the special-school assessment): reported done with where the evidence is
    row = page.locator("table.duties tbody tr", has=page.locator("a:has-text('报告已办结')")).first
    label = (await row.locator("td").first.inner_text()).splitlines()[0]
    await row.locator("a:has-text('报告已办结')").click()
    assert label in await page.locator("main").inner_text()
    await page.fill("#f-note", "经评估，暂不需要转入专门学校。")
    await page.fill("#f-evidence_ref", "乐教专评〔2026〕12号")
    await page.click("button:has-text('确认提交')")
    assert "已记录该事项办结" in await page.locator(".notice.ok").inner_text()
    done = await archive.record_when(case_id, lambda rec: any(
        d["label_zh"] == label and d["state"] == "done" for d in rec["duties"]))
    [task] = [d for d in done["duties"] if d["label_zh"] == label]
    assert task["settled_by"] == "bureau-wang" and task["evidence_ref"] == "乐教专评〔2026〕12号"

    # the school's first incident brought a look-back review (回头看), which the bureau reports done
    async def lookbacks() -> list[dict[str, Any]] | None:
        listed = await archive.get("/v1/cases", kind="lookback")
        return listed["items"] if listed else None
    [lookback] = await eventually(lookbacks)
    await _purpose(page, console_system, lookback["case_id"], "督办检查")
    await page.click("a:has-text('报告“回头看”复查完成')")
    await page.fill("#f-findings", "学校已落实各项整改措施。")
    await page.click("button:has-text('确认提交')")
    assert "已记录“回头看”复查完成" in await page.locator(".notice.ok").inner_text()
    await archive.record_when(lookback["case_id"], lambda rec: any(
        e["event_type"] == "LookBackCompleted" for e in rec["timeline"]))

"""Campaigns in the archive (issue 16) on real JetStream and PostgreSQL: the bureau starts one (its row, a
campaign case per school and one for the jurisdiction, once however often asked); progress per school and
phase from the duties escalation publishes (published here as escalation would); who sees what; the CSV
and the ledger workbook's sheet; filing refused before the start; the ledger does not count campaign cases."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from services.archive import repository
from services.archive.app import running as archive
from services.archive.campaign_files import campaign_of, checked_campaigns, load_campaigns
from services.archive.campaign_filing import file_record, record_event, started_event
from shared.campaign_plan import CampaignError
from shared.config import Settings
from shared.contracts import DeadlineMissed, RecipientRole
from shared.contracts.campaign import RecordFacts, RecordKind, campaign_case_id, campaign_level_case_id
from shared.contracts.duties import Duty, DutyState, DutyUpdated
from shared.db import create_pool
from shared.directory import load_directory
from shared.errors import ApiError
from shared.identity import Official, OfficialRole, StaffTitle
from tests.campaign_rig import campaign_files
from tests.helpers import directory_with_more_schools, eventually, official_headers, publish, publish_started

ROOT = Path(__file__).resolve().parents[1]
DRILL = "t-drill"
SHIPPED = "2027-zhuanxiang"


@dataclass
class World:
    client: httpx.AsyncClient
    settings: Settings
    bureau: dict[str, str]
    head: dict[str, str]
    police: dict[str, str]

    async def get(self, path: str, who: dict[str, str], **params: Any) -> httpx.Response:
        return await self.client.get(path, headers=who, params=params)


@pytest.fixture
async def world(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    s = settings.model_copy(update={"directory_file": directory_with_more_schools(tmp_path),
                                    "campaigns_dir": campaign_files(tmp_path, DRILL)})
    async with archive(s), httpx.AsyncClient(base_url=f"http://127.0.0.1:{s.archive_port}", timeout=10) as client:
        yield World(client, s,
                    await official_headers(client, s.database_url, "bureau-zx"),
                    await official_headers(client, s.database_url, "head-zx", role="school", school="demo-school",
                                           title="head"),
                    await official_headers(client, s.database_url, "police-zx", role="police"))


def _duty_updated(campaign: str, case_id: uuid.UUID, school: str, action: str, state: DutyState, version: int,
                  due: datetime, role: str = "school") -> DutyUpdated:
    obligation = uuid.uuid5(case_id, action)
    settled = datetime.now(UTC) if state.settled else None
    return DutyUpdated(event_id=uuid.uuid4(), incident_id=case_id, school_id=school, version=version, duty=Duty(
        obligation_id=obligation, action_id=action, label_zh=f"{campaign} {action}", kind="task", role=role,
        state=state, due_at=due, first_due_at=due, settled_at=settled, settled_by="school:x" if settled else None))


async def _started(w: World, campaign: str = DRILL) -> dict[str, Any]:
    r = await w.client.post(f"/v1/campaigns/{campaign}/start", headers=w.bureau)
    assert r.status_code == 202, r.text

    async def projected() -> bool:
        got = await w.get("/v1/cases", w.bureau, kind="campaign")
        return got.status_code == 200 and len(got.json()["items"]) == 3

    await eventually(projected, timeout_s=30)
    body: dict[str, Any] = r.json()
    return body


async def test_the_bureau_starts_a_campaign_once_and_each_school_gets_its_case(world: World) -> None:
    w = world
    assert (await w.client.post(f"/v1/campaigns/{DRILL}/start", headers=w.head)).status_code == 403
    assert (await w.client.post(f"/v1/campaigns/{DRILL}/start", headers=w.police)).status_code == 403
    assert (await w.client.post("/v1/campaigns/nope/start", headers=w.bureau)).status_code == 404
    assert (await w.client.post("/v1/campaigns/NOT%20AN%20ID/start", headers=w.bureau)).status_code == 422
    first = await _started(w)
    assert first["schools"] == ["demo-school", "second-school"]  # far-school is another jurisdiction's
    again = await w.client.post(f"/v1/campaigns/{DRILL}/start", headers=w.bureau)
    assert again.status_code == 200 and again.json()["status"] == "already_started"
    assert again.json()["event_id"] == first["event_id"]

    cases = (await w.get("/v1/cases", w.bureau, kind="campaign")).json()["items"]
    ids = {c["case_id"] for c in cases}
    assert ids == {str(campaign_case_id(DRILL, "demo-school")), str(campaign_case_id(DRILL, "second-school")),
                   str(campaign_level_case_id(DRILL, "lechang"))}
    assert all(c["case_ref"].startswith("ZX-") for c in cases)
    mine = (await w.get("/v1/cases", w.head, kind="campaign")).json()["items"]
    assert [c["case_id"] for c in mine] == [str(campaign_case_id(DRILL, "demo-school"))]
    assert (await w.get("/v1/cases", w.police, kind="campaign")).json()["items"] == []
    level = await w.get(f"/v1/cases/{campaign_level_case_id(DRILL, 'lechang')}", w.bureau)
    assert "CampaignStarted" in {e["event_type"] for e in level.json()["timeline"]}
    assert (await w.get(f"/v1/cases/{campaign_level_case_id(DRILL, 'lechang')}", w.head)).status_code == 404

    listed = {c["campaign_id"]: c for c in (await w.get("/v1/campaigns", w.bureau)).json()}
    assert listed[DRILL]["started"] and listed[DRILL]["started_by"] == "bureau-zx"
    assert not listed[SHIPPED]["started"] and listed[SHIPPED]["phases"][0]["zh"] == "动员部署和排查"
    assert listed[SHIPPED]["phases"][0]["due_at"] == "2027-04-01T00:00:00+08:00"  # end of day, Shanghai
    assert (await w.get("/v1/campaigns", w.police)).status_code == 403
    assert (await w.get("/v1/campaigns", {"Authorization": w.bureau["Authorization"]})).status_code == 422
    log = (await w.get("/v1/access-log", w.bureau, account="bureau-zx")).json()["items"]
    assert any(e["action"] == "campaign" for e in log)


async def test_progress_per_school_and_phase_follows_the_duties(world: World) -> None:
    w = world
    await _started(w)
    started = datetime.now(UTC)
    mine, theirs = campaign_case_id(DRILL, "demo-school"), campaign_case_id(DRILL, "second-school")
    level = campaign_level_case_id(DRILL, "lechang")
    due = started + timedelta(seconds=3)
    for event in (
        _duty_updated(DRILL, mine, "demo-school", "student_screening", DutyState.open, 1, due),
        _duty_updated(DRILL, mine, "demo-school", "student_screening", DutyState.done, 2, due),
        _duty_updated(DRILL, theirs, "second-school", "student_screening", DutyState.open, 1, due),
        _duty_updated(DRILL, level, "-", "city_summary", DutyState.open, 1, started + timedelta(minutes=15),
                      role="bureau"),
    ):
        await publish(w.settings.nats_url, event)

    async def progressed() -> dict[str, Any] | None:
        r = await w.get(f"/v1/campaigns/{DRILL}", w.bureau)
        body: dict[str, Any] = r.json()
        rows = {s["school_id"]: s for s in body["schools"]}
        return body if rows["demo-school"]["phases"][0]["done"] == 1 and body["campaign_duties"][0][
            "obligation_id"] and rows["second-school"]["overdue"] == 2 else None

    body = await eventually(progressed, timeout_s=30)
    rows = {s["school_id"]: s for s in body["schools"]}
    p1 = rows["demo-school"]["phases"][0]
    assert (p1["phase_id"], p1["done"], p1["total"], p1["overdue"]) == ("p1", 1, 2, 1)  # the bureau's screening
    assert {d["duty_id"]: d["state"] for d in p1["duties"]} == {"student_screening": "done", "school_screening": "open"}
    other = rows["second-school"]["phases"][0]
    assert (other["done"], other["total"], other["overdue"]) == (0, 2, 2)
    assert rows["second-school"]["phases"][1] == {**rows["second-school"]["phases"][1], "overdue": 0, "total": 1}
    assert body["campaign_duties"][0]["duty_id"] == "city_summary" and not body["campaign_duties"][0]["overdue"]

    record = (await w.get(f"/v1/cases/{mine}", w.head)).json()  # its chain: the duty's versions so far
    assert record["kind"] == "campaign" and [d["action_id"] for d in record["duties"]] == ["student_screening"]
    own = (await w.get(f"/v1/campaigns/{DRILL}", w.head)).json()
    assert [s["school_id"] for s in own["schools"]] == ["demo-school"] and own["campaign_duties"] == []
    assert (await w.get(f"/v1/campaigns/{DRILL}", w.police)).status_code == 403
    assert (await w.get("/v1/campaigns/nope", w.bureau)).status_code == 404
    unstarted = (await w.get(f"/v1/campaigns/{SHIPPED}", w.bureau)).json()
    assert unstarted["started"] is False and "schools" not in unstarted

    # duties: a school its own campaign duties, the bureau all, the police none
    duties = (await w.get("/v1/duties", w.head, state="all")).json()["items"]
    assert {d["case_id"] for d in duties} == {str(mine)}
    assert {d["case_id"] for d in (await w.get("/v1/duties", w.bureau, state="all")).json()["items"]} == \
        {str(mine), str(theirs), str(level)}
    assert (await w.get("/v1/duties", w.police, state="all")).json()["items"] == []

    csv_answer = await w.get(f"/v1/campaigns/{DRILL}/progress.csv", w.bureau)
    assert csv_answer.status_code == 200 and csv_answer.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(csv_answer.content.decode("utf-8-sig"))))
    assert table[0] == ["学校代码", "学校", "阶段", "事项", "状态", "截止", "完成时间", "逾期"]
    row = next(r for r in table if r[0] == "second-school" and r[3] == "全面排查本校学生并报送排查报告")
    assert (row[1], row[2], row[4], row[7]) == ("乐昌市第二中学", "动员部署和排查", "未完成", "是")
    done = next(r for r in table if r[0] == "demo-school" and r[3] == "全面排查本校学生并报送排查报告")
    assert (done[4], done[7]) == ("已完成", "否") and done[6]
    assert table[-1][0] == "全部" and table[-1][3] == "汇总全市学校总结并上报"
    assert len(table) == 1 + 2 * 4 + 1
    school_csv = (await w.get(f"/v1/campaigns/{DRILL}/progress.csv", w.head)).content.decode("utf-8-sig")
    assert "second-school" not in school_csv and "demo-school" in school_csv
    assert (await w.get(f"/v1/campaigns/{SHIPPED}/progress.csv", w.bureau)).status_code == 404

    # the ledger workbook's sheet 专项整治, per school and phase; the ledger's counts leave campaign cases out
    await publish(w.settings.nats_url, DeadlineMissed(
        event_id=uuid.uuid4(), incident_id=theirs, obligation_id=uuid.uuid5(theirs, "student_screening"),
        action_id="student_screening", role=RecipientRole.school, state="pending", due_at=due, step=1,
        escalated_to="bureau"))
    xlsx = await w.get("/v1/ledger.xlsx", w.bureau)
    assert xlsx.status_code == 200
    book = await asyncio.to_thread(openpyxl.load_workbook, io.BytesIO(xlsx.content))
    assert book.sheetnames[:2] == ["台账", "说明"] and "专项整治" in book.sheetnames
    sheet = [list(r) for r in book["专项整治"].iter_rows(values_only=True)]
    assert sheet[0] == ["专项整治", "学校代码", "学校", "阶段", "阶段截止", "已完成", "事项数", "逾期事项"]
    second = [r for r in sheet if r[1] == "second-school"]
    assert (second[0][2], second[0][3], second[0][5], second[0][6], second[0][7]) == (
        "乐昌市第二中学", "动员部署和排查", 0, 2, 2)
    assert len(sheet) == 1 + 2 * 3
    school_book = await asyncio.to_thread(openpyxl.load_workbook, io.BytesIO(
        (await w.get("/v1/ledger.xlsx", w.head)).content))
    assert {r[1] for r in list(school_book["专项整治"].iter_rows(values_only=True))[1:]} == {"demo-school"}

    async def missed_recorded() -> bool:
        r = await w.get(f"/v1/cases/{theirs}", w.bureau)
        return "DeadlineMissed" in {e["event_type"] for e in r.json()["timeline"]}

    await eventually(missed_recorded, timeout_s=30)
    ledger = (await w.get("/v1/ledger", w.bureau)).json()
    totals = ledger["jurisdictions"][0]["totals"] if ledger["jurisdictions"] else {}
    assert all(v == 0 for k, v in totals.items() if k != "month"), totals
    assert all(all(v == 0 for k, v in s["totals"].items()) for s in ledger["schools"])


async def test_a_record_is_refused_until_the_campaign_is_started_for_its_school(world: World) -> None:
    w = world
    campaign = campaign_of(load_campaigns(w.settings.campaigns_dir), DRILL)
    head = Official(account_id="head-zx", display_name="校长", role=OfficialRole.school, jurisdiction="lechang",
                    school_id="demo-school", title=StaffTitle.head)

    def record(school: str) -> Any:
        return record_event(campaign, "p1", school, RecordKind.student_screening, head,
                            RecordFacts(students_screened=3, nothing_found=True), {"note": "无"}, uuid.uuid4(),
                            datetime.now(UTC))

    pool = await create_pool(w.settings.database_url, repository.SCHEMA, max_size=1)
    try:
        with pytest.raises(ApiError) as refused:
            await file_record(pool, record("demo-school"))
        assert (refused.value.status, refused.value.code) == (409, "campaign_not_started")
        assert "尚未" in refused.value.message_zh
        started = started_event(campaign, load_directory(w.settings.directory_file), "lechang", "bureau-zx",
                                datetime.now(UTC))
        await publish_started(w.settings.database_url, w.settings.nats_url, started)  # as other parts' tests do
        await file_record(pool, record("demo-school"))  # accepted now
        with pytest.raises(ApiError) as elsewhere:
            await file_record(pool, record("far-school"))  # another jurisdiction: not started there
        assert elsewhere.value.status == 409
    finally:
        await pool.close()


async def test_a_campaign_escalating_to_someone_the_directory_lacks_stops_the_archive(settings: Settings,
                                                                                       tmp_path: Path) -> None:
    folder = campaign_files(tmp_path, DRILL)
    text = (folder / f"{DRILL}.toml").read_text("utf-8").replace('escalate_to = ["bureau_leader"]',
                                                                 'escalate_to = ["mayor"]', 1)
    (folder / f"{DRILL}.toml").write_text(text, encoding="utf-8")
    with pytest.raises(CampaignError, match=r't-drill duty "school_screening": mayor'):
        checked_campaigns(folder, ROOT / "deploy" / "directory.toml")
    with pytest.raises(CampaignError, match="mayor"):
        async with archive(settings.model_copy(update={"campaigns_dir": folder})):
            pass
    assert set(checked_campaigns(ROOT / "deploy" / "campaigns", ROOT / "deploy" / "directory.toml")) == {SHIPPED}

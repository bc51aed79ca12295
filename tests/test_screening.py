"""Screening in a campaign phase (issue 16 item 2) on real JetStream and PostgreSQL, with intake, escalation and
the archive running: a school's student return (findings named by hazard id, or nothing found explicitly), the
bureau's screening of a school on the seven aspects (its rectifications become hazards escalation gives a
deadline and the school reports progress on), coverage (JSON, CSV, the ledger workbook) telling "screened,
nothing found" from "not screened", the 422/403/404 answers, and idempotency."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pytest

from antibully.cli import add_school
from services.archive.app import running as archive_running
from services.archive.campaign_files import load_campaigns
from services.archive.campaign_filing import started_event
from services.escalation.app import running as escalation_running
from services.intake.app import running as intake_running
from shared.config import ROOT, Settings
from shared.contracts.base import utcnow
from shared.contracts.campaign import Aspect, campaign_case_id
from shared.directory import load_directory
from tests.helpers import eventually, official_headers, owner_connection, publish_started

CAMPAIGN = "2027-zhuanxiang"
BASE = f"/v1/campaigns/{CAMPAIGN}"
SCHOOLS = ("demo-school", "second-school", "third-school")


def directory_file(tmp_path: Path) -> Path:
    """The shipped directory, two more schools of lechang and one of another jurisdiction."""
    path = tmp_path / "directory.toml"
    path.write_text((ROOT / "deploy" / "directory.toml").read_text(encoding="utf-8") + """
[schools.second-school]
name = "乐昌市第二中学"
email = "principal@second-school.example.cn"

[schools.third-school]
name = "乐昌市第三中学"
email = "principal@third-school.example.cn"

[schools.far-school]
name = "仁化县第一中学"
email = "principal@far-school.example.cn"
jurisdiction = "renhua"
""", encoding="utf-8")
    return path


@dataclass
class World:
    archive: httpx.AsyncClient
    intake: httpx.AsyncClient
    settings: Settings
    keys: dict[str, str]              # school → intake key
    headers: dict[str, dict[str, str]]  # account → archive headers


@pytest.fixture
async def world(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    settings = settings.model_copy(update={"directory_file": directory_file(tmp_path), "watchdog_interval_s": 3600.0})
    async with intake_running(settings), escalation_running(settings), archive_running(settings), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10) as archive, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.intake_port}", timeout=10) as intake:
        keys = {s: await add_school(settings.database_url, s, s) for s in SCHOOLS}
        db = settings.database_url
        headers = {
            "bureau": await official_headers(archive, db, "bureau-wang", purpose=quote("专项排查覆盖核查")),
            "demo": await official_headers(archive, db, "head-demo", role="school", school="demo-school"),
            "second": await official_headers(archive, db, "head-second", role="school", school="second-school"),
            "police": await official_headers(archive, db, "police-zhao", role="police"),
            "far": await official_headers(archive, db, "bureau-far", jurisdiction="renhua"),
        }
        campaign = load_campaigns(settings.campaigns_dir)[CAMPAIGN]
        await publish_started(settings.database_url, settings.nats_url, started_event(
            campaign, load_directory(settings.directory_file), "lechang", "bureau-wang", utcnow()))
        yield World(archive, intake, settings, keys, headers)


def _hazard(school: str, observed: str = "楼梯间监控盲区") -> dict[str, Any]:
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    return {"school_id": school, "found_at": (now - timedelta(hours=1)).isoformat(), "kind": "hazard_point",
            "students": [], "observed": observed, "risk_level": "medium", "intervention": "加强巡查",
            "rectification": {"plan": "加装监控", "due_date": (now + timedelta(days=20)).date().isoformat(),
                              "responsible": "后勤处"}}


async def _filed_hazard(w: World, school: str, idem: str) -> str:
    r = await w.intake.post("/v1/hazards", json=_hazard(school), headers={
        "Authorization": f"Bearer {w.keys[school]}", "Idempotency-Key": idem})
    assert r.status_code == 202, r.text
    hazard_id = str(r.json()["hazard_id"])
    account = "demo" if school == "demo-school" else "second"

    async def archived() -> bool:
        got = await w.archive.get(f"/v1/cases/{hazard_id}", headers=w.headers[account])
        return got.status_code == 200

    await eventually(archived, timeout_s=20)
    return hazard_id


def _today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def _screening(problem_on: tuple[Aspect, ...] = (Aspect.facilities,)) -> dict[str, Any]:
    due = (_today() + timedelta(days=30)).isoformat()
    aspects = []
    for a in Aspect:
        item: dict[str, Any] = {"aspect": a.value, "finding": f"{a.value} 已查阅制度与台账"}
        if a in problem_on:
            item |= {"problem": "教学楼楼梯间存在监控盲区", "risk_level": "high",
                     "rectification": {"plan": "加装监控并安排课间巡查", "due_date": due, "responsible": "后勤处"}}
        aspects.append(item)
    return {"aspects": aspects, "note": "现场查看"}


async def _coverage(w: World, account: str = "bureau", **params: str) -> dict[str, Any]:
    r = await w.archive.get(f"{BASE}/coverage", params={"phase": "p1", **params}, headers=w.headers[account])
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _row(coverage: dict[str, Any], school: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in coverage["schools"] if s["school_id"] == school)
    return found


async def test_returns_and_coverage_tell_nothing_found_from_not_screened(world: World, tmp_path: Path) -> None:
    w = world
    hazard = await _filed_hazard(w, "demo-school", "screening-hz-0001")
    ret = f"{BASE}/phases/p1/student-screening"
    with_findings = {"students_screened": 1250, "parent_talks": 310, "hazard_ids": [hazard], "note": "逐班排查"}
    first = await w.archive.post(ret, json=with_findings, headers=w.headers["demo"])
    assert first.status_code == 202, first.text
    again = await w.archive.post(ret, json=with_findings, headers=w.headers["demo"])
    assert again.json()["record_id"] == first.json()["record_id"]  # the same request: the same record
    nothing = await w.archive.post(ret, json={"students_screened": 860, "parent_talks": 120, "nothing_found": True},
                                   headers=w.headers["second"])
    assert nothing.status_code == 202, nothing.text

    async def both_projected() -> dict[str, Any] | None:
        c = await _coverage(w)
        states = {s["school_id"]: s["student_return"]["state"] for s in c["schools"]}
        return c if states == {"demo-school": "findings", "second-school": "nothing_found",
                               "third-school": "not_filed"} else None

    c = await eventually(both_projected, timeout_s=20)
    assert all(not s["covered"] for s in c["uncovered"])  # nobody screened by the bureau yet: all uncovered
    demo, second, third = (_row(c, s) for s in SCHOOLS)
    assert demo["student_return"] | {"record_id": None, "filed_at": None} == {
        "state": "findings", "state_zh": "已报送·有发现", "record_id": None, "filed_at": None,
        "students_screened": 1250, "parent_talks": 310, "hazards_filed": 1, "hazard_ids": [hazard]}
    assert second["student_return"]["state_zh"] == "已报送·无发现" and second["student_return"]["hazards_filed"] == 0
    assert third["student_return"]["state_zh"] == "未报送" and third["missing"] == ["school_screening",
                                                                                 "student_screening"]
    assert c["totals"] == {"schools": 3, "covered": 0, "uncovered": 3, "screened_by_bureau": 0,
                                "returns_nothing_found": 1, "returns_with_findings": 1, "returns_missing": 1}
    assert "far-school" not in {s["school_id"] for s in c["schools"]}

    # a school reads itself only
    mine = await _coverage(w, "second")
    assert [s["school_id"] for s in mine["schools"]] == ["second-school"]

    # the CSV: BOM, Chinese headers, the three states told apart, the uncovered first
    r = await w.archive.get(f"{BASE}/coverage.csv", params={"phase": "p1"}, headers=w.headers["bureau"])
    assert r.status_code == 200 and r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["管辖区域", "学校代码", "学校名称", "覆盖情况"]
    by_school = {row[1]: row for row in rows[1:]}
    column = rows[0].index("学生排查报告")
    assert {s: by_school[s][column] for s in SCHOOLS} == {
        "demo-school": "已报送·有发现", "second-school": "已报送·无发现", "third-school": "未报送"}

    # the ledger workbook: sheet 排查覆盖
    r = await w.archive.get("/v1/ledger.xlsx", headers=w.headers["bureau"])
    assert r.status_code == 200, r.text
    (tmp_path / "ledger.xlsx").write_bytes(r.content)
    book = await asyncio.to_thread(openpyxl.load_workbook, tmp_path / "ledger.xlsx")
    assert "台账" in book.sheetnames and "排查覆盖" in book.sheetnames
    sheet = [list(row) for row in book["排查覆盖"].iter_rows(values_only=True)]
    head = sheet[0]
    states = {row[head.index("学校代码")]: row[head.index("学生排查报告")] for row in sheet[1:]
              if row and row[1] == "动员部署和排查" and row[head.index("学校代码")] in SCHOOLS}
    assert states == {"demo-school": "已报送·有发现", "second-school": "已报送·无发现", "third-school": "未报送"}

    # every coverage read is in the access log with its purpose
    log = await w.archive.get("/v1/access-log", params={"account": "bureau-wang"}, headers=w.headers["bureau"])
    actions = [(e["action"], e["filter"].get("format")) for e in log.json()["items"]]
    assert ("coverage", "json") in actions and ("export", "coverage.csv") in actions

    # a later return supersedes the earlier one in the views; both stay in the chain
    later = await w.archive.post(ret, json={"students_screened": 1260, "parent_talks": 320, "nothing_found": True},
                                 headers=w.headers["demo"])
    assert later.status_code == 202 and later.json()["record_id"] != first.json()["record_id"]

    async def superseded() -> bool:
        return _row(await _coverage(w), "demo-school")["student_return"]["state"] == "nothing_found"

    await eventually(superseded, timeout_s=20)
    # sending the first return again now is a new record (it supersedes the later one), not ignored
    back = await w.archive.post(ret, json=with_findings, headers=w.headers["demo"])
    assert back.json()["record_id"] not in (first.json()["record_id"], later.json()["record_id"])

    async def back_again() -> bool:
        return _row(await _coverage(w), "demo-school")["student_return"]["state"] == "findings"

    await eventually(back_again, timeout_s=20)

    # three records in the chain: the first one (sent twice), the later one, the first again
    conn = await owner_connection(w.settings)
    try:
        n = await conn.fetchval("SELECT count(*) FROM entries WHERE incident_id = $1"
                                " AND event_type = 'CampaignRecordFiled'", campaign_case_id(CAMPAIGN, "demo-school"))
        assert n == 3
    finally:
        await conn.close()


async def test_refusals_name_the_field_and_the_authority(world: World) -> None:
    w = world
    demo_hazard = await _filed_hazard(w, "demo-school", "screening-hz-0002")
    ret = f"{BASE}/phases/p1/student-screening"
    bad = await w.archive.post(ret, json={"students_screened": 10, "parent_talks": 1}, headers=w.headers["demo"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "nothing_found"
    assert "nothing" in bad.json()["errors"][0]["reason"] and "未发现问题" in bad.json()["errors"][0]["reason_zh"]
    both = await w.archive.post(ret, json={"students_screened": 10, "parent_talks": 1, "nothing_found": True,
                                           "hazard_ids": [demo_hazard]}, headers=w.headers["demo"])
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "nothing_found"
    # another school's hazard, and an id the archive does not have: each named
    others = await w.archive.post(ret, json={"students_screened": 10, "parent_talks": 1, "hazard_ids": [
        str(uuid.uuid4()), demo_hazard]}, headers=w.headers["second"])
    assert others.status_code == 422
    assert [e["field"] for e in others.json()["errors"]] == ["hazard_ids.0", "hazard_ids.1"]
    twice = await w.archive.post(ret, json={"students_screened": 10, "parent_talks": 1,
                                            "hazard_ids": [demo_hazard, demo_hazard]}, headers=w.headers["demo"])
    assert twice.status_code == 422 and twice.json()["errors"][0]["field"] == "hazard_ids.1"

    # who files what
    assert (await w.archive.post(ret, json={"students_screened": 1, "parent_talks": 1, "nothing_found": True},
                                 headers=w.headers["bureau"])).status_code == 403
    screening = f"{BASE}/phases/p1/schools/demo-school/screening"
    assert (await w.archive.post(screening, json=_screening(), headers=w.headers["demo"])).status_code == 403
    assert (await w.archive.post(f"{BASE}/phases/p1/schools/far-school/screening", json=_screening(),
                                 headers=w.headers["bureau"])).status_code == 404
    assert (await w.archive.post(f"{BASE}/phases/p1/schools/demo-school/screening", json=_screening(),
                                 headers=w.headers["far"])).status_code == 404
    assert (await w.archive.post(f"{BASE}/phases/p9/schools/demo-school/screening", json=_screening(),
                                 headers=w.headers["bureau"])).status_code == 404
    unknown = await w.archive.post("/v1/campaigns/no-such/phases/p1/student-screening", json={
        "students_screened": 1, "parent_talks": 1, "nothing_found": True}, headers=w.headers["demo"])
    assert unknown.status_code == 404

    # the seven aspects, each once; a problem needs a rectification, which needs a due date not past
    body = _screening()
    body["aspects"][6]["aspect"] = "mechanism"
    dup = await w.archive.post(screening, json=body, headers=w.headers["bureau"])
    assert dup.status_code == 422 and dup.json()["errors"][0]["field"] == "aspects.6.aspect"
    body = _screening()
    del body["aspects"][6]["rectification"]
    no_fix = await w.archive.post(screening, json=body, headers=w.headers["bureau"])
    assert no_fix.status_code == 422 and no_fix.json()["errors"][0]["field"] == "aspects.6.rectification"
    body = _screening()
    body["aspects"][6]["rectification"]["due_date"] = "2020-01-01"
    past = await w.archive.post(screening, json=body, headers=w.headers["bureau"])
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "aspects.6.rectification.due_date"
    body = _screening()
    body["aspects"] = body["aspects"][:6]
    short = await w.archive.post(screening, json=body, headers=w.headers["bureau"])
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "aspects"

    # coverage: the police and the stability office are refused; an unknown phase is 404; a purpose is required
    assert (await w.archive.get(f"{BASE}/coverage", headers=w.headers["police"])).status_code == 403
    assert (await w.archive.get(f"{BASE}/coverage", params={"phase": "p9"},
                                headers=w.headers["bureau"])).status_code == 404
    assert (await w.archive.get("/v1/campaigns/no-such/coverage", headers=w.headers["bureau"])).status_code == 404
    unstated = {k: v for k, v in w.headers["bureau"].items() if k != "X-Access-Purpose"}
    assert (await w.archive.get(f"{BASE}/coverage", headers=unstated)).status_code == 422


async def test_the_bureaus_screening_files_hazards_escalation_and_the_school_follow(world: World) -> None:
    w = world
    screening = f"{BASE}/phases/p1/schools/demo-school/screening"
    body = _screening((Aspect.facilities, Aspect.publicity))
    first = await w.archive.post(screening, json=body, headers=w.headers["bureau"])
    assert first.status_code == 202, first.text
    hazards = first.json()["hazard_ids"]
    assert len(hazards) == 2
    again = await w.archive.post(screening, json=body, headers=w.headers["bureau"])
    assert again.json()["record_id"] == first.json()["record_id"] and again.json()["hazard_ids"] == hazards

    # each rectification is a hazard case of the school, with escalation's deadline at its due date
    async def duties() -> list[dict[str, Any]] | None:
        r = await w.archive.get("/v1/duties", params={"school": "demo-school", "action": "rectify_hazard"},
                                headers=w.headers["bureau"])
        items = [d for d in r.json()["items"] if d["case_id"] in hazards]
        return items if len(items) == 2 else None

    found = await eventually(duties, timeout_s=30)
    due = datetime.fromisoformat(found[0]["due_at"]).astimezone(ZoneInfo("Asia/Shanghai"))
    assert due.date() == _today() + timedelta(days=31) and due.hour == 0
    case = await w.archive.get(f"/v1/cases/{hazards[0]}", headers=w.headers["demo"])
    assert case.status_code == 200 and case.json()["kind"] == "hazard"

    async def covered() -> dict[str, Any] | None:
        row = _row(await _coverage(w), "demo-school")
        return row if row["bureau_screening"] else None

    row = await eventually(covered, timeout_s=20)
    assert row["bureau_screening"]["aspects_with_problems"] == 2
    assert sorted(row["bureau_screening"]["problem_aspects_zh"]) == sorted(["宣传教育", "硬件条件"])
    assert sorted(row["bureau_screening"]["hazard_ids"]) == sorted(hazards)
    assert row["missing"] == ["student_screening"] and not row["covered"]

    # the school reports progress on such a hazard in intake, and a completed one settles escalation's duty
    async def progress() -> httpx.Response | None:
        r = await w.intake.post(f"/v1/hazards/{hazards[0]}/progress", json={
            "at": datetime.now(ZoneInfo("Asia/Shanghai")).isoformat(), "step": "已加装监控", "completed": True},
            headers={"Authorization": f"Bearer {w.keys['demo-school']}", "Idempotency-Key": "screening-prog-1"})
        return r if r.status_code == 202 else None

    assert (await eventually(progress, timeout_s=20)).json()["seq"] == 1
    other = await w.intake.post(f"/v1/hazards/{hazards[0]}/progress", json={
        "at": datetime.now(ZoneInfo("Asia/Shanghai")).isoformat(), "step": "x", "completed": False},
        headers={"Authorization": f"Bearer {w.keys['second-school']}", "Idempotency-Key": "screening-prog-2"})
    assert other.status_code == 403

    async def settled() -> bool:
        r = await w.archive.get("/v1/duties", params={"school": "demo-school", "action": "rectify_hazard",
                                                      "state": "all"}, headers=w.headers["bureau"])
        return any(d["case_id"] == hazards[0] and d["state"] == "done" for d in r.json()["items"])

    await eventually(settled, timeout_s=30)

    # with the school's return too, the school is covered
    r = await w.archive.post(f"{BASE}/phases/p1/student-screening", json={
        "students_screened": 900, "parent_talks": 100, "nothing_found": True}, headers=w.headers["demo"])
    assert r.status_code == 202

    async def now_covered() -> bool:
        c = await _coverage(w)
        return _row(c, "demo-school")["covered"] and c["totals"]["covered"] == 1 \
            and c["schools"][-1]["school_id"] == "demo-school"

    await eventually(now_covered, timeout_s=20)

"""Public disclosure through the archive's API on real JetStream and PostgreSQL: who may draft what (403, 404,
409), the draft written from the record, an edit refused by the rule with every finding, two different
officials' approvals publishing it, the public list, a withdrawal, and every step in the case's chain."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.archive.app import running as archive_running
from services.archive.disclosure_draft import ACCOUNTABILITY_PLACEHOLDER
from services.escalation.domain import decide
from services.escalation.notices import plan
from services.intake.examples import SEVERE_EXAMPLE
from services.intake.reports import reported_event
from shared.config import Settings
from shared.contracts import IncidentReport
from shared.contracts.base import derive_id
from shared.contracts.officials import ChangeResolved
from shared.directory import load_directory
from shared.service import Infra
from tests.helpers import default_policy, eventually, official_headers, publish
from tests.test_archive_reads import directory_file

MINOR = {"injury": "none", "violence": False, "weapon": False, "group": False,
         "repeated_after_education": False, "suspected_crime": False, "public_attention": "none"}
ACCOUNTS = {"bureau": ("bureau", "lechang", None), "bureau-2": ("bureau", "lechang", None),
            "bureau-far": ("bureau", "renhua", None), "police": ("police", "lechang", None),
            "school-a": ("school", "lechang", "demo-school")}
FILLED = "对学校分管副校长进行约谈，责令学校作出书面检查。"


@dataclass
class World:
    infra: Infra
    client: httpx.AsyncClient
    cases: dict[str, uuid.UUID]
    headers: dict[str, dict[str, str]]

    async def post(self, account: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.headers[account])


async def _publish(settings: Settings) -> dict[str, uuid.UUID]:
    directory = load_directory(settings.directory_file)
    cases = {}
    for name, indicators, closed in (("closed", {}, True), ("open", {}, False), ("minor", MINOR, True)):
        body = copy.deepcopy(SEVERE_EXAMPLE)
        body["indicators"].update(indicators)
        reported = reported_event(IncidentReport.model_validate(body), f"disclosure-api-{name}")
        decided, _ = plan(reported, decide(reported.facts, default_policy(), reported.occurred_at), directory)
        await publish(settings.nats_url, reported)
        await publish(settings.nats_url, decided)
        if closed:
            await publish(settings.nats_url, ChangeResolved(
                event_id=derive_id("closed", reported.incident_id), incident_id=reported.incident_id,
                follow_up_id=uuid.uuid4(), change="closure", outcome="applied", approvers=["a", "b"],
                level_before=decided.level, level_after=decided.level))
        cases[name] = reported.incident_id
    return cases


@pytest.fixture
async def world(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    settings = settings.model_copy(update={"directory_file": directory_file(tmp_path)})
    async with archive_running(settings) as infra, httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10) as client:
        headers = {a: await official_headers(client, settings.database_url, a, role=r, jurisdiction=j, school=s)
                   for a, (r, j, s) in ACCOUNTS.items()}
        cases = await _publish(settings)

        async def projected() -> bool:
            n = await infra.pool.fetchval("SELECT count(*) FROM cases WHERE status = 'closed' AND level IS NOT NULL")
            return n == 2
        await eventually(projected)
        yield World(infra, client, cases, headers)


async def test_draft_edit_approve_publish_withdraw(world: World) -> None:
    w = world
    closed = w.cases["closed"]
    # who and which case: 403 for others than the bureau, 404 outside the jurisdiction, 409 for the wrong case
    assert (await w.post("police", f"/v1/cases/{closed}/disclosures")).status_code == 403
    assert (await w.post("school-a", f"/v1/cases/{closed}/disclosures")).status_code == 403
    assert (await w.post("bureau-far", f"/v1/cases/{closed}/disclosures")).status_code == 404
    assert (await w.post("bureau", f"/v1/cases/{uuid.uuid4()}/disclosures")).status_code == 404
    not_closed = await w.post("bureau", f"/v1/cases/{w.cases['open']}/disclosures")
    assert not_closed.status_code == 409 and not_closed.json()["error"] == "case_not_closed"
    minor = await w.post("bureau", f"/v1/cases/{w.cases['minor']}/disclosures")
    assert minor.status_code == 409 and minor.json()["error"] == "level_not_disclosable", minor.text

    # the draft, from the record: the month, the jurisdiction, the level; accountability left to fill in
    drafted = await w.post("bureau", f"/v1/cases/{closed}/disclosures")
    assert drafted.status_code == 201, drafted.text
    d = drafted.json()
    did, text = d["disclosure_id"], d["text"]
    assert d["state"] == "drafted" and d["version"] == 1 and d["month"] == "2026-11" and d["level"] == "severe"
    assert text.startswith("2026年11月，乐昌市某中学") and "情节严重" in text
    assert d["title"] == "关于乐昌市某中学一起情节严重学生欺凌事件处置情况的通报"
    assert [f["category"] for f in d["findings"]] == ["placeholder"]
    again = await w.post("bureau-2", f"/v1/cases/{closed}/disclosures")
    assert again.status_code == 409 and again.json()["error"] == "disclosure_exists"
    for person in ("李小明", "小明", "王强", "李建国", "13800000001", "li.parent@example.cn", "S-1042", "陈老师",
                   "卫生间", "示范中学", "28日", "初二"):
        assert person not in text, person

    # an unfilled draft cannot be approved; an edit naming the child, the class, the day, the place: 422
    refused = await w.post("bureau-2", f"/v1/disclosures/{did}/approve", {"version": 1})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"].startswith("text[")
    bad = text.replace(ACCOUNTABILITY_PLACEHOLDER, FILLED) + "李小明（初二(3)班）11月28日在教学楼三楼东侧卫生间被打。"
    put = await w.client.put(f"/v1/disclosures/{did}", json={"version": 1, "text": bad}, headers=w.headers["bureau"])
    assert put.status_code == 422, put.text
    errors = put.json()["errors"]
    zh = " ".join(e["reason_zh"] for e in errors)
    for category in ("个人信息", "班级", "具体日期或时间", "具体地点"):
        assert category in zh, category
    assert all(e["field"].startswith("text[") and e["reason"] for e in errors)
    assert "李小明" not in put.text  # the answer says where, never echoes the text

    good = text.replace(ACCOUNTABILITY_PLACEHOLDER, FILLED)
    put = await w.client.put(f"/v1/disclosures/{did}", json={"version": 1, "text": good}, headers=w.headers["bureau"])
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 2 and put.json()["findings"] == []
    stale = await w.post("bureau", f"/v1/disclosures/{did}/approve", {"version": 1})
    assert stale.status_code == 409 and stale.json()["error"] == "stale_version"

    # two different officials: the drafter may be one; the same one twice is refused; an edit resets
    first = await w.post("bureau", f"/v1/disclosures/{did}/approve", {"version": 2})
    assert first.status_code == 200 and first.json()["state"] == "approved", first.text
    twice = await w.post("bureau", f"/v1/disclosures/{did}/approve", {"version": 2})
    assert twice.status_code == 409 and twice.json()["error"] == "already_approved"
    edited = good.replace("书面检查", "书面整改报告")
    put = await w.client.put(f"/v1/disclosures/{did}", json={"version": 2, "text": edited},
                             headers=w.headers["bureau-2"])
    assert put.json()["approvals"] == [] and put.json()["state"] == "drafted" and put.json()["version"] == 3
    assert (await w.post("bureau", f"/v1/disclosures/{did}/approve", {"version": 3})).status_code == 200
    assert (await w.client.get("/v1/public/disclosures")).json() == []  # one approval publishes nothing
    published = await w.post("bureau-2", f"/v1/disclosures/{did}/approve", {"version": 3})
    assert published.status_code == 200 and published.json()["state"] == "published", published.text
    assert published.json()["published_at"]
    assert (await w.client.put(f"/v1/disclosures/{did}", json={"version": 3, "text": edited + "。"},
                               headers=w.headers["bureau"])).status_code == 409

    # public, without an account: only what the public may read
    public = (await w.client.get("/v1/public/disclosures")).json()
    assert [p["disclosure_id"] for p in public] == [did]
    assert set(public[0]) == {"disclosure_id", "month", "level", "level_zh", "title", "text", "published_at"}
    assert public[0]["text"] == edited
    assert (await w.client.get(f"/v1/public/disclosures/{did}")).status_code == 200
    listed = await w.client.get("/v1/disclosures", headers=w.headers["bureau"])
    assert [x["state"] for x in listed.json()] == ["published"]
    assert (await w.client.get("/v1/disclosures", headers=w.headers["bureau-far"])).json() == []
    assert (await w.client.get(f"/v1/disclosures/{did}", headers=w.headers["bureau-far"])).status_code == 404

    # withdrawn: off the public list; the record keeps every step
    assert (await w.post("bureau", f"/v1/disclosures/{did}/withdraw", {"reason": "发现表述不当"})).status_code == 200
    assert (await w.client.get("/v1/public/disclosures")).json() == []
    assert (await w.client.get(f"/v1/public/disclosures/{did}")).status_code == 404
    assert (await w.post("bureau", f"/v1/disclosures/{did}/withdraw", {"reason": "x"})).status_code == 409

    async def chained() -> list[dict[str, Any]] | None:
        r = await w.client.get(f"/v1/cases/{closed}", headers=w.headers["bureau"])
        steps = [e["summary"] for e in r.json()["timeline"] if e["event_type"] == "DisclosureChanged"]
        return steps if len(steps) == 7 else None
    steps = await eventually(chained)
    assert [s["state"] for s in steps] == ["drafted", "drafted", "approved", "drafted", "approved", "published",
                                           "withdrawn"]
    assert steps[5]["public_text"] == edited and steps[5]["published_at"] and steps[5]["approvals"] == [
        "bureau", "bureau-2"]
    assert all(s["public_text"] is None for i, s in enumerate(steps) if i != 5)  # drafts' text stays sealed
    # after a withdrawal, the case may be drafted again
    assert (await w.post("bureau", f"/v1/cases/{closed}/disclosures")).status_code == 201

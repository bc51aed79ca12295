"""Phase summaries and the city summary (issue 16) on real JetStream and PostgreSQL: a school submits, the bureau
sees it with the school's figures equal to the ledger's, a school reads only its own, who has not submitted,
every read logged with its purpose, the DOCX read back with python-docx, the text never in the clear at rest."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import asyncpg
import docx
import httpx
import pytest

from services.archive.app import running
from services.archive.campaign_files import campaign_of, load_campaigns
from services.archive.campaign_filing import started_event
from services.archive.listing import SHANGHAI
from shared.config import Settings
from shared.contracts.base import utcnow
from shared.directory import load_directory
from tests.campaign_rig import SUMMARY_TEXT as TEXT
from tests.helpers import (
    MovedClock,
    directory_with_more_schools,
    eventually,
    official_headers,
    publish_started,
)
from tests.test_archive_ledger import Publisher

CAMPAIGN = "2027-zhuanxiang"
PURPOSE = "汇总阶段总结"
ACCOUNTS = {
    "head-demo": ("school", "lechang", "demo-school"),
    "head-second": ("school", "lechang", "second-school"),
    "head-far": ("school", "renhua", "far-school"),
    "bureau": ("bureau", "lechang", None),
    "bureau-far": ("bureau", "renhua", None),
    "police": ("police", "lechang", None),
    "stability": ("stability_office", "lechang", None),
}


@dataclass
class World:
    client: httpx.AsyncClient
    settings: Settings
    pool: asyncpg.Pool
    headers: dict[str, dict[str, str]]


@pytest.fixture
async def world(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    settings = settings.model_copy(update={"directory_file": directory_with_more_schools(tmp_path)})
    async with running(settings, clock=MovedClock()) as infra, httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=20
    ) as client:
        campaign = campaign_of(load_campaigns(settings.campaigns_dir), CAMPAIGN)
        directory = load_directory(settings.directory_file)
        for jurisdiction in ("lechang", "renhua"):
            await publish_started(settings.database_url, settings.nats_url,
                                  started_event(campaign, directory, jurisdiction, "bureau", utcnow()))
        p = Publisher(settings)
        now = datetime.now(SHANGHAI)
        await p.incident("this_month", now)
        await p.incident("second_school", now, school="second-school")

        async def recorded() -> bool:
            return bool(await infra.pool.fetchval("SELECT count(*) FROM entries") == p.count + 2)

        await eventually(recorded)
        headers = {account: await official_headers(client, settings.database_url, account, role=role,
                                                   jurisdiction=jurisdiction, school=school, purpose=quote(PURPOSE))
                   for account, (role, jurisdiction, school) in ACCOUNTS.items()}
        yield World(client, settings, infra.pool, headers)


def path(tail: str) -> str:
    return f"/v1/campaigns/{CAMPAIGN}{tail}"


async def _submitted(w: World, school: str, phase: str = "p3", count: int = 1) -> None:
    async def there() -> bool:
        n = await w.pool.fetchval("SELECT count(*) FROM campaign_summaries WHERE school_id = $1 AND phase_id = $2",
                                  school, phase)
        return bool(n == count)

    await eventually(there)


async def test_a_school_submits_and_the_bureau_reads_it_with_the_ledgers_figures(world: World) -> None:
    c, h = world.client, world.headers
    listed = await c.get(path("/summaries"), params={"phase": "p3"}, headers=h["bureau"])
    assert listed.status_code == 200, listed.text
    assert [(s["school_id"], s["submitted"]) for s in listed.json()["schools"]] == \
        [("demo-school", False), ("second-school", False)]

    r = await c.post(path("/phases/p3/summary"), json=TEXT, headers=h["head-demo"])
    assert r.status_code == 202, r.text
    filed = r.json()
    month = f"{datetime.now(SHANGHAI):%Y-%m}"
    assert filed["school_id"] == "demo-school" and filed["figures"]["period_from"] == month
    ledger = (await c.get("/v1/ledger", params={"from": month, "to": month, "school": "demo-school"},
                          headers=h["bureau"])).json()
    assert filed["figures"]["totals"] == ledger["schools"][0]["totals"]
    assert filed["figures"]["totals"]["incidents"] == 1
    await _submitted(world, "demo-school")

    listed = (await c.get(path("/summaries"), params={"phase": "p3"}, headers=h["bureau"])).json()
    assert (listed["submitted"], listed["not_submitted"]) == (1, 1)
    demo = listed["schools"][0]
    assert demo["submitted"] and demo["submitted_by"] == "head-demo" and demo["submitted_by_name"] == "head-demo"
    assert "achievements" not in demo
    one = await c.get(path("/summaries/demo-school"), params={"phase": "p3"}, headers=h["bureau"])
    assert one.status_code == 200, one.text
    body = one.json()
    assert {k: body[k] for k in TEXT} == TEXT and body["figures"] == filed["figures"]
    assert body["school_name"] == "乐昌市示范中学" and body["phase_zh"] == "督导检查"
    # the school reads its own; the text is sealed at rest (not in the projection, not in any entry's clear part)
    own = await c.get(path("/summaries/demo-school"), params={"phase": "p3"}, headers=h["head-demo"])
    assert own.status_code == 200 and own.json()["problems"] == TEXT["problems"]
    dump = await world.pool.fetchval("SELECT string_agg(t::text, ' ') FROM (SELECT * FROM campaign_summaries) t")
    summaries = await world.pool.fetchval("SELECT string_agg(summary::text, ' ') FROM entries")
    assert "班主任培训不足" not in (dump or "") and "班主任培训不足" not in summaries
    # each read was logged with its purpose
    log = await world.pool.fetch("SELECT account_id, action, purpose, outcome FROM access_log"
                                 " WHERE action IN ('summaries', 'summary') ORDER BY seq")
    assert [(r["account_id"], r["action"]) for r in log] == [("bureau", "summaries"), ("bureau", "summaries"),
                                                            ("bureau", "summary"), ("head-demo", "summary")]
    assert {r["purpose"] for r in log} == {PURPOSE}

    # a later summary supersedes the earlier in the views; both stay in the chain
    again = await c.post(path("/phases/p3/summary"), json={**TEXT, "next_steps": "再次修订的下一步计划。"},
                         headers=h["head-demo"])
    assert again.status_code == 202
    await _submitted(world, "demo-school", count=2)
    newest = (await c.get(path("/summaries/demo-school"), params={"phase": "p3"}, headers=h["bureau"])).json()
    assert newest["next_steps"] == "再次修订的下一步计划。" and newest["submissions"] == 2
    kept = await world.pool.fetchval("SELECT count(*) FROM entries WHERE event_type = 'CampaignRecordFiled'")
    assert kept == 2


async def test_who_may_read_and_submit_what(world: World) -> None:
    c, h = world.client, world.headers
    assert (await c.post(path("/phases/p3/summary"), json=TEXT, headers=h["head-second"])).status_code == 202
    await _submitted(world, "second-school")
    # a school sees its own row only, and never another school's summary (404, like a case outside its scope)
    mine = (await c.get(path("/summaries"), params={"phase": "p3"}, headers=h["head-demo"])).json()
    assert [s["school_id"] for s in mine["schools"]] == ["demo-school"] and mine["not_submitted"] == 1
    other = await c.get(path("/summaries/second-school"), params={"phase": "p3"}, headers=h["head-demo"])
    assert other.status_code == 404
    assert (await c.get(path("/summaries/second-school"), params={"phase": "p3"},
                        headers=h["bureau-far"])).status_code == 404
    not_yet = await c.get(path("/summaries/demo-school"), params={"phase": "p3"}, headers=h["bureau"])
    assert not_yet.status_code == 404 and not_yet.json()["message_zh"] == "该校尚未提交本阶段总结。"
    far = (await c.get(path("/summaries"), params={"phase": "p3"}, headers=h["bureau-far"])).json()
    assert [s["school_id"] for s in far["schools"]] == ["far-school"]
    logged = await world.pool.fetchval("SELECT outcome FROM access_log WHERE account_id = 'head-demo'"
                                       " AND action = 'summary' ORDER BY seq DESC LIMIT 1")
    assert logged == "not_found"
    # police and the stability office: 403; only a school's staff submit; only the bureau exports
    for account in ("police", "stability"):
        for tail in ("/summaries", "/summaries/demo-school", "/city-summary.docx", "/figures"):
            r = await c.get(path(tail), params={"phase": "p3", "school": "demo-school"}, headers=h[account])
            assert r.status_code == 403, (account, tail)
        assert (await c.post(path("/phases/p3/summary"), json=TEXT, headers=h[account])).status_code == 403
    assert (await c.post(path("/phases/p3/summary"), json=TEXT, headers=h["bureau"])).status_code == 403
    assert (await c.get(path("/city-summary.docx"), params={"phase": "p3"},
                        headers=h["head-demo"])).status_code == 403
    # unknown campaign or phase: 404; bad bodies: 422 naming the field
    assert (await c.post("/v1/campaigns/nope/phases/p3/summary", json=TEXT, headers=h["head-demo"])).status_code == 404
    assert (await c.post(path("/phases/p9/summary"), json=TEXT, headers=h["head-demo"])).status_code == 404
    assert (await c.get(path("/summaries"), params={"phase": "p9"}, headers=h["bureau"])).status_code == 404
    for bad, field in (({**TEXT, "causes": "   "}, "causes"), ({**TEXT, "problems": "问" * 5001}, "problems"),
                       ({k: v for k, v in TEXT.items() if k != "next_steps"}, "next_steps")):
        r = await c.post(path("/phases/p3/summary"), json=bad, headers=h["head-demo"])
        assert r.status_code == 422 and field in str(r.json()["errors"]), r.text
    no_purpose = {"Authorization": h["bureau"]["Authorization"]}
    assert (await c.get(path("/summaries"), params={"phase": "p3"}, headers=no_purpose)).status_code == 422
    assert (await c.get(path("/summaries"), headers=h["bureau"])).status_code == 422  # the phase is required
    # the figures a school's form shows are its own
    shown = await c.get(path("/figures"), headers=h["head-demo"])
    assert shown.status_code == 200 and shown.json()["totals"]["incidents"] == 1
    assert (await c.get(path("/figures"), params={"school": "second-school"},
                        headers=h["head-demo"])).status_code == 404


async def test_the_city_summary_docx(world: World) -> None:
    c, h = world.client, world.headers
    assert (await c.post(path("/phases/p3/summary"), json=TEXT, headers=h["head-demo"])).status_code == 202
    await _submitted(world, "demo-school")
    r = await c.get(path("/city-summary.docx"), params={"phase": "p3"}, headers=h["bureau"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessingml")
    document = docx.Document(io.BytesIO(r.content))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "2027年防治中小学生欺凌专项整治 督导检查阶段工作总结汇总" in text and "管辖区域：lechang" in text
    assert "应报送学校 2 所，已报送 1 所，未报送 1 所。" in text
    missing = text.split("二、未报送总结的学校")[1].split("三、各校总结")[0]
    assert "乐昌市第二中学（second-school）" in missing and "乐昌市示范中学" not in missing
    summaries = text.split("三、各校总结")[1]
    assert "乐昌市示范中学" in summaries and "乐昌市第二中学" not in summaries
    for zh, field in (("成效", "achievements"), ("问题", "problems"), ("原因", "causes"), ("下一步", "next_steps")):
        assert f"{zh}：{TEXT[field]}" in summaries
    [table] = document.tables
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    assert rows[0][:3] == ["学校", "欺凌事件数", "情节轻微"]
    by_school = {row[0]: row[1:] for row in rows[1:]}
    assert set(by_school) == {"乐昌市示范中学", "乐昌市第二中学", "全区合计"}
    month = f"{datetime.now(SHANGHAI):%Y-%m}"
    ledger = (await c.get("/v1/ledger", params={"from": month, "to": month}, headers=h["bureau"])).json()
    assert by_school["乐昌市示范中学"][0] == str(ledger["schools"][0]["totals"]["incidents"]) == "1"
    assert by_school["全区合计"][0] == str(ledger["jurisdictions"][0]["totals"]["incidents"]) == "2"
    assert "仁化" not in text and "仁化" not in str(rows)  # another jurisdiction's school
    logged = await world.pool.fetchrow("SELECT purpose, filter FROM access_log WHERE action = 'export'"
                                       " ORDER BY seq DESC LIMIT 1")
    assert logged["purpose"] == PURPOSE and '"docx"' in logged["filter"]

"""Training of schools' staff (issue 16) on real JetStream and PostgreSQL: a school files sessions for a
started campaign, schools and the bureau list them within their authority, the police and the stability office
are refused, bad input is named, and the ledger counts sessions and class hours per school and month in JSON,
CSV and XLSX — the topic (free text) in none of them."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import openpyxl
import pytest

from services.archive.app import running
from services.archive.campaign_files import load_campaigns
from services.archive.campaign_filing import started_event
from services.archive.listing import SHANGHAI
from shared.config import Settings
from shared.contracts.base import utcnow
from shared.directory import load_directory
from tests.helpers import directory_with_more_schools, eventually, official_headers, publish

CAMPAIGN = "2027-zhuanxiang"
FILE = f"/v1/campaigns/{CAMPAIGN}/phases/p1/trainings"
TOPIC = "欺凌早期识别与处置流程专题培训"
TRAINER = "乐昌市人民检察院未检部门"
PERIOD = {"from": "2026-10", "to": "2026-11"}


@dataclass
class World:
    client: httpx.AsyncClient
    pool: asyncpg.Pool
    headers: dict[str, dict[str, str]]


def session(held_on: str, hours: float, participants: int, **more: Any) -> dict[str, Any]:
    return {"held_on": held_on, "audience": ["班主任", "校长", "法治副校长"], "participants": participants,
            "hours": hours, "topic": TOPIC, "trainer_org": TRAINER, **more}


@pytest.fixture
async def world(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    settings = settings.model_copy(update={"directory_file": directory_with_more_schools(tmp_path)})
    async with running(settings) as infra, httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10) as client:
        db = settings.database_url
        headers = {
            "demo": await official_headers(client, db, "tr-demo-head", role="school", school="demo-school",
                                           title="head"),
            "second": await official_headers(client, db, "tr-second", role="school", school="second-school",
                                             title="head_teacher"),
            "bureau": await official_headers(client, db, "tr-bureau"),
            "renhua": await official_headers(client, db, "tr-renhua", jurisdiction="renhua"),
            "police": await official_headers(client, db, "tr-police", role="police"),
            "stability": await official_headers(client, db, "tr-stability", role="stability_office"),
        }
        campaign = load_campaigns(settings.campaigns_dir)[CAMPAIGN]
        start = started_event(campaign, load_directory(settings.directory_file), "lechang", "tr-bureau", utcnow())
        await publish(settings.nats_url, start)

        async def chained() -> bool:
            return bool(await infra.pool.fetchval("SELECT count(*) FROM entries WHERE event_id = $1", start.event_id))

        await eventually(chained)
        yield World(client, infra.pool, headers)


async def _listed(w: World, who: str, n: int, **params: str) -> dict[str, Any] | None:
    r = await w.client.get("/v1/trainings", params=params, headers=w.headers[who])
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body if body["sessions"] == n else None


async def test_trainings_are_filed_listed_and_counted_in_the_ledger(world: World) -> None:
    w = world
    c = w.client
    first = await c.post(FILE, json=session("2026-10-12", 2, 30),
                         headers={**w.headers["demo"], "Idempotency-Key": "training-demo-0001"})
    assert first.status_code == 202, first.text
    assert first.json()["school_id"] == "demo-school" and "台账" in first.json()["note_zh"]
    again = await c.post(FILE, json=session("2026-10-12", 2, 30),
                         headers={**w.headers["demo"], "Idempotency-Key": "training-demo-0001"})
    assert again.json()["record_id"] == first.json()["record_id"]  # the same record: no second session
    for who, body in (("demo", session("2026-11-03", 1.5, 12, audience=["安全员"], trainer_org=None)),
                      ("second", session("2026-11-20", 3, 55))):
        r = await c.post(FILE.replace("/p1/", "/p2/"), json=body, headers=w.headers[who])
        assert r.status_code == 202, r.text

    mine = await eventually(lambda: _listed(w, "demo", 2))
    assert [(t["held_on"], t["hours"], t["participants"], t["phase_id"]) for t in mine["trainings"]] == [
        ("2026-11-03", 1.5, 12, "p2"), ("2026-10-12", 2.0, 30, "p1")]
    assert mine["trainings"][1]["audience"] == ["校长", "班主任", "法治副校长"]  # in the vocabulary's order
    assert (mine["hours"], mine["participants"], mine["truncated"]) == (3.5, 42, False)
    every = await eventually(lambda: _listed(w, "bureau", 3))
    assert {t["school_id"] for t in every["trainings"]} == {"demo-school", "second-school"}
    assert every["trainings"][0]["school_name"] == "乐昌市第二中学"
    assert await _listed(w, "bureau", 1, school="second-school")
    assert await _listed(w, "bureau", 1, **{"from": "2026-11-01", "to": "2026-11-10"})
    assert await _listed(w, "renhua", 0)  # another jurisdiction's bureau sees none of them
    assert await _listed(w, "second", 0, school="demo-school")  # a filter never widens a school's view
    for r in (mine, every):
        assert TOPIC not in str(r) and TRAINER not in str(r)

    # the ledger: per school and month held, and the jurisdiction's rows
    led = (await c.get("/v1/ledger", params=PERIOD, headers=w.headers["bureau"])).json()
    schools = {s["school_id"]: s for s in led["schools"]}
    demo_months = {m["month"]: (m["training_sessions"], m["training_hours"]) for m in schools["demo-school"]["months"]}
    assert demo_months == {"2026-10": (1, 2.0), "2026-11": (1, 1.5)}
    assert (schools["demo-school"]["totals"]["training_sessions"], schools["demo-school"]["totals"]["training_hours"]) \
        == (2, 3.5)
    [lechang] = [j for j in led["jurisdictions"] if j["jurisdiction"] == "lechang"]
    assert (lechang["totals"]["training_sessions"], lechang["totals"]["training_hours"]) == (3, 6.5)
    assert {m["month"]: m["training_sessions"] for m in lechang["months"]} == {"2026-10": 1, "2026-11": 2}
    own = (await c.get("/v1/ledger", params=PERIOD, headers=w.headers["second"])).json()
    assert [(s["school_id"], s["totals"]["training_hours"]) for s in own["schools"]] == [("second-school", 3.0)]

    # CSV and XLSX: the two columns appended at the end of every row, the same numbers; 说明 explains them
    text = (await c.get("/v1/ledger.csv", params=PERIOD, headers=w.headers["bureau"])).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][-2:] == ["培训场次", "培训学时"] and rows[0][4] == "欺凌事件数"
    by_key = {(r[1], r[3]): r[-2:] for r in rows[1:]}
    assert by_key[("demo-school", "合计")] == ["2", "3.5"] and by_key[("demo-school", "2026-10")] == ["1", "2"]
    assert by_key[("全部", "合计")] == ["3", "6.5"] and by_key[("second-school", "2026-11")] == ["1", "3"]
    x = await c.get("/v1/ledger.xlsx", params=PERIOD, headers=w.headers["bureau"])
    book = openpyxl.load_workbook(io.BytesIO(x.content), read_only=True)
    sheet = [list(r) for r in book["台账"].iter_rows(values_only=True)]
    assert sheet[0][-2:] == ["培训场次", "培训学时"]
    assert {(r[1], r[3]): [str(v) for v in r[-2:]] for r in sheet[1:]} == by_key
    notes = {r[0]: r[1] for r in book["说明"].iter_rows(values_only=True) if r and r[0]}
    assert "培训场次" in notes and "培训学时" in notes
    summary = await c.get("/v1/ledger/summary.md", params=PERIOD, headers=w.headers["demo"])
    assert "防欺凌专题培训 2 场，共 3.5 学时" in summary.text
    assert TOPIC not in text + summary.text

    # the topic and the trainer stay in the sealed record only
    assert not await w.pool.fetchval("SELECT count(*) FROM entries WHERE summary::text LIKE '%' || $1 || '%'",
                                     TOPIC)


async def test_who_may_file_and_read_trainings_and_bad_input_named(world: World) -> None:
    w = world
    c = w.client
    ok = session("2026-10-12", 2, 30)
    assert (await c.post(FILE, json=ok, headers=w.headers["bureau"])).status_code == 403  # schools file them
    assert (await c.post(FILE, json=ok, headers=w.headers["police"])).status_code == 403
    assert (await c.post(FILE, json=ok)).status_code == 401
    for who in ("police", "stability"):
        r = await c.get("/v1/trainings", headers=w.headers[who])
        assert r.status_code == 403 and r.json()["message_zh"], who
    assert (await c.post("/v1/campaigns/no-such/phases/p1/trainings", json=ok,
                         headers=w.headers["demo"])).status_code == 404
    assert (await c.post(f"/v1/campaigns/{CAMPAIGN}/phases/p9/trainings", json=ok,
                         headers=w.headers["demo"])).status_code == 404
    tomorrow = (utcnow().astimezone(SHANGHAI).date() + timedelta(days=1)).isoformat()
    bad: list[tuple[dict[str, Any], str]] = [
        ({**ok, "held_on": tomorrow}, "held_on"),
        ({**ok, "audience": ["张三"]}, "audience.0"),  # roles, never names
        ({**ok, "audience": []}, "audience"),
        ({**ok, "audience": ["教师", "教师"]}, "audience"),
        ({**ok, "hours": 0}, "hours"),
        ({**ok, "hours": 0.04}, "hours"),
        ({**ok, "participants": 0}, "participants"),
        ({**ok, "teacher_names": ["王老师"]}, "teacher_names"),
        ({k: v for k, v in ok.items() if k != "topic"}, "topic"),
    ]
    for body, field in bad:
        r = await c.post(FILE, json=body, headers=w.headers["demo"])
        assert r.status_code == 422, (field, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (field, r.json())
    r = await c.get("/v1/trainings", params={"from": "2026-11-02", "to": "2026-11-01"}, headers=w.headers["bureau"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.from"
    r = await c.get("/v1/trainings", headers={"Authorization": w.headers["bureau"]["Authorization"]})
    assert r.status_code == 422  # every read states its purpose
    assert await _listed(w, "bureau", 0)  # nothing refused was filed
    key = {**w.headers["demo"], "Idempotency-Key": "training-key-0002"}
    one, same, other = [(await c.post(FILE, json=b, headers=key)).json()["record_id"]
                        for b in (ok, ok, {**ok, "hours": 3})]
    assert one == same != other  # a double submit is one session; the key reused for another is another

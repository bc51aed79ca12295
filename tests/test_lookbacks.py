"""Look-back (回头看) for the past, through the archive's API and escalation (real NATS and PostgreSQL): the
bureau schedules one by hand (the review duty and its notice, once however often it is asked), only for
its own schools; and imports a list of schools, answered row by row."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.archive.app import running as archive
from services.escalation.app import Escalation
from services.escalation.app import running as escalation
from shared.config import Settings
from shared.contracts import LookBackScheduled, NotificationRequested
from shared.contracts.acts import LookBackRequested
from shared.contracts.officials import LookBackCompleted
from shared.subjects import ESCALATION, LOOKBACK_REQUESTED, LOOKBACK_SCHEDULED, NOTIFY, OFFICIALS
from tests.helpers import directory_with_more_schools, eventually, official_headers, publish, stream_messages

REASON = "2024 年曾发生欺凌事件（系统上线前），按专项整治要求开展回头看。"


def _directory(tmp_path: Path) -> Path:
    return directory_with_more_schools(tmp_path)


@dataclass
class World:
    client: httpx.AsyncClient
    settings: Settings
    esc: Escalation
    bureau: dict[str, str]

    async def reviews(self, lookback_id: uuid.UUID) -> int:
        return int(await self.esc.pool.fetchval(
            "SELECT count(*) FROM obligations WHERE incident_id = $1 AND action_id = 'lookback_review'", lookback_id))

    async def record(self, lookback_id: uuid.UUID) -> dict[str, Any] | None:
        r = await self.client.get(f"/v1/cases/{lookback_id}", headers=self.bureau)
        body: dict[str, Any] = r.json() if r.status_code == 200 else {}
        types = {e["event_type"] for e in body.get("timeline", [])}
        return body if {"LookBackRequested", "LookBackScheduled"} <= types else None


@pytest.fixture
async def world(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    quiet = settings.model_copy(update={"watchdog_interval_s": 3600.0, "directory_file": _directory(tmp_path)})
    async with escalation(quiet) as esc, archive(quiet), httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{quiet.archive_port}", timeout=10) as client:
        bureau = await official_headers(client, quiet.database_url, "bureau-li")
        yield World(client, quiet, esc, bureau)


async def _of(url: str, stream: str, subject: str, model: Any, lookback_id: uuid.UUID) -> list[Any]:
    events = [model.model_validate_json(m.data) for m in await stream_messages(url, stream)
              if m.subject.split(".")[:3] == subject.split(".")[:3]]
    return [e for e in events if getattr(e, "lookback_id", getattr(e, "incident_id", None)) == lookback_id]


async def test_a_look_back_by_hand_makes_the_review_duty_and_notice_once(world: World) -> None:
    body = {"school_id": "demo-school", "reason": REASON}
    first = await world.client.post("/v1/lookbacks", json=body, headers=world.bureau)
    again = await world.client.post("/v1/lookbacks", json=body, headers=world.bureau)
    assert first.status_code == again.status_code == 202, first.text
    assert first.json()["lookback_id"] == again.json()["lookback_id"]
    lookback_id = uuid.UUID(first.json()["lookback_id"])

    record = await eventually(lambda: world.record(lookback_id))
    assert record["kind"] == "lookback" and record["case_ref"] == first.json()["case_ref"]
    assert [f["text"] for f in record["personal"]["facts"]] == [{"reason": REASON}]  # the bureau reads why
    assert REASON not in str(record["timeline"])
    url = world.settings.nats_url
    assert await world.reviews(lookback_id) == 1
    [scheduled] = await _of(url, ESCALATION.name, LOOKBACK_SCHEDULED, LookBackScheduled, lookback_id)
    assert scheduled.trigger_incident_id is None and scheduled.school_id == "demo-school"
    notices = [n for n in await _of(url, NOTIFY.name, "ab.notify.requested", NotificationRequested, lookback_id)]
    assert [n.purpose for n in notices] == ["lookback_due"]
    assert notices[0].recipient.entry == "bureau" and REASON not in notices[0].model_dump_json()
    assert len(await _of(url, OFFICIALS.name, LOOKBACK_REQUESTED, LookBackRequested, lookback_id)) == 1

    dated = await world.client.post("/v1/lookbacks", json={**body, "due_at": "2020-01-01T00:00:00+08:00"},
                                    headers=world.bureau)
    assert dated.status_code == 422 and dated.json()["errors"][0]["field"] == "due_at"


async def test_only_the_bureau_and_only_for_its_own_schools(world: World) -> None:
    db, c = world.settings.database_url, world.client
    school = await official_headers(c, db, "school-head", role="school", school="demo-school")
    police = await official_headers(c, db, "police-wang", role="police")
    far = await official_headers(c, db, "bureau-far", jurisdiction="renhua")
    body = {"school_id": "demo-school", "reason": REASON}
    for headers in (school, police):
        assert (await c.post("/v1/lookbacks", json=body, headers=headers)).status_code == 403
        sheet = await c.post("/v1/lookbacks/import.csv", content=b"school_id,reason\ndemo-school,x\n",
                             headers={**headers, "Content-Type": "text/csv"})
        assert sheet.status_code == 403
    assert (await c.post("/v1/lookbacks", json=body, headers=far)).status_code == 404
    assert (await c.post("/v1/lookbacks", json={**body, "school_id": "no-school"},
                         headers=world.bureau)).status_code == 404
    assert (await c.post("/v1/lookbacks", json=body)).status_code == 401
    assert await world.esc.pool.fetchval("SELECT count(*) FROM obligations WHERE action_id = 'lookback_review'") == 0


async def test_a_list_of_schools_is_answered_row_by_row(world: World) -> None:
    c, headers = world.client, {**world.bureau, "Content-Type": "text/csv; charset=utf-8"}
    by_hand = await c.post("/v1/lookbacks", json={"school_id": "demo-school", "reason": REASON}, headers=world.bureau)
    assert by_hand.status_code == 202
    sheet = ("\ufeffschool_id,reason,due_date\n"
             "demo-school,2023 年曾发生欺凌事件,\n"          # 1: scheduled by hand above: a duplicate
             "unknown-school,曾发生欺凌事件,\n"             # 2: not a school of the directory
             "far-school,曾发生欺凌事件,\n"                 # 3: another jurisdiction's
             "second-school,曾发生欺凌事件,2026-02-30\n"    # 4: no such date
             "second-school,2022 年曾发生欺凌事件,2099-12-31\n"  # 5: accepted
             "second-school,2021 年也曾发生,\n").encode()    # 6: the same school again: a duplicate
    r = await c.post("/v1/lookbacks/import.csv", content=sheet, headers=headers)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["accepted"], answer["duplicate"], answer["rejected"]) == (1, 2, 3)
    rows = {row["row"]: row for row in answer["rows"]}
    assert [rows[n]["status"] for n in range(1, 7)] == ["duplicate", "rejected", "rejected", "rejected", "accepted",
                                                         "duplicate"]
    assert rows[1]["lookback_id"] == by_hand.json()["lookback_id"]
    assert [e["field"] for e in rows[2]["errors"]] == ["school_id"] and rows[2]["school_id"] is None
    assert [e["field"] for e in rows[3]["errors"]] == ["school_id"] and "far-school" not in str(rows[3])
    assert [e["field"] for e in rows[4]["errors"]] == ["due_date"] and rows[4]["errors"][0]["reason_zh"]
    accepted = uuid.UUID(rows[5]["lookback_id"])
    assert rows[6]["lookback_id"] == rows[5]["lookback_id"]

    record = await eventually(lambda: world.record(accepted))
    assert record["school_id"] == "second-school" and record["kind"] == "lookback"
    assert await world.reviews(accepted) == 1
    [scheduled] = await _of(world.settings.nats_url, ESCALATION.name, LOOKBACK_SCHEDULED, LookBackScheduled,
                            accepted)
    assert scheduled.due_at == datetime(2099, 12, 31, 23, 59, 59, tzinfo=ZoneInfo("Asia/Shanghai"))  # the day's end

    twice = await c.post("/v1/lookbacks/import.csv", content=sheet, headers=headers)
    assert (twice.json()["accepted"], twice.json()["duplicate"], twice.json()["rejected"]) == (0, 3, 3)
    assert await world.esc.pool.fetchval("SELECT count(*) FROM obligations WHERE action_id = 'lookback_review'") == 2
    wrong = await c.post("/v1/lookbacks/import.csv", content=sheet, headers={**world.bureau,
                                                                            "Content-Type": "application/json"})
    assert wrong.status_code == 415
    names = await c.post("/v1/lookbacks/import.csv", content=b"school_id,reason,student_name\n",
                         headers=headers)
    assert names.status_code == 422 and names.json()["error"] == "invalid_csv"


async def test_a_look_back_done_before_its_schedule_arrived_stays_done(settings: Settings) -> None:
    """Events of one case reach the archive through different consumers, in any order."""
    lookback_id = uuid.uuid4()
    async with archive(settings) as infra, httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10) as client:
        bureau = await official_headers(client, settings.database_url, "bureau-li")
        await publish(settings.nats_url, LookBackCompleted(
            event_id=uuid.uuid4(), lookback_id=lookback_id, school_id="demo-school", by="bureau-li"))
        await eventually(lambda: infra.pool.fetchval("SELECT count(*) FROM entries WHERE incident_id = $1",
                                                     lookback_id))
        await publish(settings.nats_url, LookBackScheduled(
            event_id=uuid.uuid4(), lookback_id=lookback_id, school_id="demo-school",
            due_at=datetime(2099, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))))

        async def listed() -> dict[str, Any] | None:
            r = await client.get(f"/v1/cases/{lookback_id}", headers=bureau)
            return r.json() if r.status_code == 200 else None

        assert (await eventually(listed))["status"] == "closed"

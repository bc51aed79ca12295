"""Emergency help requests end to end through intake: ask, read back, talk, answer, convert."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from antibully.cli import add_access_code, add_school
from services.intake.app import running
from shared.config import Settings
from shared.contracts.help import HelpConverted, HelpMessageAdded, HelpRequested
from shared.subjects import HELP
from tests.helpers import report, stream_messages

ASK = {"requester": {"kind": "student", "anonymous": True}, "message": "我在宿舍经常被同学勒索零花钱，不敢告诉老师。",
       "urgent": True}


@dataclass
class Door:
    client: httpx.AsyncClient
    code: str
    key: str
    settings: Settings


@pytest.fixture
async def door(settings: Settings) -> AsyncIterator[Door]:
    async with running(settings):
        key = await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
        code = await add_access_code(settings.database_url, "demo-school")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.intake_port}", timeout=10) as client:
            yield Door(client, code, key, settings)


async def test_ask_read_back_answer_and_convert(door: Door) -> None:
    asked = await door.client.post("/v1/help-requests", json={**ASK, "access_code": door.code.lower()})
    assert asked.status_code == 202, asked.text
    case, passcode = asked.json()["case_code"], asked.json()["passcode"]
    assert case.startswith("H") and len(passcode) == 8

    mine = {"X-Passcode": passcode}
    view = (await door.client.get(f"/v1/help-requests/{case}", headers=mine)).json()
    assert view["status"] == "open" and view["urgent"] is True
    assert [(m["seq"], m["author"], m["text"]) for m in view["messages"]] == [(1, "requester", ASK["message"])]

    school = {"Authorization": f"Bearer {door.key}"}
    listed = (await door.client.get("/v1/help-requests?status=open", headers=school)).json()
    assert [c["case_code"] for c in listed] == [case]
    reply = await door.client.post(f"/v1/help-requests/{case}/replies",
                                   json={"text": "老师已收到，今天下午会单独找你。"}, headers=school)
    assert reply.status_code == 202 and reply.json()["seq"] == 2
    more = await door.client.post(f"/v1/help-requests/{case}/messages", json={"text": "谢谢老师"}, headers=mine)
    assert more.status_code == 202 and more.json()["seq"] == 3
    view = (await door.client.get(f"/v1/help-requests/{case}", headers=mine)).json()
    assert [(m["seq"], m["author"]) for m in view["messages"]] == [(1, "requester"), (2, "school"), (3, "requester")]

    incident = (await door.client.post("/v1/incidents", json=report(), headers={
        **school, "Idempotency-Key": "from-help-1"})).json()["incident_id"]
    converted = await door.client.post(f"/v1/help-requests/{case}/conversion", json={"incident_id": incident},
                                       headers=school)
    assert converted.status_code == 202
    assert (await door.client.get(f"/v1/help-requests/{case}", headers=mine)).json()["status"] == "converted"

    events = {m.subject: m for m in await stream_messages(door.settings.nats_url, HELP.name)}
    requested = HelpRequested.model_validate_json(events["ab.help.requested"].data)
    assert requested.case_code == case and requested.urgent and requested.school_id == "demo-school"
    assert HelpMessageAdded.model_validate_json(events["ab.help.message"].data).seq == 3
    assert str(HelpConverted.model_validate_json(events["ab.help.converted"].data).incident_id) == incident


async def test_wrong_passcode_and_other_school_see_nothing(door: Door) -> None:
    case = (await door.client.post("/v1/help-requests", json={**ASK, "access_code": door.code})).json()["case_code"]
    assert (await door.client.get(f"/v1/help-requests/{case}", headers={"X-Passcode": "00000000"})).status_code == 404
    assert (await door.client.get(f"/v1/help-requests/{case}")).status_code == 404
    other = await add_school(door.settings.database_url, "other-school", "另一所学校")
    foreign = await door.client.get(f"/v1/help-requests/{case}", headers={"Authorization": f"Bearer {other}"})
    assert foreign.status_code == 403


async def test_unknown_code_and_identity_rules(door: Door) -> None:
    unknown = await door.client.post("/v1/help-requests", json={**ASK, "access_code": "ZZZZZZZZ"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "access_code"
    leaky = {**ASK, "access_code": door.code, "requester": {"kind": "parent", "anonymous": True, "name": "王芳"}}
    refused = await door.client.post("/v1/help-requests", json=leaky)
    assert refused.status_code == 422 and "王芳" not in refused.text
    assert refused.json()["errors"][0]["reason_zh"] == "匿名求助时请不要填写姓名、电话或邮箱"


async def test_replay_with_idempotency_key_returns_the_same_case_and_passcode(door: Door) -> None:
    body = {**ASK, "access_code": door.code}
    first = await door.client.post("/v1/help-requests", json=body, headers={"Idempotency-Key": "phone-retry-1"})
    again = await door.client.post("/v1/help-requests", json=body, headers={"Idempotency-Key": "phone-retry-1"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert len([m for m in await stream_messages(door.settings.nats_url, HELP.name)
                if m.subject == "ab.help.requested"]) == 1


async def test_access_code_is_rate_limited(settings: Settings) -> None:
    limited = settings.model_copy(update={"access_code_rate_per_s": 0.01, "access_code_burst": 2})
    async with running(limited), httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.intake_port}", timeout=10) as client:
        await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
        code = await add_access_code(settings.database_url, "demo-school")
        codes = [(await client.post("/v1/help-requests", json={**ASK, "access_code": code})).status_code
                 for _ in range(3)]
    assert codes == [202, 202, 429]


async def test_messages_are_sealed_at_rest(door: Door) -> None:
    await door.client.post("/v1/help-requests", json={**ASK, "access_code": door.code})
    import asyncpg

    conn = await asyncpg.connect(door.settings.database_url)
    try:
        blobs = [bytes(r[0]) for r in await conn.fetch("SELECT body_ct FROM intake.help_messages")]
    finally:
        await conn.close()
    assert blobs and all("勒索".encode() not in b for b in blobs)

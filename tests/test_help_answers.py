"""An answer to a help request that counts (real NATS and PostgreSQL): a school's plain reply is only a
message; the answer duty is met by a conversion into an incident or by a resolution with a reason, which
the bureau reads (and may contest: the request opens again and a new answer settles it once more)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from antibully.cli import add_access_code, add_school
from services.archive.app import running as archive
from services.escalation.app import Escalation
from services.escalation.app import running as escalation
from services.intake.app import running as intake
from shared.config import Settings
from shared.contracts.acts import Act, OfficialActed
from shared.contracts.base import derive_id
from shared.contracts.duties import DutyUpdated
from shared.contracts.help import HelpRequested, HelpResolution, HelpResolved, Requester
from shared.subjects import DUTIES, HELP, HELP_REQUESTED, HELP_RESOLVED
from tests.helpers import eventually, official_headers, publish, report, stream_messages

SECRET = "同桌总是抢我的饭卡"
REASON = "经班主任分别与双方学生及家长谈话核实，系同桌间借用饭卡的误会，已当面说明并调换座位，未发现欺凌行为。"
RESOLVE = {"resolution": "no_bullying", "reason": REASON, "by": "班主任"}


@dataclass
class Door:
    client: httpx.AsyncClient
    code: str
    school: dict[str, str]
    settings: Settings
    esc: Escalation

    async def ask(self) -> tuple[str, str, uuid.UUID]:
        """A new help request: its code, passcode and id (from the published event)."""
        r = await self.client.post("/v1/help-requests", json={
            "access_code": self.code, "requester": {"kind": "student"}, "message": SECRET})
        assert r.status_code == 202, r.text
        case = r.json()["case_code"]
        events = [HelpRequested.model_validate_json(m.data)
                  for m in await stream_messages(self.settings.nats_url, HELP.name) if m.subject == HELP_REQUESTED]
        [asked] = [e for e in events if e.case_code == case]
        await eventually(lambda: self.answer_duty(asked.help_id))
        return case, r.json()["passcode"], asked.help_id

    async def answer_duty(self, help_id: uuid.UUID) -> dict[str, Any] | None:
        row = await self.esc.pool.fetchrow(
            "SELECT state, how, settled_by, note FROM obligations WHERE incident_id = $1"
            " AND action_id = 'answer_help_request'", help_id)
        return dict(row) if row else None

    async def settled(self, help_id: uuid.UUID) -> dict[str, Any] | None:
        duty = await self.answer_duty(help_id)
        return duty if duty and duty["state"] == "done" else None

    async def status(self, case: str) -> str:
        r = await self.client.get(f"/v1/help-requests/{case}", headers=self.school)
        return str(r.json()["status"])


@pytest.fixture
async def door(settings: Settings) -> AsyncIterator[Door]:
    quiet = settings.model_copy(update={"watchdog_interval_s": 3600.0})
    async with intake(quiet), escalation(quiet) as esc:
        key = await add_school(quiet.database_url, "demo-school", "乐昌市示范中学")
        code = await add_access_code(quiet.database_url, "demo-school")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{quiet.intake_port}", timeout=10) as client:
            yield Door(client, code, {"Authorization": f"Bearer {key}"}, quiet, esc)


async def _answer_versions(settings: Settings, help_id: uuid.UUID) -> list[tuple[str, str | None]]:
    """(state, how) of every published version of the help request's answer duty, oldest first."""
    duties = [DutyUpdated.model_validate_json(m.data) for m in await stream_messages(settings.nats_url, DUTIES.name)]
    mine = sorted((d for d in duties if d.incident_id == help_id and d.duty.action_id == "answer_help_request"),
                  key=lambda d: d.version)
    return [(d.duty.state.value, d.duty.how) for d in mine]


async def _when(items: Any, ok: Any) -> Any:
    got = await items
    return got if ok(got) else None


async def test_a_reply_does_not_settle_a_help_request_a_resolution_does(door: Door) -> None:
    case, _, help_id = await door.ask()
    reply = await door.client.post(f"/v1/help-requests/{case}/replies", json={"text": "老师收到了，明天找你谈。"},
                                   headers=door.school)
    assert reply.status_code == 202 and await door.status(case) == "answered"
    await asyncio.sleep(1.0)  # time for a (wrong) reaction to the reply
    assert (await door.answer_duty(help_id) or {}).get("state") == "pending"

    missing = await door.client.post(f"/v1/help-requests/{case}/resolution", json={**RESOLVE, "reason": "无"},
                                     headers=door.school)
    assert missing.status_code == 422 and [e["field"] for e in missing.json()["errors"]] == ["reason"]
    wrong = await door.client.post(f"/v1/help-requests/{case}/resolution", json={**RESOLVE, "resolution": "fine"},
                                   headers=door.school)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "resolution"
    other = await add_school(door.settings.database_url, "other-school", "另一所学校")
    foreign = await door.client.post(f"/v1/help-requests/{case}/resolution", json=RESOLVE,
                                     headers={"Authorization": f"Bearer {other}"})
    assert foreign.status_code == 403

    resolved = await door.client.post(f"/v1/help-requests/{case}/resolution", json=RESOLVE, headers=door.school)
    assert resolved.status_code == 202, resolved.text
    duty = await eventually(lambda: door.settled(help_id))
    assert (duty["how"], duty["settled_by"], duty["note"]) == ("resolved", "school", "no_bullying")
    versions = await eventually(lambda: _when(_answer_versions(door.settings, help_id), lambda v: len(v) >= 2))
    assert versions == [("open", None), ("done", "resolved")]  # never done by the reply
    assert await door.status(case) == "resolved"
    # a later reply is a message; it does not reopen the request
    await door.client.post(f"/v1/help-requests/{case}/replies", json={"text": "如有新情况随时找老师。"},
                           headers=door.school)
    assert await door.status(case) == "resolved"
    again = await door.client.post(f"/v1/help-requests/{case}/resolution", json=RESOLVE, headers=door.school)
    assert again.status_code == 409 and again.json()["error"] == "already_resolved"


async def test_a_conversion_settles_it_and_a_resolution_is_refused_after_it(door: Door) -> None:
    case, _, help_id = await door.ask()
    posted = await door.client.post("/v1/incidents", json=report(),
                                    headers={**door.school, "Idempotency-Key": "help-to-incident-1"})
    assert posted.status_code == 202, posted.text
    converted = await door.client.post(f"/v1/help-requests/{case}/conversion",
                                       json={"incident_id": posted.json()["incident_id"]}, headers=door.school)
    assert converted.status_code == 202
    duty = await eventually(lambda: door.settled(help_id))
    assert (duty["how"], duty["settled_by"]) == ("converted", "school")
    refused = await door.client.post(f"/v1/help-requests/{case}/resolution", json=RESOLVE, headers=door.school)
    assert refused.status_code == 409 and refused.json()["error"] == "already_converted"
    assert await door.status(case) == "converted"


async def test_a_contested_resolution_can_be_answered_again(door: Door) -> None:
    case, _, help_id = await door.ask()
    first = await door.client.post(f"/v1/help-requests/{case}/resolution", json=RESOLVE, headers=door.school)
    assert first.status_code == 202
    await publish(door.settings.nats_url, OfficialActed(
        event_id=uuid.uuid4(), incident_id=help_id, school_id="demo-school", act=Act.contest_help_resolution,
        official="bureau-li", official_role="bureau", jurisdiction="lechang", reason="谈话记录不足以排除欺凌。"))

    async def reopened() -> bool:
        return await door.status(case) == "open"

    await eventually(reopened)
    anew = {**RESOLVE, "resolution": "handled_otherwise",
            "reason": "补充调查后确认存在持续抢夺行为，已批评教育并通知家长，持续跟踪。"}
    second = await door.client.post(f"/v1/help-requests/{case}/resolution", json=anew, headers=door.school)
    assert second.status_code == 202, second.text
    published = [HelpResolved.model_validate_json(m.data)
                 for m in await stream_messages(door.settings.nats_url, HELP.name) if m.subject == HELP_RESOLVED]
    assert [r.resolution for r in published if r.help_id == help_id] == [HelpResolution.no_bullying,
                                                                         HelpResolution.handled_otherwise]
    assert len({r.event_id for r in published}) == len(published)  # two answers, two events


async def test_a_reopened_answer_duty_is_met_again_by_a_later_resolution(door: Door) -> None:
    """The bureau's contest reopens the duty (B3's act); here that effect is applied directly."""
    _, _, help_id = await door.ask()

    def resolved(n: int, resolution: HelpResolution) -> HelpResolved:
        return HelpResolved(event_id=derive_id("help-resolved", help_id, n), help_id=help_id,
                            school_id="demo-school", resolution=resolution, reason=REASON, by="班主任")

    await publish(door.settings.nats_url, resolved(1, HelpResolution.no_bullying))
    await eventually(lambda: door.settled(help_id))
    await door.esc.pool.execute("UPDATE obligations SET state = 'pending', how = NULL, settled_by = NULL"
                                " WHERE incident_id = $1 AND action_id = 'answer_help_request'", help_id)
    await publish(door.settings.nats_url, resolved(2, HelpResolution.handled_otherwise))
    duty = await eventually(lambda: door.settled(help_id))
    assert (duty["how"], duty["note"]) == ("resolved", "handled_otherwise")


async def test_the_bureau_reads_the_reason_and_the_timeline_only_the_kind(settings: Settings) -> None:
    help_id = uuid.uuid4()
    asked = HelpRequested(event_id=derive_id("hr", help_id), help_id=help_id, school_id="demo-school",
                          case_code="H" + help_id.hex[:10].upper(), requester=Requester(kind="student"),
                          message=SECRET, urgent=False)
    done = HelpResolved(event_id=derive_id("hres", help_id), help_id=help_id, school_id="demo-school",
                        resolution=HelpResolution.no_bullying, reason=REASON, by="班主任")
    async with archive(settings), httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.archive_port}",
                                                    timeout=10) as client:
        bureau = await official_headers(client, settings.database_url, "bureau-li")
        school = await official_headers(client, settings.database_url, "school-head", role="school",
                                        school="demo-school")
        for event in (asked, done):
            await publish(settings.nats_url, event)

        async def record(headers: dict[str, str]) -> dict[str, Any] | None:
            r = await client.get(f"/v1/cases/{help_id}", headers=headers)
            body: dict[str, Any] = r.json() if r.status_code == 200 else {}
            return body if len(body.get("timeline", [])) == 2 else None

        for headers in (bureau, school):
            seen = await eventually(lambda h=headers: record(h))  # type: ignore[misc]
            [resolution] = seen["personal"]["resolutions"]
            assert (resolution["resolution"], resolution["reason"]) == ("no_bullying", REASON)
            [entry] = [e for e in seen["timeline"] if e["event_type"] == "HelpResolved"]
            assert entry["summary"] == {"resolution": "no_bullying", "by": "班主任"}
            assert REASON not in str(seen["timeline"])

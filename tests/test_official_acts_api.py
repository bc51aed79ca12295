"""Officials' acts through the archive's API on real JetStream and PostgreSQL: every act × every role, in and
out of scope; what each act needs; the case states that refuse an act; a double click; the record's acts
(reasons only for roles that see personal data); and, with escalation running, a referral the police then
receive and a raise that the record's level follows."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.archive.app import running as archive_running
from services.escalation.app import running as escalation_running
from services.escalation.domain import decide
from services.escalation.notices import plan
from services.intake.examples import SEVERE_EXAMPLE
from services.intake.reports import reported_event
from shared.config import Settings
from shared.contracts import IncidentReport, Level
from shared.contracts.acts import Act
from shared.contracts.base import derive_id, utcnow
from shared.contracts.duties import Duty, DutyState, DutyUpdated
from shared.contracts.help import HelpRequested, HelpResolved, Requester
from shared.contracts.officials import ChangeResolved
from shared.directory import load_directory
from shared.service import Infra
from tests.helpers import default_policy, eventually, official_headers, publish
from tests.test_archive_reads import directory_file

MINOR = {"injury": "none", "violence": False, "weapon": False, "group": False,
         "repeated_after_education": False, "suspected_crime": False, "public_attention": "none"}
# account → (role, jurisdiction, school)
ACCOUNTS = {
    "school-a": ("school", "lechang", "demo-school"),
    "bureau": ("bureau", "lechang", None),
    "bureau-2": ("bureau", "lechang", None),
    "bureau-far": ("bureau", "renhua", None),
    "police": ("police", "lechang", None),
    "police-far": ("police", "renhua", None),
    "stability": ("stability_office", "lechang", None),
}
REASON = "经核查，李小明多次被堵在卫生间。"  # free text naming a child: sealed, never in a clear summary


@dataclass
class World:
    infra: Infra
    client: httpx.AsyncClient
    settings: Settings
    cases: dict[str, uuid.UUID]
    duties: dict[str, uuid.UUID]  # case name → an open duty of it
    headers: dict[str, dict[str, str]]

    async def act(self, account: str, case: str | uuid.UUID, **body: Any) -> httpx.Response:
        case_id = self.cases[case] if isinstance(case, str) else case
        return await self.client.post(f"/v1/cases/{case_id}/acts", json={"reason": REASON, **body},
                                      headers=self.headers[account])

    async def record(self, account: str, case: str) -> dict[str, Any]:
        r = await self.client.get(f"/v1/cases/{self.cases[case]}", headers=self.headers[account])
        assert r.status_code == 200, (account, case, r.text)
        return dict(r.json())


def _duty_updated(case_id: uuid.UUID, obligation_id: uuid.UUID, version: int, state: DutyState) -> DutyUpdated:
    at = utcnow()
    duty = Duty(obligation_id=obligation_id, action_id="counselling", label_zh="对受害学生开展心理辅导", kind="task",
                role="school", student_ref="S-1042", state=state, due_at=at, first_due_at=at)
    return DutyUpdated(event_id=derive_id("duty", obligation_id, version), incident_id=case_id,
                       school_id="demo-school", version=version, duty=duty)


async def _publish_cases(settings: Settings) -> tuple[dict[str, uuid.UUID], dict[str, uuid.UUID]]:
    directory = load_directory(settings.directory_file)
    cases, duties = {}, {}
    for name, school, indicators in (("severe", "demo-school", {}), ("minor", "demo-school", MINOR),
                                     ("far", "far-school", {}), ("closed", "demo-school", {})):
        body = copy.deepcopy(SEVERE_EXAMPLE)
        body["school_id"] = school
        body["indicators"].update(indicators)
        reported = reported_event(IncidentReport.model_validate(body), f"acts-api-{name}")
        decided, _ = plan(reported, decide(reported.facts, default_policy(), reported.occurred_at), directory)
        await publish(settings.nats_url, reported)
        await publish(settings.nats_url, decided)
        cases[name] = reported.incident_id
        duties[name] = derive_id("duty-of", name)
        await publish(settings.nats_url, _duty_updated(reported.incident_id, duties[name], 1, DutyState.open))
    await publish(settings.nats_url, ChangeResolved(
        event_id=derive_id("closed", cases["closed"]), incident_id=cases["closed"], follow_up_id=uuid.uuid4(),
        change="closure", outcome="applied", approvers=["a", "b"], level_before=Level.severe,
        level_after=Level.severe))
    for name, resolved in (("help", True), ("help-open", False)):
        help_id = derive_id("acts-api", name)
        await publish(settings.nats_url, HelpRequested(
            event_id=derive_id("hr", help_id), help_id=help_id, school_id="demo-school",
            case_code="HACTSAPI" + name[-3:],
            requester=Requester(kind="parent"), message="孩子说有人打他", urgent=False))
        if resolved:
            await publish(settings.nats_url, HelpResolved(
                event_id=derive_id("hres", help_id), help_id=help_id, school_id="demo-school",
                resolution="no_bullying", reason="经核查系同学玩闹。", by="班主任"))
        cases[name] = help_id
    return cases, duties


async def _projected(infra: Infra) -> tuple[int, int, int] | None:
    opened = await infra.pool.fetchval("SELECT count(*) FROM cases WHERE kind IS NOT NULL")
    closed = await infra.pool.fetchval("SELECT count(*) FROM cases WHERE status = 'closed'")
    later = await infra.pool.fetchval("SELECT count(*) FROM entries WHERE event_type = ANY($1::text[])",
                                      ["DutyUpdated", "HelpResolved", "EscalationDecided"])
    got = (opened, closed, later)
    return got if got == (6, 1, 9) else None


async def _world(settings: Settings, infra: Infra, client: httpx.AsyncClient) -> World:
    # accounts first: adding one migrates the archive's schema, which must not race its consumers
    headers = {account: await official_headers(client, settings.database_url, account, role=role,
                                               jurisdiction=jurisdiction, school=school)
               for account, (role, jurisdiction, school) in ACCOUNTS.items()}
    cases, duties = await _publish_cases(settings)
    await eventually(lambda: _projected(infra))
    return World(infra, client, settings, cases, duties, headers)


@pytest.fixture
async def world(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    settings = settings.model_copy(update={"directory_file": directory_file(tmp_path)})
    async with archive_running(settings) as infra, httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10) as client:
        yield await _world(settings, infra, client)


def _body(act: Act, world: World, case: str) -> dict[str, Any]:
    """A complete body for the act on that case."""
    extra: dict[str, Any] = {
        Act.raise_level: {"level": "criminal"},
        Act.order_follow_up: {"due_at": (utcnow() + timedelta(days=3)).isoformat()},
        Act.waive_duty: {"obligation_id": str(world.duties.get(case, uuid.uuid4()))},
        Act.police_case_number: {"police_case_number": "乐公（治）受案字〔2026〕1号"},
        Act.police_outcome: {"outcome": "依法处理。"},
    }.get(act, {})
    return {"act": act.value, **extra}


def _expected(account: str, act: Act, case: str) -> int:
    """The matrix, restated from the rules: role first (403), then scope (404), then the case's kind (409)."""
    role = ACCOUNTS[account][0]
    if role not in ("bureau", "police") or (role == "police") != act.by_police:
        return 403
    far_account = account.endswith("-far")
    if (case == "far") != far_account:
        return 404  # the other jurisdiction's case: as unknown
    if case == "help":
        if role == "police":
            return 404  # the police see referred incidents only
        return 202 if act in (Act.contest_help_resolution, Act.add_note, Act.waive_duty) else 409
    return 409 if act is Act.contest_help_resolution else 202


async def test_every_act_by_every_role_in_and_out_of_scope(world: World) -> None:
    unknown = await world.act("bureau", uuid.uuid4(), act="add_note")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    seen = set()
    for act in Act:
        for account in ACCOUNTS:
            if account == "bureau-2":
                continue
            for case in ("severe", "far", "help"):
                if case == "help" and act is Act.waive_duty:
                    continue  # the help request has no duty in this world
                r = await world.act(account, case, **_body(act, world, case))
                want = _expected(account, act, case)
                assert r.status_code == want, (act.value, account, case, r.status_code, r.text)
                if want == 404:
                    assert r.json() == unknown.json(), (act.value, account, case)  # indistinguishable
                seen.add(want)
    assert seen == {202, 403, 404, 409}


async def test_each_act_names_the_field_it_needs_or_does_not_use(world: World) -> None:
    async def fields(**body: Any) -> list[str]:
        r = await world.act("bureau", "severe", **body)
        assert r.status_code == 422, (body, r.text)
        return [e["field"] for e in r.json()["errors"]]

    assert await fields(act="raise_level") == ["level"]
    assert await fields(act="order_follow_up") == ["due_at"]
    assert await fields(act="waive_duty") == ["obligation_id"]
    assert await fields(act="add_note", level="severe") == ["level"]
    assert await fields(act="order_follow_up", due_at=(utcnow() - timedelta(hours=1)).isoformat()) == ["due_at"]
    assert await fields(act="escalate") == ["act"]
    r = await world.client.post(f"/v1/cases/{world.cases['severe']}/acts", json={"act": "add_note"},
                                headers=world.headers["bureau"])
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["reason"]
    police = await world.client.post(f"/v1/cases/{world.cases['severe']}/acts", json={
        "act": "police_outcome", "reason": "办结"}, headers=world.headers["police"])
    assert police.status_code == 422 and police.json()["errors"][0]["field"] == "outcome"
    assert police.json()["errors"][0]["reason_zh"]


async def test_the_case_state_refuses_what_no_longer_applies(world: World) -> None:
    async def error(account: str, case: str | uuid.UUID, **body: Any) -> tuple[int, str]:
        r = await world.act(account, case, **body)
        return r.status_code, r.json().get("error", "") if r.status_code >= 400 else ""

    assert await error("bureau", "severe", act="raise_level", level="serious") == (409, "not_higher")
    assert await error("bureau", "severe", act="raise_level", level="severe") == (409, "not_higher")
    assert await error("bureau", "severe", act="waive_duty", obligation_id=str(uuid.uuid4())) == (404, "no_such_duty")
    assert await error("bureau", "severe", act="waive_duty", obligation_id=str(world.duties["minor"])) == (
        404, "no_such_duty")  # another case's duty
    await publish(world.settings.nats_url, _duty_updated(world.cases["minor"], world.duties["minor"], 2,
                                                         DutyState.done))
    await eventually(lambda: world.infra.pool.fetchval(
        "SELECT 1 FROM entries WHERE event_type = 'DutyUpdated' AND summary @> '{\"version\": 2}'"))
    assert await error("bureau", "minor", act="waive_duty", obligation_id=str(world.duties["minor"])) == (
        409, "duty_settled")
    assert await error("bureau", "help-open", act="contest_help_resolution") == (409, "no_resolution")
    assert await error("bureau", "help", act="raise_level", level="severe") == (409, "act_not_applicable")
    assert await error("bureau", "severe", act="contest_help_resolution") == (409, "act_not_applicable")
    for act in (Act.close_case, Act.raise_level, Act.refer_to_police, Act.order_follow_up):
        assert await error("bureau", "closed", **_body(act, world, "closed")) == (409, "case_closed"), act
    assert await error("bureau", "closed", act="add_note") == (202, "")
    assert await error("police", "closed", act="police_outcome", outcome="判决已生效。") == (202, "")


async def test_a_double_click_counts_once_and_another_text_is_another_act(world: World) -> None:
    waive = {"act": "waive_duty", "obligation_id": str(world.duties["severe"])}
    first, again = await world.act("bureau", "severe", **waive), await world.act("bureau", "severe", **waive)
    other = await world.act("bureau-2", "severe", **waive)
    assert first.json()["event_id"] == again.json()["event_id"] != other.json()["event_id"]
    assert "两名" in first.json()["note_zh"]
    note = await world.act("bureau", "severe", act="add_note")
    same = await world.act("bureau", "severe", act="add_note")
    changed = await world.client.post(f"/v1/cases/{world.cases['severe']}/acts", json={
        "act": "add_note", "reason": "已电话督促。"}, headers=world.headers["bureau"])
    assert note.json()["event_id"] == same.json()["event_id"] != changed.json()["event_id"]


async def test_the_record_shows_acts_to_all_and_their_words_to_those_who_see_personal_data(world: World) -> None:
    # the minor case is nobody's but the school's and the bureau's, until the bureau refers it and flags it
    assert (await world.client.get(f"/v1/cases/{world.cases['minor']}",
                                   headers=world.headers["police"])).status_code == 404
    for act in ("refer_to_police", "flag_public_attention"):
        assert (await world.act("bureau", "minor", act=act)).status_code == 202

    async def received() -> bool:  # the police may act once the archive has recorded the referral
        return (await world.act("police", "minor", act="police_received")).status_code == 202

    await eventually(received)

    async def acted(account: str) -> dict[str, Any] | None:
        r = await world.client.get(f"/v1/cases/{world.cases['minor']}", headers=world.headers[account])
        return r.json() if r.status_code == 200 and len(r.json()["acts"]) == 3 else None

    bureau = await eventually(lambda: acted("bureau"))
    assert bureau["referred_to_police"] and bureau["public_attention_wide"]
    assert "wide_public_attention" in bureau["flags"]
    # in record order, which for acts a few milliseconds apart is the order the archive received them in
    assert sorted((a["act"], a["official"], a["official_role"]) for a in bureau["acts"]) == sorted([
        ("refer_to_police", "bureau", "bureau"), ("flag_public_attention", "bureau", "bureau"),
        ("police_received", "police", "police")])
    assert [a["reason"] for a in bureau["personal"]["acts"]] == [REASON] * 3
    police = await eventually(lambda: acted("police"))
    assert [a["reason"] for a in police["personal"]["acts"]] == [REASON] * 3
    stability = await eventually(lambda: acted("stability"))
    assert stability["personal"] is None and len(stability["acts"]) == 3
    assert "李小明" not in str(stability) and "李小明" not in str(bureau["timeline"])


@pytest.fixture
async def both(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    settings = settings.model_copy(update={"directory_file": directory_file(tmp_path), "watchdog_interval_s": 3600.0})
    async with escalation_running(settings), archive_running(settings) as infra, httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10) as client:
        # accounts first: adding one migrates the archive's schema, which must not race its consumers
        headers = {account: await official_headers(client, settings.database_url, account, role=role,
                                                   jurisdiction=jurisdiction, school=school)
                   for account, (role, jurisdiction, school) in ACCOUNTS.items()}
        reported = reported_event(IncidentReport.model_validate(
            {**copy.deepcopy(SEVERE_EXAMPLE), "indicators": MINOR}), "acts-api-e2e")
        await publish(settings.nats_url, reported)
        await eventually(lambda: infra.pool.fetchval("SELECT 1 FROM cases WHERE incident_id = $1 AND level IS NOT NULL",
                                                     reported.incident_id))
        yield World(infra, client, settings, {"minor": reported.incident_id}, {}, headers)


async def test_through_the_api_the_police_receive_a_referral_and_the_record_follows_a_raise(both: World) -> None:
    assert (await both.act("bureau", "minor", act="refer_to_police")).status_code == 202

    async def police_duty(state: str) -> Any:
        return await both.infra.pool.fetchval(
            "SELECT summary FROM entries WHERE incident_id = $1 AND event_type = 'DutyUpdated'"
            " AND summary @> $2::jsonb",
            both.cases["minor"], f'{{"action_id": "contact_police", "state": "{state}"}}')

    await eventually(lambda: police_duty("open"))

    async def received() -> bool:
        return (await both.act("police", "minor", act="police_received")).status_code == 202

    await eventually(received)
    duty = json.loads(await eventually(lambda: police_duty("acknowledged")))
    assert (duty["how"], duty["settled_by"]) == ("police_received", "police")  # by the officer's account

    assert (await both.act("bureau", "minor", act="raise_level", level="severe")).status_code == 202

    async def raised() -> dict[str, Any] | None:
        record = await both.record("bureau", "minor")
        return record if record["level"] == "severe" else None

    record = await eventually(raised)
    assert "raised_by_official" in {r["code"] for r in record["reasons"]}
    again = await both.act("bureau-2", "minor", act="raise_level", level="serious")
    assert again.status_code == 409 and again.json()["error"] == "not_higher"

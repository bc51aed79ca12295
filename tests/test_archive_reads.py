"""archive's read side on real JetStream and PostgreSQL: every role × endpoint, what each may see,
the purpose every read states, the access log's chain, logins, locks and expiry."""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from antibully.infra import free_port
from services.archive import repository
from services.archive.accounts import name_digest
from services.archive.app import running
from services.archive.audit import first_broken_access
from services.escalation.domain import decide
from services.escalation.notices import plan
from services.intake.examples import SEVERE_EXAMPLE
from services.intake.reports import reported_event
from shared.config import ROOT, Settings
from shared.contracts import DeadlineMissed, EscalationDecided, IncidentReport, RecipientRole
from shared.contracts.base import derive_id, utcnow
from shared.contracts.hazard import HazardFinding, HazardProgress, HazardProgressed, HazardReported
from shared.contracts.help import HelpConverted, HelpMessageAdded, HelpRequested, Requester
from shared.contracts.officials import ChangeApproved
from shared.directory import load_directory
from shared.service import Infra
from tests.helpers import PASSWORD, default_policy, eventually, official_headers, owner_connection, publish
from tests.helpers import MovedClock as Clock

MINOR = {"injury": "none", "violence": False, "weapon": False, "group": False,
         "repeated_after_education": False, "suspected_crime": False, "public_attention": "none"}
BYSTANDER = {"ref": "S-9001", "role": "bystander", "name": "孙旁观", "grade": "初一",
             "guardians": [{"name": "孙家长", "relation": "父亲", "phone": "13900000009"}]}
HELP_TEXT = "宿舍里有人天天勒索我"
# account → (role, jurisdiction, school)
ACCOUNTS = {
    "school-a": ("school", "lechang", "demo-school"),
    "school-far": ("school", "renhua", "far-school"),
    "bureau": ("bureau", "lechang", None),
    "bureau-far": ("bureau", "renhua", None),
    "police": ("police", "lechang", None),
    "stability": ("stability_office", "lechang", None),
}


@dataclass
class World:
    infra: Infra
    client: httpx.AsyncClient
    settings: Settings
    clock: Clock
    cases: dict[str, uuid.UUID]
    decisions: dict[str, EscalationDecided]
    headers: dict[str, dict[str, str]]

    def expected(self, account: str) -> set[str]:
        """Each role's scope, restated from brief 2(4)/4(3) over the test's own facts."""
        lechang = {"severe", "minor", "wide", "hazard", "help"}
        referred = {n for n, d in self.decisions.items() if n != "far"
                    and any(r.role is RecipientRole.police for r in d.recipients)}
        wide = {n for n, d in self.decisions.items() if n != "far" and d.public_attention_wide}
        return {"school-a": lechang, "school-far": {"far"}, "bureau": lechang, "bureau-far": {"far"},
                "police": referred, "stability": wide}[account]


def directory_file(tmp_path: Path) -> Path:
    """The shipped directory plus a school in another jurisdiction."""
    path = tmp_path / "directory.toml"
    path.write_text((ROOT / "deploy" / "directory.toml").read_text(encoding="utf-8") + """
[schools.far-school]
name = "仁化县第一中学"
email = "principal@far-school.example.cn"
jurisdiction = "renhua"
""", encoding="utf-8")
    return path


def _body(school: str = "demo-school", bystander: bool = False, **indicators: Any) -> dict[str, Any]:
    body = copy.deepcopy(SEVERE_EXAMPLE)
    body["school_id"] = school
    body["indicators"].update(indicators)
    if bystander:
        body["students"].append(BYSTANDER)
    return body


async def _publish_cases(settings: Settings) -> tuple[dict[str, uuid.UUID], dict[str, EscalationDecided]]:
    directory = load_directory(settings.directory_file)
    bodies = {"severe": _body(bystander=True), "minor": _body(**MINOR),
              "wide": _body(**{**MINOR, "public_attention": "wide"}), "far": _body("far-school")}
    cases, decisions = {}, {}
    for name, body in bodies.items():
        reported = reported_event(IncidentReport.model_validate(body), f"reads-{name}")
        decided, _ = plan(reported, decide(reported.facts, default_policy(), reported.occurred_at), directory)
        await publish(settings.nats_url, reported)
        await publish(settings.nats_url, decided)
        cases[name], decisions[name] = reported.incident_id, decided
    hazard_id, help_id = uuid.uuid4(), uuid.uuid4()
    finding = HazardFinding.model_validate(
        {"school_id": "demo-school", "found_at": "2026-11-25T10:20:00+08:00", "kind": "early_sign",
         "students": [{"ref": "S-2031", "role": "at_risk"}], "observed": "课间多次索要零食", "risk_level": "medium",
         "intervention": "班主任约谈", "rectification": {"plan": "每日关注", "due_date": "2026-12-20",
                                                        "responsible": "班主任"}})
    await publish(settings.nats_url, HazardReported(event_id=derive_id("hz", hazard_id), hazard_id=hazard_id,
                                                    school_id="demo-school", finding=finding))
    await publish(settings.nats_url, HelpRequested(
        event_id=derive_id("hr", help_id), help_id=help_id, school_id="demo-school", case_code="HREADS00001",
        requester=Requester(kind="student"), message=HELP_TEXT, urgent=True))
    await publish(settings.nats_url, HelpMessageAdded(event_id=derive_id("hm", help_id), help_id=help_id,
                                                      school_id="demo-school", seq=2, author="school", text="已收到"))
    await publish(settings.nats_url, HazardProgressed(
        event_id=derive_id("hp", hazard_id), hazard_id=hazard_id, school_id="demo-school", progress_id=uuid.uuid4(),
        seq=1, progress=HazardProgress(at=utcnow(), step="班会已开展", completed=True)))
    await publish(settings.nats_url, HelpConverted(event_id=derive_id("hc", help_id), help_id=help_id,
                                                   school_id="demo-school", incident_id=cases["minor"]))
    await publish(settings.nats_url, ChangeApproved(
        event_id=derive_id("ca", cases["severe"]), incident_id=cases["severe"], follow_up_id=uuid.uuid4(),
        change="lower", approver="bureau", jurisdiction="lechang", comment="同意"))
    cases["hazard"], cases["help"] = hazard_id, help_id
    return cases, decisions


@pytest.fixture
async def world(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    settings = settings.model_copy(update={"directory_file": directory_file(tmp_path),
                                           "archive_login_max_failures": 3, "archive_token_ttl_s": 60,
                                           "archive_metrics_port": free_port()})
    clock = Clock()
    async with running(settings, clock=clock) as infra, httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10
    ) as client:
        cases, decisions = await _publish_cases(settings)

        async def projected() -> bool:
            n = await infra.pool.fetchval("SELECT count(*) FROM cases WHERE kind IS NOT NULL")
            decided = await infra.pool.fetchval("SELECT count(*) FROM cases WHERE level IS NOT NULL")
            late = await infra.pool.fetchval(
                "SELECT count(*) FROM entries WHERE event_type = ANY($1::text[])",
                ["HelpMessageAdded", "HazardProgressed", "HelpConverted", "ChangeApproved"])
            return bool(n == 6 and decided == 4 and late == 4)

        await eventually(projected)
        headers = {account: await official_headers(client, settings.database_url, account, role=role,
                                                   jurisdiction=jurisdiction, school=school)
                   for account, (role, jurisdiction, school) in ACCOUNTS.items()}
        yield World(infra, client, settings, clock, cases, decisions, headers)


async def _log_length(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM access_log"))


async def test_every_role_sees_its_scope_and_nothing_else(world: World) -> None:
    c, names = world.client, {v: k for k, v in world.cases.items()}
    # Preconditions the table below relies on: the rules referred the severe case, not the minor one.
    assert "severe" in world.expected("police") and "minor" not in world.expected("police")
    assert world.expected("stability") == {"wide"}
    unknown = await c.get(f"/v1/cases/{uuid.uuid4()}", headers=world.headers["bureau"])
    for account, hdr in world.headers.items():
        listed = await c.get("/v1/cases", params={"limit": 200}, headers=hdr)
        assert listed.status_code == 200, (account, listed.text)
        assert {names[uuid.UUID(i["case_id"])] for i in listed.json()["items"]} == world.expected(account), account
        for name, case_id in world.cases.items():
            r = await c.get(f"/v1/cases/{case_id}", headers=hdr)
            if name in world.expected(account):
                assert r.status_code == 200 and r.json()["case_id"] == str(case_id), (account, name)
            else:  # indistinguishable from a case that does not exist
                assert (r.status_code, r.json()) == (404, unknown.json()), (account, name)
        log = await c.get("/v1/access-log", headers=hdr)
        assert log.status_code == (200 if ACCOUNTS[account][0] == "bureau" else 403), account
    for endpoint in ("/v1/cases", f"/v1/cases/{world.cases['severe']}", f"/v1/incidents/{world.cases['severe']}",
                     "/v1/access-log"):
        assert (await c.get(endpoint, headers={"X-Access-Purpose": "no token"})).status_code == 401


async def test_personal_data_follows_the_role(world: World) -> None:
    c, severe = world.client, world.cases["severe"]
    police = (await c.get(f"/v1/incidents/{severe}", headers=world.headers["police"])).json()
    assert {s["role"] for s in police["personal"]["students"]} == {"victim", "perpetrator"}
    assert "李小明" in str(police["personal"]) and "孙旁观" not in str(police) and "13900000009" not in str(police)
    school = (await c.get(f"/v1/incidents/{severe}", headers=world.headers["school-a"])).json()
    assert "孙旁观" in {s["name"] for s in school["personal"]["students"]}
    assert school["kind"] == "incident" and school["referred_to_police"] is True
    assert school["case_ref"] == "AB-" + severe.hex[:8].upper()
    stability = (await c.get(f"/v1/cases/{world.cases['wide']}", headers=world.headers["stability"])).json()
    assert stability["personal"] is None and "李小明" not in str(stability)
    assert "wide_public_attention" in stability["flags"] and stability["public_attention_wide"] is True
    helped = (await c.get(f"/v1/cases/{world.cases['help']}", headers=world.headers["school-a"])).json()
    assert [m["text"] for m in helped["personal"]["messages"]] == [HELP_TEXT, "已收到"]
    assert HELP_TEXT not in str(helped["timeline"]) and helped["urgent"] is True and helped["kind"] == "help"
    # the chain keeps arrival order, and these arrive through three consumers: compare as a set
    assert sorted(e["event_type"] for e in helped["timeline"]) == ["HelpConverted", "HelpMessageAdded",
                                                                   "HelpRequested"]
    assert helped["converted_incident_id"] == str(world.cases["minor"]) and helped["chain"]["valid"] is True
    hazard = (await c.get(f"/v1/cases/{world.cases['hazard']}", headers=world.headers["bureau"])).json()
    assert [e["event_type"] for e in hazard["timeline"]] == ["HazardReported", "HazardProgressed"]
    assert hazard["risk_level"] == "medium" and hazard["case_ref"].startswith("HZ-")
    assert [f["text"] for f in hazard["personal"]["facts"]][1] == {"step": "班会已开展"}
    assert "ChangeApproved" in [e["event_type"] for e in school["timeline"]]


async def test_filters_and_pages(world: World) -> None:
    c, hdr, names = world.client, world.headers["bureau"], {v: k for k, v in world.cases.items()}

    async def listed(**params: Any) -> set[str]:
        r = await c.get("/v1/cases", params={"limit": 200, **params}, headers=hdr)
        assert r.status_code == 200, r.text
        return {names[uuid.UUID(i["case_id"])] for i in r.json()["items"]}

    assert await listed(kind="hazard") == {"hazard"}
    assert await listed(flag="wide_public_attention") == {"wide"}
    assert await listed(level=world.decisions["severe"].level.value) >= {"severe"}
    assert await listed(referred_to_police="true") == world.expected("police")
    assert await listed(school="far-school") == set()  # another jurisdiction's school: filtered, not widened
    assert await listed(status="open") == world.expected("bureau") and await listed(status="closed") == set()
    today = world.clock.now.date()
    assert await listed(**{"from": (today - timedelta(days=1)).isoformat()}) == world.expected("bureau")
    assert await listed(to=(today - timedelta(days=2)).isoformat()) == set()
    assert await listed(overdue="true") == set()
    minor = world.decisions["minor"]
    await publish(world.settings.nats_url, DeadlineMissed(
        event_id=uuid.uuid4(), incident_id=minor.incident_id, obligation_id=uuid.uuid4(), action_id="notify_school",
        role=RecipientRole.school, state="pending", due_at=world.clock.now, step=1, escalated_to="bureau"))
    assert await eventually(lambda: listed(overdue="true")) == {"minor"}

    pages: list[str] = []
    order: list[datetime] = []
    cursor = None
    while True:
        r = (await c.get("/v1/cases", params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                         headers=hdr)).json()
        pages += [i["case_id"] for i in r["items"]]
        order += [datetime.fromisoformat(i["reported_at"]) for i in r["items"]]
        if not (cursor := r["next_cursor"]):
            break
    assert len(pages) == len(set(pages)) == len(world.expected("bureau")) and order == sorted(order, reverse=True)
    bad = await c.get("/v1/cases", params={"cursor": "nonsense"}, headers=hdr)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


async def test_every_read_is_logged_once_with_its_purpose_in_one_chain(world: World) -> None:
    c, pool, severe = world.client, world.infra.pool, world.cases["severe"]
    before = await _log_length(pool)
    bureau = {"Authorization": world.headers["bureau"]["Authorization"]}
    r = await c.get(f"/v1/cases/{severe}", params={"purpose": "核查迟报原因"}, headers=bureau)
    assert r.status_code == 200 and await _log_length(pool) == before + 1
    await c.get("/v1/cases", params={"kind": "incident"}, headers={**bureau, "X-Access-Purpose": "monthly ledger"})
    await c.get(f"/v1/cases/{severe}", headers=world.headers["school-far"])  # outside its scope: 404, logged
    entries = await repository.whole_access_log(pool)
    assert len(entries) == before + 3 and first_broken_access(entries) is None
    detail, listing, denied = entries[-3:]
    assert (detail.account_id, detail.role, detail.action, detail.case_id, detail.purpose, detail.outcome) == (
        "bureau", "bureau", "detail", severe, "核查迟报原因", "ok")
    assert (listing.action, listing.filter, listing.purpose) == ("list", {"kind": "incident", "limit": 50},
                                                                 "monthly ledger")
    assert (denied.account_id, denied.outcome) == ("school-far", "not_found")

    logged = (await c.get("/v1/access-log", params={"case_id": str(severe)}, headers=world.headers["bureau"])).json()
    # newest first: this very read of the log, then the reads above
    assert [(e["account_id"], e["action"], e["purpose"]) for e in logged["items"][:3]] == [
        ("bureau", "access_log", "test reading"), ("school-far", "detail", "test reading"),
        ("bureau", "detail", "核查迟报原因")]
    assert all(e["case_id"] == str(severe) for e in logged["items"])
    assert await _log_length(pool) == before + 4  # reading the log is a read too
    far = (await c.get("/v1/access-log", headers=world.headers["bureau-far"])).json()
    assert far["items"] and {e["account_id"] for e in far["items"]} <= {"school-far", "bureau-far"}
    assert "bureau" not in {e["account_id"] for e in far["items"]}

    # the service's role may not change the log at all; its owner is stopped by the trigger
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pool.execute("UPDATE access_log SET purpose = 'x' WHERE seq = 1")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pool.execute("DELETE FROM access_log WHERE seq = $1", before + 1)
    owner = await owner_connection(world.settings)
    try:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await owner.execute("UPDATE access_log SET purpose = 'x' WHERE seq = 1")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await owner.execute("DELETE FROM access_log WHERE seq = $1", before + 1)
    finally:
        await owner.close()


async def test_a_read_without_a_purpose_is_refused_and_not_logged(world: World) -> None:
    c, pool = world.client, world.infra.pool
    token = {"Authorization": world.headers["bureau"]["Authorization"]}
    before = await _log_length(pool)
    for path in ("/v1/cases", f"/v1/cases/{world.cases['severe']}", "/v1/access-log"):
        for extra, params in (({}, {}), ({"X-Access-Purpose": "x"}, {}), ({}, {"purpose": "  "})):
            r = await c.get(path, headers={**token, **extra}, params=params)
            assert r.status_code == 422, (path, r.text)
            body = r.json()
            assert body["error"] == "purpose_required" and "查阅目的" in body["errors"][0]["reason_zh"]
            assert body["errors"][0]["field"] in ("query.purpose", "header.X-Access-Purpose")
    assert await _log_length(pool) == before


async def test_logins_fail_lock_and_expire_without_naming_anyone(world: World,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    c = world.client
    caplog.set_level(logging.INFO)
    assert (await c.get("/v1/cases", headers=world.headers["police"])).status_code == 200
    world.clock.now += timedelta(seconds=61)  # past ARCHIVE_TOKEN_TTL_S
    expired = await c.get("/v1/cases", headers=world.headers["police"])
    assert expired.status_code == 401 and expired.json()["error"] == "unauthorized"

    form = await c.post("/v1/auth/token", data={"username": "police", "password": PASSWORD, "grant_type": "password"})
    assert form.status_code == 200 and form.json()["official"]["role"] == "police"
    wrong = await c.post("/v1/auth/token", json={"username": "police", "password": "guessed-password-1"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_credentials" and wrong.json()["message_zh"]
    nobody = await c.post("/v1/auth/token", json={"username": "no-such-official", "password": "guessed-password-1"})
    assert (nobody.status_code, nobody.json()) == (401, wrong.json())
    assert (await c.post("/v1/auth/token", json={"username": "police"})).status_code == 422

    for _ in range(2):  # ARCHIVE_LOGIN_MAX_FAILURES = 3 in a row locks the name
        await c.post("/v1/auth/token", json={"username": "police", "password": "guessed-password-2"})
    locked = await c.post("/v1/auth/token", json={"username": "police", "password": PASSWORD})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    world.clock.now += timedelta(seconds=world.settings.archive_login_lock_s + 1)
    assert (await c.post("/v1/auth/token", json={"username": "police", "password": PASSWORD})).status_code == 200

    assert name_digest("police")[:12] in caplog.text  # failures are logged, by the name's hash only
    for secret in ("no-such-official", "guessed-password", PASSWORD, '"police"', "account police"):
        assert secret not in caplog.text
    assert (await c.get("/metrics")).status_code == 404  # only on the internal port (issue 14)
    metrics = (await c.get(f"http://127.0.0.1:{world.settings.archive_metrics_port}/metrics")).text
    # wrong, nobody, one more wrong; the third wrong in a row locks (429), as does the right password then
    assert 'antibully_archive_login_failures_total{reason="wrong_credentials"} 3.0' in metrics
    assert 'antibully_archive_login_failures_total{reason="locked"} 2.0' in metrics

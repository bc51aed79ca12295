"""GET /v1/duties on the archive (escalation and archive on real JetStream and PostgreSQL, the archive's clock
moved by the test): each role sees the duties of the cases in its scope; filters by school, role, action, state,
due window and "overdue now"; a cursor that pages through without loss or repeat; every read logged; and the ledger's
"overdue now" beside "ever late"."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.archive.app import running as archive_running
from services.archive.ledger import month_of
from services.escalation.app import running as escalation_running
from services.intake.reports import reported_event
from shared.config import Settings
from shared.contracts import IncidentReport
from tests.helpers import eventually, official_headers, publish, report
from tests.test_archive_reads import ACCOUNTS, MINOR, Clock, directory_file


@dataclass
class World:
    client: httpx.AsyncClient
    clock: Clock
    esc: Any
    cases: dict[str, uuid.UUID]
    t0: datetime
    headers: dict[str, dict[str, str]]


@pytest.fixture
async def world(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    # no pseudonym key: the same example students in every report would make each a repeat (and severe)
    settings = settings.model_copy(update={"directory_file": directory_file(tmp_path), "watchdog_interval_s": 3600.0,
                                           "archive_token_ttl_s": 90 * 86400, "pseudonym_key": ""})
    clock = Clock()
    async with escalation_running(settings) as esc, archive_running(settings, clock=clock) as archive, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10) as client:
        bodies = {"severe": report(), "minor": report(**MINOR), "wide": report(**{**MINOR, "public_attention": "wide"}),
                  "far": report(school_id="far-school")}
        cases = {}
        for name, body in bodies.items():
            event = reported_event(IncidentReport.model_validate(body), f"duty-list-{name}")
            await publish(settings.nats_url, event)
            cases[name] = event.incident_id
        t0 = event.occurred_at  # reported one after the other: within a second of each other

        async def projected() -> bool:
            want = await esc.pool.fetchval("SELECT count(*) FROM obligations")
            have = await archive.pool.fetchval("SELECT count(*) FROM duties")
            reported = await archive.pool.fetchval("SELECT count(*) FROM cases WHERE kind = 'incident'")
            return bool(want and want == have and reported == 4)

        await eventually(projected, timeout_s=30)
        headers = {account: await official_headers(client, settings.database_url, account, role=role,
                                                   jurisdiction=jurisdiction, school=school)
                   for account, (role, jurisdiction, school) in ACCOUNTS.items()}
        yield World(client, clock, esc, cases, t0, headers)


async def _all(w: World, account: str, **params: Any) -> list[dict[str, Any]]:
    r = await w.client.get("/v1/duties", params={"limit": 200, **params}, headers=w.headers[account])
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return list(r.json()["items"])


async def _cases_of(w: World, account: str, **params: Any) -> set[str]:
    names = {v: k for k, v in w.cases.items()}
    return {names.get(uuid.UUID(d["case_id"]), "lookback") for d in await _all(w, account, **params)}


async def test_each_role_sees_the_duties_of_its_cases(world: World) -> None:
    w = world
    assert await _cases_of(w, "bureau") == {"severe", "minor", "wide", "lookback"}
    assert await _cases_of(w, "school-a") == {"severe", "minor", "wide", "lookback"}
    assert await _cases_of(w, "bureau-far") == {"far", "lookback"}  # far-school's own look-back
    assert await _cases_of(w, "school-far") == {"far", "lookback"}
    assert await _cases_of(w, "police") == {"severe", "wide"}  # only incidents referred to the police
    assert await _cases_of(w, "stability") == {"wide"}  # only cases of wide public attention
    # every duty escalation holds for those cases is listed (all states), none twice
    severe = [d for d in await _all(w, "police", state="all") if d["case_id"] == str(w.cases["severe"])]
    want = await w.esc.pool.fetchval("SELECT count(*) FROM obligations WHERE incident_id = $1", w.cases["severe"])
    assert len(severe) == len({d["obligation_id"] for d in severe}) == want
    assert all(d["case_ref"] == "AB-" + w.cases["severe"].hex[:8].upper() for d in severe)
    # a filter narrows, never widens
    assert await _cases_of(w, "school-a", school="far-school") == set()
    assert await _cases_of(w, "police", school="demo-school") == {"severe", "wide"}
    assert (await w.client.get("/v1/duties", headers={"X-Access-Purpose": "no token"})).status_code == 401


async def test_filters_and_the_cursor(world: World) -> None:
    w = world
    everything = await _all(w, "bureau", state="all")
    assert [(d["due_at"], d["obligation_id"]) for d in everything] == sorted(
        (d["due_at"], d["obligation_id"]) for d in everything)
    counselling = await _all(w, "bureau", action="counselling")
    assert {(d["action_id"], d["student_ref"], d["role"]) for d in counselling} == {("counselling", "S-1042",
                                                                                    "school")}
    assert len(counselling) == 3  # one victim in each of the three lechang reports
    police = await _all(w, "bureau", role="police")
    assert {d["action_id"] for d in police} == {"contact_police"} and len(police) == 2  # severe and wide (serious)
    bureau_owes = await _all(w, "bureau", role="bureau")
    assert {"report_to_bureau", "special_school_assessment", "lookback_review"} <= {d["action_id"]
                                                                                   for d in bureau_owes}
    assert await _all(w, "bureau", state="settled") == [] and await _all(w, "bureau", state="done") == []
    cut = w.t0 + timedelta(hours=3)
    before = await _all(w, "bureau", due_before=cut.isoformat())
    after = await _all(w, "bureau", due_after=cut.isoformat())
    assert before and after and len(before) + len(after) == len(everything)
    assert all(datetime.fromisoformat(d["due_at"]) < cut for d in before)
    naive = (cut + timedelta(hours=8)).replace(tzinfo=None).isoformat()  # the same instant in Asia/Shanghai
    assert await _all(w, "bureau", due_before=naive) == before

    # pages of 4 give the same duties, in the same order, as one page
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 4, "state": "all", **({"cursor": cursor} if cursor else {})}
        page = (await w.client.get("/v1/duties", params=params, headers=w.headers["bureau"])).json()
        seen += [d["obligation_id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [d["obligation_id"] for d in everything]
    bad = await w.client.get("/v1/duties", params={"cursor": "nonsense"}, headers=w.headers["bureau"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
    wrong_state = await w.client.get("/v1/duties", params={"state": "closed"}, headers=w.headers["bureau"])
    assert wrong_state.status_code == 422


async def test_overdue_now_follows_the_clock_and_every_read_is_logged(world: World) -> None:
    w = world
    w.clock.now = w.t0 + timedelta(minutes=1)
    assert await _all(w, "bureau", overdue="true") == []
    w.clock.now = w.t0 + timedelta(minutes=20)  # the police had 15 minutes (severe); nothing else is due yet
    [police] = await _all(w, "bureau", overdue="true")
    assert (police["action_id"], police["state"], police["overdue"], police["ever_late"]) == (
        "contact_police", "open", True, False)
    assert await _cases_of(w, "police", overdue="true") == {"severe"}
    assert await _cases_of(w, "stability", overdue="true") == set()
    not_overdue = await _all(w, "bureau", overdue="false")
    assert police["obligation_id"] not in {d["obligation_id"] for d in not_overdue}
    # the watchdog moves the current deadline on; the duty stays overdue (from its first deadline) and is now late
    assert await w.esc.watchdog.tick(w.t0 + timedelta(minutes=16)) >= 1

    async def escalated() -> list[dict[str, Any]] | None:
        got = await _all(w, "bureau", overdue="true")
        return got if got and got[0]["missed"] == 1 else None

    [moved] = await eventually(escalated)
    assert moved["due_at"] > moved["first_due_at"] and moved["overdue"] and moved["ever_late"]
    w.clock.now = w.t0 + timedelta(days=30)
    assert {d["action_id"] for d in await _all(w, "school-a", overdue="true")} >= {
        "counselling", "quality_evaluation_note", "notify_victim_family", "lookback_review"}

    log = (await w.client.get("/v1/access-log", params={"limit": 500}, headers=w.headers["bureau"])).json()
    reads = [e for e in log["items"] if e["action"] == "duties" and e["account_id"] == "police"]
    assert reads and {"overdue": True, "state": "open", "limit": 200} in [e["filter"] for e in reads]
    no_purpose = await w.client.get("/v1/duties", headers={"Authorization": w.headers["bureau"]["Authorization"]})
    assert no_purpose.status_code == 422 and no_purpose.json()["error"] == "purpose_required"


async def test_the_ledger_separates_overdue_now_from_ever_late(world: World) -> None:
    w = world
    month = month_of(w.t0)
    period = {"from": month, "to": month, "school": "demo-school"}

    async def totals() -> dict[str, int]:
        r = await w.client.get("/v1/ledger", params=period, headers=w.headers["bureau"])
        assert r.status_code == 200, r.text
        return {k: r.json()["schools"][0]["totals"][k] for k in ("incidents", "overdue_now", "overdue")}

    w.clock.now = w.t0 + timedelta(minutes=1)
    assert await totals() == {"incidents": 3, "overdue_now": 0, "overdue": 0}
    w.clock.now = w.t0 + timedelta(minutes=20)  # the severe case's police notice is overdue, not yet escalated
    assert await totals() == {"incidents": 3, "overdue_now": 1, "overdue": 0}
    await w.esc.watchdog.tick(w.t0 + timedelta(minutes=16))

    async def ever_late() -> dict[str, int] | None:
        got = await totals()
        return got if got["overdue"] == 1 else None

    assert await eventually(ever_late) == {"incidents": 3, "overdue_now": 1, "overdue": 1}
    summary = (await w.client.get("/v1/ledger/summary", params=period, headers=w.headers["school-a"])).json()
    severe_ref = "AB-" + w.cases["severe"].hex[:8].upper()
    why = {a["case_ref"]: a["attention"] for a in summary["attention"]}
    assert why[severe_ref] == ["overdue_now", "overdue", "late_report"]  # the example was reported late, too
    assert "逾期未办（当前）1 件，曾逾期 1 件" in summary["report_zh"]
    csv_text = (await w.client.get("/v1/ledger.csv", params=period, headers=w.headers["bureau"])).content
    header, total = csv_text.decode("utf-8-sig").splitlines()[:2]
    cells = dict(zip(header.split(","), total.split(","), strict=True))
    assert (cells["逾期未办（当前）"], cells["曾逾期"]) == ("1", "1")

    # the police confirm from their account: no longer overdue now; it stays "ever late"
    [police] = [d for d in await _all(w, "police", overdue="true")]
    ack = await w.client.post(f"/v1/cases/{police['case_id']}/acknowledgements",
                              json={"notification_id": police["notification_id"]}, headers=w.headers["police"])
    assert ack.status_code == 202, ack.text

    async def confirmed() -> dict[str, int] | None:
        got = await totals()
        return got if got["overdue_now"] == 0 else None

    assert await eventually(confirmed) == {"incidents": 3, "overdue_now": 0, "overdue": 1}

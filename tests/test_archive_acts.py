"""Officials' acts through the archive's API, applied by escalation: two bureau officials lower a level;
the bureau reports a look-back done. Real NATS and PostgreSQL, escalation and archive running."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.archive.app import running as archive_running
from services.escalation.app import running as escalation_running
from services.intake.reports import follow_up_event, reported_event
from shared.config import Settings
from shared.contracts import IncidentReport
from shared.contracts.base import derive_id
from shared.contracts.follow_up import FollowUp
from tests.helpers import eventually, official_headers, publish, report

SERIOUS = {"injury": "minor", "violence": False, "weapon": False, "group": False,
           "repeated_after_education": False, "suspected_crime": False, "public_attention": "none"}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    quiet = settings.model_copy(update={"watchdog_interval_s": 3600.0})
    async with escalation_running(quiet), archive_running(quiet), httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{quiet.archive_port}", timeout=10) as c:
        yield c


async def _record(client: httpx.AsyncClient, headers: dict[str, str], case_id: uuid.UUID,
                  has: str) -> dict[str, Any] | None:
    r = await client.get(f"/v1/cases/{case_id}", headers=headers)
    if r.status_code != 200 or has not in {e["event_type"] for e in r.json()["timeline"]}:
        return None
    return dict(r.json())


async def test_two_bureau_officials_lower_a_level_through_the_api(client: httpx.AsyncClient,
                                                                  settings: Settings) -> None:
    db = settings.database_url
    wang = await official_headers(client, db, "bureau-wang")
    li = await official_headers(client, db, "bureau-li")
    school = await official_headers(client, db, "school-head", role="school", school="demo-school")
    event = reported_event(IncidentReport.model_validate(report()), "acts-1")  # severe
    await publish(settings.nats_url, event)
    await eventually(lambda: _record(client, wang, event.incident_id, "EscalationDecided"))
    follow_up_id = derive_id("fu-acts", event.incident_id)
    await publish(settings.nats_url, follow_up_event(event.incident_id, "demo-school", follow_up_id, 1,
                                                     FollowUp.model_validate({"indicators": SERIOUS})))
    record = await eventually(lambda: _record(client, wang, event.incident_id, "ChangeProposed"))
    [proposal] = [e["summary"] for e in record["timeline"] if e["event_type"] == "ChangeProposed"]
    assert (proposal["change"], proposal["proposed_level"]) == ("lower", "serious")

    body = {"follow_up_id": str(follow_up_id), "change": "lower", "comment": "经核实，同意降级。"}
    url = f"/v1/cases/{event.incident_id}/approvals"
    assert (await client.post(url, json=body, headers=school)).status_code == 403  # a school cannot
    unknown = await client.post(url, json={**body, "change": "closure"}, headers=wang)
    assert unknown.status_code == 404 and unknown.json()["error"] == "no_such_proposal"
    assert (await client.post(url, json={**body, "change": "upgrade"}, headers=wang)).status_code == 422
    first = await client.post(url, json=body, headers=wang)
    again = await client.post(url, json=body, headers=wang)  # the same official twice counts once
    assert first.status_code == again.status_code == 202 and first.json()["event_id"] == again.json()["event_id"]
    await eventually(lambda: _record(client, wang, event.incident_id, "ChangeApproved"))
    still = await client.get(f"/v1/cases/{event.incident_id}", headers=wang)
    assert still.json()["level"] == "severe"  # one official is not enough

    assert (await client.post(url, json=body, headers=li)).status_code == 202
    async def lowered() -> dict[str, Any] | None:
        got = await _record(client, li, event.incident_id, "ChangeResolved")
        return got if got and got["level"] == "serious" else None  # projection and entries: read apart

    done = await eventually(lowered)
    [resolved] = [e["summary"] for e in done["timeline"] if e["event_type"] == "ChangeResolved"]
    assert resolved["outcome"] == "applied" and resolved["approvers"] == ["bureau-wang", "bureau-li"]
    late = await client.post(url, json=body, headers=li)
    assert late.status_code == 409 and late.json()["error"] == "already_resolved"


async def test_the_bureau_reports_a_look_back_done(client: httpx.AsyncClient, settings: Settings) -> None:
    wang = await official_headers(client, settings.database_url, "bureau-wang")
    event = reported_event(IncidentReport.model_validate(report()), "acts-2")
    await publish(settings.nats_url, event)

    async def lookback() -> str | None:
        r = await client.get("/v1/cases", params={"kind": "lookback"}, headers=wang)
        items = r.json()["items"] if r.status_code == 200 else []
        return items[0]["case_id"] if items else None

    lookback_id = await eventually(lookback)
    r = await client.post(f"/v1/cases/{lookback_id}/completion", json={"findings": "已复查，整改到位。"}, headers=wang)
    assert r.status_code == 202
    async def closed() -> dict[str, Any] | None:
        # the record's projection and its entries are read one after the other: wait for both
        got = await _record(client, wang, uuid.UUID(lookback_id), "LookBackCompleted")
        return got if got and got["status"] == "closed" else None

    done = await eventually(closed)
    assert [e["summary"] for e in done["timeline"] if e["event_type"] == "LookBackCompleted"] == [
        {"school_id": "demo-school", "by": "bureau-wang", "has_findings": True}]
    wrong_kind = await client.post(f"/v1/cases/{event.incident_id}/completion", json={}, headers=wang)
    assert wrong_kind.status_code == 404

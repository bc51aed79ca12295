"""Discharging notices (intake, escalation and archive on real JetStream and PostgreSQL): a school reads its own
duties with its API key and marks a family told in person or by phone (also after a failed notice); an official
confirms a notice from their account — only its reader's role, within scope, once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from antibully.cli import add_school
from services.archive.app import running as archive_running
from services.escalation.app import running as escalation_running
from services.intake.app import running as intake_running
from shared.config import Settings
from shared.contracts import NotificationFailed, RecipientRole
from shared.contracts.base import derive_id
from tests.helpers import eventually, official_headers, publish, report
from tests.test_archive_reads import directory_file

TOLD = {"how": "in_person", "by": "班主任", "done_at": "2026-11-28T18:30:00+08:00",
        "note": "家长到校，班主任当面告知处理情况。"}


@dataclass
class Doors:
    intake: httpx.AsyncClient
    archive: httpx.AsyncClient
    keys: dict[str, str]
    settings: Settings
    esc: Any
    officials: dict[str, dict[str, str]]

    def school(self, school: str = "demo-school", idem: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[school]}", **({"Idempotency-Key": idem} if idem else {})}


@pytest.fixture
async def doors(settings: Settings, tmp_path: Path) -> AsyncIterator[Doors]:
    settings = settings.model_copy(update={"directory_file": directory_file(tmp_path), "watchdog_interval_s": 3600.0})
    async with escalation_running(settings) as esc, archive_running(settings), intake_running(settings), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.intake_port}", timeout=10) as intake, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10) as archive:
        keys = {s: await add_school(settings.database_url, s, s) for s in ("demo-school", "far-school")}
        db = settings.database_url
        officials = {"bureau": await official_headers(archive, db, "bureau-wang"),
                     "police": await official_headers(archive, db, "police-zhao", role="police"),
                     "stability": await official_headers(archive, db, "stability-qian", role="stability_office"),
                     "school": await official_headers(archive, db, "school-head", role="school",
                                                      school="demo-school")}
        yield Doors(intake, archive, keys, settings, esc, officials)


async def _report(d: Doors, idem: str) -> uuid.UUID:
    r = await d.intake.post("/v1/incidents", json=report(), headers=d.school(idem=idem))
    assert r.status_code == 202, r.text
    return uuid.UUID(r.json()["incident_id"])


async def _school_duties(d: Doors, case_id: uuid.UUID, **params: Any) -> list[dict[str, Any]]:
    r = await d.intake.get("/v1/duties", params=params, headers=d.school())
    assert r.status_code == 200, r.text
    return [x for x in r.json()["items"] if x["case_id"] == str(case_id)]


async def _archived(d: Doors, case_id: uuid.UUID, obligation_id: str, state: str) -> dict[str, Any] | None:
    r = await d.archive.get(f"/v1/cases/{case_id}", headers=d.officials["bureau"])
    if r.status_code != 200:
        return None
    found = [x for x in r.json()["duties"] if x["obligation_id"] == obligation_id and x["state"] == state]
    return {**found[0], "record": r.json()} if found else None


async def test_a_school_marks_a_family_told_in_person(doors: Doors) -> None:
    d = doors
    case_id = await _report(d, "tell-family-0001")
    want = await eventually(lambda: d.esc.pool.fetchval("SELECT count(*) FROM obligations WHERE incident_id = $1",
                                                        case_id))

    async def listed() -> list[dict[str, Any]] | None:
        got = await _school_duties(d, case_id)
        return got if len(got) == want else None

    duties = await eventually(listed, timeout_s=30)
    assert {x["state"] for x in duties} == {"open"} and all(not x["overdue"] for x in duties)
    assert [x["due_at"] for x in duties] == sorted(x["due_at"] for x in duties)
    [counselling] = [x for x in duties if x["action_id"] == "counselling"]
    assert (counselling["student_ref"], counselling["role"], counselling["label_zh"]) == (
        "S-1042", "school", "对受害学生开展心理辅导")
    # another school's key sees none of it, and cannot act on it
    far = await d.intake.get("/v1/duties", params={"state": "all"}, headers=d.school("far-school"))
    assert far.status_code == 200 and str(case_id) not in far.text
    [victim_family] = [x for x in duties if x["action_id"] == "notify_victim_family"]
    [police] = [x for x in duties if x["action_id"] == "contact_police"]
    url = f"/v1/duties/{victim_family['obligation_id']}/discharge"
    assert (await d.intake.post(url, json=TOLD, headers=d.school("far-school", "tell-far-0001"))).status_code == 403
    not_family = await d.intake.post(f"/v1/duties/{police['obligation_id']}/discharge", json=TOLD,
                                     headers=d.school(idem="tell-police-0001"))
    assert not_family.status_code == 403 and not_family.json()["error"] == "forbidden"
    unknown = await d.intake.post(f"/v1/duties/{uuid.uuid4()}/discharge", json=TOLD,
                                  headers=d.school(idem="tell-unknown-01"))
    assert unknown.status_code == 404
    bad = await d.intake.post(url, json={**TOLD, "how": "official_account"}, headers=d.school(idem="tell-bad-001"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "how"

    first = await d.intake.post(url, json=TOLD, headers=d.school(idem="tell-family-0002"))
    again = await d.intake.post(url, json=TOLD, headers=d.school(idem="tell-family-0002"))
    assert first.status_code == again.status_code == 202, first.text
    assert again.headers.get("Idempotent-Replayed") == "true" and first.json() == again.json()
    reused = await d.intake.post(url, json={**TOLD, "how": "phone"}, headers=d.school(idem="tell-family-0002"))
    assert reused.status_code == 409 and reused.json()["error"] == "idempotency_key_reused"

    told = await eventually(lambda: _archived(d, case_id, victim_family["obligation_id"], "acknowledged"))
    assert (told["how"], told["settled_by"], told["overdue"], told["has_note"]) == (
        "in_person", "school:demo-school:班主任", False, True)
    assert datetime.fromisoformat(told["settled_at"]) == datetime.fromisoformat(TOLD["done_at"])
    assert told["record"]["personal"]["duty_notes"] == [
        {"obligation_id": victim_family["obligation_id"], "note": TOLD["note"]}]
    discharged = [e for e in told["record"]["timeline"] if e["event_type"] == "DutyDischarged"]
    assert [e["summary"]["how"] for e in discharged] == ["in_person"]

    async def intake_sees_it() -> list[dict[str, Any]] | None:
        got = [x for x in await _school_duties(d, case_id, state="all")
               if x["obligation_id"] == victim_family["obligation_id"] and x["state"] == "acknowledged"]
        return got or None

    await eventually(intake_sees_it)
    assert victim_family["obligation_id"] not in {x["obligation_id"] for x in await _school_duties(d, case_id)}
    twice = await d.intake.post(url, json=TOLD, headers=d.school(idem="tell-family-0003"))
    assert twice.status_code == 409 and twice.json()["error"] == "already_settled"


async def test_a_failed_notice_to_a_family_is_met_by_a_phone_call(doors: Doors) -> None:
    d = doors
    case_id = await _report(d, "tell-family-0010")

    async def family_notices() -> list[dict[str, Any]] | None:
        got = [x for x in await _school_duties(d, case_id) if x["action_id"] == "notify_perpetrator_family"]
        return got if len(got) == 2 else None

    notice = (await eventually(family_notices, timeout_s=30))[0]
    await publish(d.settings.nats_url, NotificationFailed(
        event_id=derive_id("test-failed", notice["notification_id"]), incident_id=case_id,
        notification_id=uuid.UUID(notice["notification_id"]), role=RecipientRole.perpetrator_guardian,
        channel="sms", reason="no_contact", attempts=1, tried=[]))
    await eventually(lambda: _archived(d, case_id, notice["obligation_id"], "failed"))
    r = await d.intake.post(f"/v1/duties/{notice['obligation_id']}/discharge",
                            json={"how": "phone", "by": "年级组长", "done_at": TOLD["done_at"]},
                            headers=d.school(idem="tell-phone-0001"))
    assert r.status_code == 202, r.text
    told = await eventually(lambda: _archived(d, case_id, notice["obligation_id"], "acknowledged"))
    assert (told["how"], told["settled_by"], told["has_note"]) == ("phone", "school:demo-school:年级组长", False)


async def test_an_official_confirms_a_notice_from_their_account(doors: Doors) -> None:
    d = doors
    case_id = await _report(d, "confirm-notice-01")

    async def notices() -> dict[str, dict[str, Any]] | None:
        r = await d.archive.get(f"/v1/cases/{case_id}", headers=d.officials["bureau"])
        got = {x["action_id"]: x for x in r.json()["duties"]} if r.status_code == 200 else {}
        return got if {"contact_police", "report_to_bureau"} <= set(got) else None

    duties = await eventually(notices, timeout_s=30)
    police_notice = {"notification_id": duties["contact_police"]["notification_id"]}
    url = f"/v1/cases/{case_id}/acknowledgements"
    school = await d.archive.post(url, json=police_notice, headers=d.officials["school"])
    assert school.status_code == 403  # a school account confirms nothing here
    wrong_role = await d.archive.post(url, json=police_notice, headers=d.officials["bureau"])
    assert wrong_role.status_code == 403 and "接收方" in wrong_role.json()["message_zh"]
    out_of_scope = await d.archive.post(url, json=police_notice, headers=d.officials["stability"])
    assert out_of_scope.status_code == 404  # not a case of wide public attention: as if unknown
    unknown = await d.archive.post(url, json={"notification_id": str(uuid.uuid4())}, headers=d.officials["police"])
    assert unknown.status_code == 404 and unknown.json()["error"] == "no_such_notice"
    unknown_case = await d.archive.post(f"/v1/cases/{uuid.uuid4()}/acknowledgements", json=police_notice,
                                        headers=d.officials["police"])
    assert unknown_case.status_code == 404 and unknown_case.json()["error"] == "not_found"
    assert (await d.archive.post(url, json={}, headers=d.officials["police"])).status_code == 422

    ok = await d.archive.post(url, json=police_notice, headers=d.officials["police"])
    assert ok.status_code == 202, ok.text
    done = await eventually(lambda: _archived(d, case_id, duties["contact_police"]["obligation_id"], "acknowledged"))
    assert (done["how"], done["settled_by"]) == ("official_account", "police-zhao")
    [recipient] = [x for x in done["record"]["recipients"]
                   if x["notification_id"] == police_notice["notification_id"]]
    assert recipient["status"] == "acknowledged"
    again = await d.archive.post(url, json=police_notice, headers=d.officials["police"])
    assert again.status_code == 409 and again.json()["error"] == "already_acknowledged"
    bureau = await d.archive.post(url, json={"notification_id": duties["report_to_bureau"]["notification_id"]},
                                  headers=d.officials["bureau"])
    assert bureau.status_code == 202
    await eventually(lambda: _archived(d, case_id, duties["report_to_bureau"]["obligation_id"], "acknowledged"))

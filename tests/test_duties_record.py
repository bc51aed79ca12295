"""Every duty in the record, and discharged by the one generic way of its kind: escalation and archive running on
real JetStream and PostgreSQL. A severe report lists every duty with its deadline; a follow-up's `completed`
closes any task the policy names (the quality-evaluation note included) with who, how and evidence; a lower level
applied by two bureau officials makes what it no longer requires not applicable."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.archive.app import running as archive_running
from services.escalation.app import running as escalation_running
from services.intake.reports import follow_up_event, reported_event
from shared.config import Settings
from shared.contracts import IncidentReport, IncidentReported
from shared.contracts.base import derive_id, utcnow
from shared.contracts.duties import DischargeHow, DutyDischarged
from shared.contracts.follow_up import FollowUp
from shared.contracts.officials import ChangeApproved
from shared.service import Infra
from tests.helpers import default_policy, eventually, official_headers, publish, report

SERIOUS = {"injury": "minor", "violence": False, "weapon": False, "group": False,
           "repeated_after_education": False, "suspected_crime": False, "public_attention": "none"}
SEVERE_ACTIONS = {"notify_victim_family", "notify_perpetrator_family", "notify_school", "report_to_bureau",
                  "contact_police", "notify_counsellor", "counselling", "criticism_and_warning_talk",
                  "disciplinary_sanction", "quality_evaluation_note", "special_school_assessment", "send_follow_up"}
NOTE = "已在学生综合素质评价中如实记录（李小明事件）"


@dataclass
class Running:
    client: httpx.AsyncClient
    archive: Infra
    escalation: Any
    settings: Settings
    headers: dict[str, dict[str, str]]


@pytest.fixture
async def running(settings: Settings) -> AsyncIterator[Running]:
    quiet = settings.model_copy(update={"watchdog_interval_s": 3600.0})
    async with escalation_running(quiet) as esc, archive_running(quiet) as archive, httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{quiet.archive_port}", timeout=10) as client:
        db = quiet.database_url
        headers = {"bureau": await official_headers(client, db, "bureau-wang"),
                   "bureau-li": await official_headers(client, db, "bureau-li"),
                   "police": await official_headers(client, db, "police-zhao", role="police"),
                   "stability": await official_headers(client, db, "stability-qian", role="stability_office"),
                   "school": await official_headers(client, db, "school-head", role="school", school="demo-school")}
        yield Running(client, archive, esc, quiet, headers)


async def _reported(r: Running, key: str, **changes: Any) -> IncidentReported:
    event = reported_event(IncidentReport.model_validate(report(**changes)), key)
    await publish(r.settings.nats_url, event)
    return event


async def _versions(r: Running, case_id: uuid.UUID) -> dict[uuid.UUID, int]:
    rows = await r.escalation.pool.fetch("SELECT obligation_id, version FROM obligations WHERE incident_id = $1",
                                         case_id)
    return {row["obligation_id"]: row["version"] for row in rows}


async def _duties(r: Running, case_id: uuid.UUID, who: str = "bureau") -> list[dict[str, Any]] | None:
    """The record's duties once the archive has projected every version escalation has made."""
    got = await r.client.get(f"/v1/cases/{case_id}", headers=r.headers[who])
    if got.status_code != 200:
        return None
    duties = got.json()["duties"]
    want = await _versions(r, case_id)
    have = {uuid.UUID(d["obligation_id"]): d["version"] for d in duties}
    return duties if want and have == want else None


def _by_action(duties: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for d in duties:
        out.setdefault(d["action_id"], []).append(d)
    return out


async def test_the_record_lists_every_duty_with_its_deadline(running: Running) -> None:
    r = running
    event = await _reported(r, "duties-record-1")  # severe
    duties = await eventually(lambda: _duties(r, event.incident_id), timeout_s=30)
    policy = default_policy()
    by_action = _by_action(duties)
    assert set(by_action) == SEVERE_ACTIONS
    assert len(by_action["notify_perpetrator_family"]) == 2  # one notice per perpetrator's guardian
    assert [d["student_ref"] for d in by_action["counselling"]] == ["S-1042"]  # per victim, by the school's ref
    for action_id, items in by_action.items():
        action = policy.action(action_id)
        due_in = action.deadline["severe"] if action else policy.timing.follow_up_every
        for d in items:
            assert d["due_at"] == d["first_due_at"]
            assert abs((_at(d["due_at"]) - event.occurred_at) - due_in) < timedelta(seconds=1), action_id
            assert (d["state"], d["overdue"], d["ever_late"], d["missed"]) == ("open", False, False, 0)
            assert d["label_zh"] == (action.zh if action else "按时续报处置进展")
            assert d["role"] == (action.role.value if action else "school")
    assert [d["due_at"] for d in duties] == sorted(d["due_at"] for d in duties)  # by due date
    assert {d["kind"] for d in by_action["quality_evaluation_note"]} == {"task"}
    police_notice = by_action["contact_police"][0]
    assert police_notice["notification_id"] and police_notice["ack_required"] is True
    # the police see the duties of a case referred to them; the stability office does not see the case at all
    police = (await r.client.get(f"/v1/cases/{event.incident_id}", headers=r.headers["police"])).json()
    assert {d["obligation_id"] for d in police["duties"]} == {d["obligation_id"] for d in duties}
    assert (await r.client.get(f"/v1/cases/{event.incident_id}", headers=r.headers["stability"])).status_code == 404
    # the chain holds every version; the timeline leaves them out
    record = (await r.client.get(f"/v1/cases/{event.incident_id}", headers=r.headers["bureau"])).json()
    assert "DutyUpdated" not in {e["event_type"] for e in record["timeline"]}
    assert record["chain"]["length"] > len(record["timeline"]) and record["chain"]["valid"] is True


def _at(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)


async def test_a_follow_up_reports_any_task_done(running: Running) -> None:
    r = running
    event = await _reported(r, "duties-record-2")
    await eventually(lambda: _duties(r, event.incident_id), timeout_s=30)
    follow_up = FollowUp.model_validate({
        "sanctions": [{"student_ref": "S-1077", "measure": "警告处分", "decided_at": "2026-11-29T10:00:00+08:00"}],
        "completed": [
            {"action": "quality_evaluation_note", "done_at": "2026-11-30T10:00:00+08:00", "note": NOTE,
             "evidence": {"kind": "document", "reference": "综评记录 2026-031"}},
            {"action": "counselling", "student_ref": "S-1042", "done_at": "2026-11-29T09:00:00+08:00"},
            {"action": "special_school_assessment", "done_at": "2026-11-30T10:00:00+08:00"},  # the bureau's
            {"action": "no_such_action", "done_at": "2026-11-30T10:00:00+08:00"},  # recorded only
        ]})
    await publish(r.settings.nats_url, follow_up_event(event.incident_id, "demo-school",
                                                      derive_id("fu-duties", event.incident_id), 1, follow_up))

    async def settled() -> list[dict[str, Any]] | None:
        duties = await _duties(r, event.incident_id)
        return duties if duties and _by_action(duties)["quality_evaluation_note"][0]["state"] == "done" else None

    by_action = _by_action(await eventually(settled, timeout_s=30))
    [note] = by_action["quality_evaluation_note"]
    assert (note["settled_by"], note["how"], note["evidence_ref"], note["has_note"]) == (
        "school:demo-school", "follow_up", "综评记录 2026-031", True)
    assert note["settled_at"].startswith("2026-11-30T02:00:00")  # when it was done, not when it was reported
    assert by_action["counselling"][0]["state"] == "done"
    assert by_action["disciplinary_sanction"][0]["state"] == "done"  # the older field keeps working
    assert by_action["special_school_assessment"][0]["state"] == "open"  # a school cannot discharge the bureau's
    assert by_action["criticism_and_warning_talk"][0]["state"] == "open"
    assert by_action["send_follow_up"][0]["state"] == "done" and len(by_action["send_follow_up"]) == 2
    # the note is free text: shown in the personal section to the roles that see personal data, nowhere else
    bureau = (await r.client.get(f"/v1/cases/{event.incident_id}", headers=r.headers["bureau"])).json()
    assert bureau["personal"]["duty_notes"] == [{"obligation_id": note["obligation_id"], "note": NOTE}]
    police = (await r.client.get(f"/v1/cases/{event.incident_id}", headers=r.headers["police"])).json()
    assert police["personal"]["duty_notes"] == [] and NOTE not in str(police)
    assert NOTE not in str(await r.archive.pool.fetch("SELECT * FROM duties"))
    assert "FollowUpReported" in {e["event_type"] for e in bureau["timeline"]}


async def test_a_lower_level_makes_what_it_no_longer_requires_not_applicable(running: Running) -> None:
    r = running
    event = await _reported(r, "duties-record-3")  # severe
    await eventually(lambda: _duties(r, event.incident_id), timeout_s=30)
    follow_up_id = derive_id("fu-lower-duties", event.incident_id)
    await publish(r.settings.nats_url, follow_up_event(event.incident_id, "demo-school", follow_up_id, 1,
                                                      FollowUp.model_validate({"indicators": SERIOUS})))

    async def proposed() -> bool:
        record = (await r.client.get(f"/v1/cases/{event.incident_id}", headers=r.headers["bureau"])).json()
        return "ChangeProposed" in {e["event_type"] for e in record["timeline"]}

    await eventually(proposed)  # an approval of a proposal escalation has not seen yet counts for nothing
    for approver in ("bureau-wang", "bureau-li"):
        await publish(r.settings.nats_url, ChangeApproved(
            event_id=derive_id("approval", follow_up_id, approver), incident_id=event.incident_id,
            follow_up_id=follow_up_id, change="lower", approver=approver, jurisdiction="lechang"))

    async def lowered() -> list[dict[str, Any]] | None:
        duties = await _duties(r, event.incident_id)
        return duties if duties and _by_action(duties)["quality_evaluation_note"][0]["state"] != "open" else None

    by_action = _by_action(await eventually(lowered, timeout_s=30))
    for action_id in ("quality_evaluation_note", "special_school_assessment"):
        [d] = by_action[action_id]
        assert (d["state"], d["how"], d["settled_by"], d["overdue"]) == ("not_applicable", "level_lowered", "system",
                                                                         False), action_id
    for action_id in ("counselling", "disciplinary_sanction", "criticism_and_warning_talk"):  # serious needs them
        assert by_action[action_id][0]["state"] == "open", action_id
    record = (await r.client.get(f"/v1/cases/{event.incident_id}", headers=r.headers["bureau"])).json()
    assert record["level"] == "serious"


async def test_a_discharge_names_a_task_by_its_duty_or_its_action(running: Running) -> None:
    """The generic event other acts use (the bureau's own task, a task by action id): escalation applies it."""
    r = running
    event = await _reported(r, "duties-record-4")
    by_action = _by_action(await eventually(lambda: _duties(r, event.incident_id), timeout_s=30))
    assessment = by_action["special_school_assessment"][0]
    await publish(r.settings.nats_url, DutyDischarged(
        event_id=derive_id("test-discharge", assessment["obligation_id"]), incident_id=event.incident_id,
        school_id="demo-school", obligation_id=uuid.UUID(assessment["obligation_id"]),
        how=DischargeHow.official_account, by="bureau-wang", done_at=utcnow(),
        evidence_ref="教育局评估意见 2026-07"))
    await publish(r.settings.nats_url, DutyDischarged(
        event_id=derive_id("test-discharge", event.incident_id, "talk"), incident_id=event.incident_id,
        school_id="demo-school", action_id="criticism_and_warning_talk", how=DischargeHow.follow_up,
        by="school:demo-school", done_at=utcnow()))
    await publish(r.settings.nats_url, DutyDischarged(  # names no duty of this case: recorded, nothing changes
        event_id=derive_id("test-discharge", "nothing"), incident_id=event.incident_id, school_id="demo-school",
        obligation_id=uuid.uuid4(), how=DischargeHow.phone, by="school:demo-school:班主任", done_at=utcnow()))

    async def done() -> dict[str, list[dict[str, Any]]] | None:
        duties = await _duties(r, event.incident_id)
        got = _by_action(duties) if duties else {}
        return got if got and {got[a][0]["state"] for a in ("special_school_assessment",
                                                             "criticism_and_warning_talk")} == {"done"} else None

    by_action = await eventually(done, timeout_s=30)
    [assessed] = by_action["special_school_assessment"]
    assert (assessed["settled_by"], assessed["how"], assessed["evidence_ref"]) == (
        "bureau-wang", "official_account", "教育局评估意见 2026-07")
    assert by_action["criticism_and_warning_talk"][0]["settled_by"] == "school:demo-school"
    assert all(d["state"] == "open" for a, items in by_action.items() for d in items
               if a not in ("special_school_assessment", "criticism_and_warning_talk"))

    async def all_recorded() -> bool:
        record = (await r.client.get(f"/v1/cases/{event.incident_id}", headers=r.headers["bureau"])).json()
        return [e["event_type"] for e in record["timeline"]].count("DutyDischarged") == 3

    await eventually(all_recorded)

"""The same perpetrator in an earlier incident or hazard raises the level, with the earlier cases named:
within a school by its refs, across schools by the national student number, which only intake ever
sees; escalation keeps keyed pseudonyms only (real JetStream and PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest

from services.archive.bus_sections import BusSections
from services.escalation.app import running
from services.intake.examples import HAZARD_EXAMPLE_BODY
from services.intake.person_keys import person_key
from services.intake.reports import reported_event
from shared.config import Settings
from shared.contracts import EscalationDecided, IncidentReport, IncidentReported, Level
from shared.contracts.base import derive_id
from shared.contracts.hazard import HazardFinding, HazardReported
from shared.subjects import ESCALATION, ESCALATION_DECIDED
from tests.conftest import Intake
from tests.helpers import decide_report, eventually, exactly, publish, report, stream_messages

MINOR = {"injury": "none", "violence": False, "weapon": False, "group": False,
         "repeated_after_education": False, "suspected_crime": False, "public_attention": "none"}


@pytest.mark.pure
def test_earlier_cases_mean_repeated_after_education() -> None:
    from datetime import timedelta

    from services.escalation.domain import decide
    from tests.helpers import default_policy

    body = IncidentReport.model_validate(report(**MINOR))
    plain = decide_report(report(**MINOR))
    repeat = decide(body, default_policy(), body.discovered_at + timedelta(hours=1), earlier_cases=("AB-1", "HZ-2"))
    assert (plain.level, repeat.level) == (Level.minor, Level.severe)
    assert {"repeated_after_education", "earlier_cases"} <= {r.code for r in repeat.reasons}
    assert "AB-1、HZ-2" in {r.code: r.zh for r in repeat.reasons}["earlier_cases"]


async def _decisions(url: str, n: int) -> list[EscalationDecided] | None:
    async def read() -> list[EscalationDecided]:
        return [EscalationDecided.model_validate_json(m.data)
                for m in await stream_messages(url, ESCALATION.name) if m.subject == ESCALATION_DECIDED]
    return await exactly(read(), n)


async def test_repeat_in_the_same_school_raises_the_level(settings: Settings) -> None:
    async with running(settings) as esc:
        first = reported_event(IncidentReport.model_validate(report(**MINOR)), "repeat-1")
        await publish(settings.nats_url, first)
        await eventually(lambda: _decisions(settings.nats_url, 1))
        other_school = reported_event(IncidentReport.model_validate(report(**MINOR, school_id="other-school")), "r-2")
        again = reported_event(IncidentReport.model_validate(report(**MINOR)), "repeat-3")
        await publish(settings.nats_url, other_school)
        await eventually(lambda: _decisions(settings.nats_url, 2))
        await publish(settings.nats_url, again)
        decided = {d.incident_id: d for d in await eventually(lambda: _decisions(settings.nats_url, 3))}
        assert decided[first.incident_id].level == Level.minor
        assert decided[other_school.incident_id].level == Level.minor  # refs are per school
        repeat = decided[again.incident_id]
        assert repeat.level == Level.severe
        reasons = {r.code: r.zh for r in repeat.reasons}
        assert "AB-" + first.incident_id.hex[:8].upper() in reasons["earlier_cases"]
        stored = await esc.pool.fetch("SELECT pseudonym, case_ref FROM student_cases")
        assert stored and all(len(bytes(r["pseudonym"])) == 32 for r in stored)
        assert not [r for r in stored if b"S-1077" in bytes(r["pseudonym"])]


async def test_a_student_involved_in_a_hazard_then_perpetrating_is_a_repeat(settings: Settings) -> None:
    async with running(settings) as esc:
        finding = HazardFinding.model_validate({**HAZARD_EXAMPLE_BODY, "students": [
            {"ref": "S-1077", "role": "involved"}]})
        hazard_id = uuid.uuid4()
        await publish(settings.nats_url, HazardReported(event_id=derive_id("hz", hazard_id), hazard_id=hazard_id,
                                                        school_id="demo-school", finding=finding))
        incident = reported_event(IncidentReport.model_validate(report(**MINOR)), "after-hazard")

        await eventually(lambda: esc.pool.fetchval("SELECT count(*) FROM student_cases"))
        await publish(settings.nats_url, incident)
        [decided] = await eventually(lambda: _decisions(settings.nats_url, 1))
        assert decided.level == Level.severe
        assert "HZ-" + hazard_id.hex[:8].upper() in {r.code: r.zh for r in decided.reasons}["earlier_cases"]



async def test_the_national_student_number_never_leaves_intake(intake: Intake) -> None:
    body = report()
    body["students"][1]["national_id"] = "G440281201001011234"
    r = await intake.client.post("/v1/incidents", json=body, headers=intake.headers("national-1"))
    assert r.status_code == 202, r.text
    [stored] = await stream_messages(intake.settings.nats_url, "AB_REPORTS")
    assert b"440281201001011234" not in stored.data
    event = IncidentReported.model_validate_json(stored.data)
    # the rules' facts carry the person key; the sealed report (the archive's) has no national number either
    assert event.report is None and event.facts.students[1].person_key == person_key(
        intake.settings.pseudonym_key, "G440281201001011234")
    kept = BusSections(intake.settings.archive_bus_private_key).for_record(event)
    assert isinstance(kept, IncidentReported) and kept.report is not None
    assert kept.report.students[1].national_id is None
    body["students"][0]["person_key"] = "0" * 64
    refused = await intake.client.post("/v1/incidents", json=body, headers=intake.headers("national-2"))
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "students.0.person_key"


async def test_the_same_student_at_another_school_is_a_repeat(settings: Settings) -> None:
    key = person_key(settings.pseudonym_key, "G440281201001011234")

    def with_key(school: str, ref: str, idem: str) -> IncidentReported:
        body = report(**MINOR, school_id=school)
        body["students"][1].update(ref=ref, person_key=key)
        return reported_event(IncidentReport.model_validate(body), idem)

    async with running(settings):
        first = with_key("demo-school", "S-1077", "cross-1")
        await publish(settings.nats_url, first)
        await eventually(lambda: _decisions(settings.nats_url, 1))
        await publish(settings.nats_url, with_key("other-school", "T-0042", "cross-2"))
        decided = await eventually(lambda: _decisions(settings.nats_url, 2))
        later = next(d for d in decided if d.school_id == "other-school")
        assert later.level == Level.severe
        assert "AB-" + first.incident_id.hex[:8].upper() in {r.code: r.zh for r in later.reasons}["earlier_cases"]


async def test_a_hazard_at_one_school_and_an_incident_at_another_are_linked_by_national_number(
    intake: Intake, settings: Settings
) -> None:
    number = "G440281201001011234"
    finding = {**HAZARD_EXAMPLE_BODY, "students": [{"ref": "S-2001", "role": "involved", "national_id": number}]}
    r = await intake.client.post("/v1/hazards", json=finding, headers=intake.headers("hazard-national-1"))
    assert r.status_code == 202, r.text
    [stored] = await stream_messages(settings.nats_url, "AB_REPORTS")
    assert number[1:].encode() not in stored.data  # the number stayed at intake's door
    hazard = HazardReported.model_validate_json(stored.data)
    assert hazard.facts.students[0].person_key == person_key(settings.pseudonym_key, number)
    sent = {**finding, "students": [{"ref": "S-2001", "role": "involved", "person_key": "0" * 64}]}
    refused = await intake.client.post("/v1/hazards", json=sent, headers=intake.headers("hazard-national-2"))
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "students.0.person_key"

    async with running(settings) as esc:
        await eventually(lambda: esc.pool.fetchval("SELECT count(*) FROM student_cases"))
        body = report(**MINOR, school_id="other-school")
        body["students"][1].update(ref="T-0099", person_key=person_key(settings.pseudonym_key, number))
        await publish(settings.nats_url, reported_event(IncidentReport.model_validate(body), "after-hazard-x"))
        [decided] = await eventually(lambda: _decisions(settings.nats_url, 1))
        assert decided.level == Level.severe  # involved in a hazard elsewhere, now perpetrating: a repeat
        assert "HZ-" + hazard.hazard_id.hex[:8].upper() in {r.code: r.zh for r in decided.reasons}["earlier_cases"]

"""Follow-ups that change the persons of an incident, at intake's door (real JetStream and PostgreSQL):
students added under new refs only, their national numbers replaced by pseudonyms, guardians corrected
only for students the incident has; each refusal names the field."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from services.archive.bus_sections import BusSections
from services.intake.examples import FOLLOW_UP_PERSONS_EXAMPLE_BODY
from services.intake.person_keys import person_key
from services.intake.persons import check_persons
from shared.contracts.follow_up import FollowUp, FollowUpReported
from shared.errors import ApiError
from shared.subjects import FOLLOW_UP_REPORTED, REPORTS
from tests.conftest import Intake
from tests.helpers import report, stream_messages


def _persons(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(FOLLOW_UP_PERSONS_EXAMPLE_BODY)
    body.update(changes)
    return body


async def _incident(intake: Intake, idem: str) -> str:
    r = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers(idem))
    assert r.status_code == 202, r.text
    return str(r.json()["incident_id"])


async def _follow_ups(intake: Intake) -> list[FollowUpReported]:
    return [FollowUpReported.model_validate_json(m.data)
            for m in await stream_messages(intake.settings.nats_url, REPORTS.name) if m.subject == FOLLOW_UP_REPORTED]


async def test_a_follow_up_adds_a_student_and_corrects_guardians(intake: Intake) -> None:
    incident = await _incident(intake, "persons-incident")
    url = f"/v1/incidents/{incident}/follow-ups"
    body = _persons()
    body["students_added"][0]["national_id"] = "G440281201001015678"
    first = await intake.client.post(url, json=body, headers=intake.headers("persons-key-1"))
    assert first.status_code == 202, first.text
    again = await intake.client.post(url, json=body, headers=intake.headers("persons-key-1"))  # a retry: replayed
    assert again.status_code == 202 and again.json() == first.json()
    [sealed] = await _follow_ups(intake)
    assert sealed.follow_up is None and [s.ref for s in sealed.facts.students_added] == ["S-1101"]
    assert sealed.facts.students_added[0].guardians  # the new family's contacts, sealed for notify
    event = BusSections(intake.settings.archive_bus_private_key).for_record(sealed)  # as the archive records it
    assert isinstance(event, FollowUpReported) and event.follow_up is not None
    [added] = event.follow_up.students_added
    assert (added.ref, added.role.value, added.national_id) == ("S-1101", "victim", None)
    assert added.person_key == person_key(intake.settings.pseudonym_key, "G440281201001015678")
    [stored] = [m for m in await stream_messages(intake.settings.nats_url, REPORTS.name)
                if m.subject == FOLLOW_UP_REPORTED]
    assert b"440281201001015678" not in stored.data  # the number stayed at intake's door
    assert event.follow_up.guardians_corrected[0].student_ref == "S-1078"


async def test_refs_that_clash_or_are_unknown_are_refused_with_the_field(intake: Intake) -> None:
    incident = await _incident(intake, "clash-incident")
    url = f"/v1/incidents/{incident}/follow-ups"
    taken = _persons(students_added=[{**FOLLOW_UP_PERSONS_EXAMPLE_BODY["students_added"][0], "ref": "S-1042"}],
                     guardians_corrected=[{"student_ref": "S-9999", "guardians": [{"name": "某某", "relation": "母亲",
                                                                                   "phone": "13800000009"}]}])
    r = await intake.client.post(url, json=taken, headers=intake.headers("clash-key-1"))
    assert r.status_code == 422, r.text
    fields = {e["field"]: e["reason_zh"] for e in r.json()["errors"]}
    assert set(fields) == {"students_added.0.ref", "guardians_corrected.0.student_ref"}
    assert "已有使用此编号" in fields["students_added.0.ref"]
    # the refused body fixed, under the same key: accepted (a refusal claims no Idempotency-Key)
    ok = await intake.client.post(url, json=_persons(), headers=intake.headers("clash-key-1"))
    assert ok.status_code == 202, ok.text
    # a student added by one follow-up cannot be added again by another; its guardians can be corrected
    twice = await intake.client.post(url, json=_persons(guardians_corrected=[]), headers=intake.headers("clash-key-2"))
    assert twice.status_code == 422 and twice.json()["errors"][0]["field"] == "students_added.0.ref"
    correct = await intake.client.post(url, json={"guardians_corrected": [
        {"student_ref": "S-1101", "guardians": [{"name": "陈红", "relation": "母亲", "phone": "13800000005"}]}]},
        headers=intake.headers("clash-key-3"))
    assert correct.status_code == 202, correct.text
    sent_key = _persons()
    sent_key["students_added"][0].update(ref="S-1102", person_key="0" * 64)
    refused = await intake.client.post(url, json=sent_key, headers=intake.headers("clash-key-4"))
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "students_added.0.person_key"
    assert len(await _follow_ups(intake)) == 2


@pytest.mark.pure
def test_check_persons_without_known_refs_leaves_it_to_escalation() -> None:
    follow_up = FollowUp.model_validate(_persons())
    check_persons(follow_up, {}, uuid.uuid4())  # an incident from before refs were kept: not checked here
    double = FollowUp.model_validate(_persons(guardians_corrected=[FOLLOW_UP_PERSONS_EXAMPLE_BODY[
        "guardians_corrected"][0]] * 2))
    with pytest.raises(ApiError) as refused:
        check_persons(double, {"S-1078": None}, uuid.uuid4())
    assert [e.field for e in refused.value.errors] == ["guardians_corrected.1.student_ref"]

"""Hazard findings (苗头迹象/隐患点) against a real nats-server and PostgreSQL: single, progress, batch."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from antibully.cli import add_school
from antibully.infra import NatsServer
from services.archive.bus_sections import BusSections
from services.intake.examples import HAZARD_EXAMPLE_BODY, HAZARD_PROGRESS_EXAMPLE_BODY, HAZARDS_CSV_EXAMPLE
from shared.contracts.hazard import HazardProgressed, HazardReported
from shared.subjects import HAZARD_PROGRESSED, HAZARD_REPORTED, REPORTS
from tests.conftest import Intake
from tests.helpers import stream_messages


def finding(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(HAZARD_EXAMPLE_BODY)
    body.update(changes)
    return body


async def reported(intake: Intake) -> list[HazardReported]:
    return [HazardReported.model_validate_json(m.data)
            for m in await stream_messages(intake.settings.nats_url, REPORTS.name) if m.subject == HAZARD_REPORTED]


def keys_in(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()


async def test_a_finding_is_accepted_once(intake: Intake) -> None:
    first = await intake.client.post("/v1/hazards", json=finding(), headers=intake.headers("hazard-key-1"))
    again = await intake.client.post("/v1/hazards", json=finding(), headers=intake.headers("hazard-key-1"))
    other = await intake.client.post("/v1/hazards", json=finding(risk_level="high"),
                                     headers=intake.headers("hazard-key-1"))
    assert (first.status_code, again.status_code, other.status_code) == (202, 202, 409), first.text
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    stored = await stream_messages(intake.settings.nats_url, REPORTS.name)
    assert len(stored) == 1 and stored[0].subject == HAZARD_REPORTED
    event = HazardReported.model_validate_json(stored[0].data)
    assert str(event.hazard_id) == str(event.case_id) == first.json()["hazard_id"]
    assert stored[0].headers and stored[0].headers["Nats-Msg-Id"] == str(event.event_id)
    # what was seen and done travels sealed for the archive; the rules' facts in clear
    assert event.finding is None and event.facts.risk_level.value == HAZARD_EXAMPLE_BODY["risk_level"]
    assert HAZARD_EXAMPLE_BODY["observed"].encode() not in stored[0].data
    kept = BusSections(intake.settings.archive_bus_private_key).for_record(event)
    assert isinstance(kept, HazardReported) and kept.finding is not None
    assert kept.finding.rectification.responsible == "初一(2)班班主任"


async def test_a_key_reports_hazards_only_for_its_own_school(intake: Intake) -> None:
    other_key = await add_school(intake.settings.database_url, "other-school", "另一所学校")
    r = await intake.client.post("/v1/hazards", json=finding(), headers=intake.headers(key=other_key))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert await stream_messages(intake.settings.nats_url, REPORTS.name) == []


async def test_findings_carry_refs_never_names(intake: Intake) -> None:
    named = finding(students=[{"ref": "S-2031", "role": "at_risk", "name": "张小红"}])
    r = await intake.client.post("/v1/hazards", json=named, headers=intake.headers("named-key-1"))
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["students.0.name"]
    assert "张小红" not in r.text
    as_ref = await intake.client.post("/v1/hazards", json=finding(students=[{"ref": "张小红", "role": "involved"}]),
                                      headers=intake.headers("named-key-2"))
    assert as_ref.status_code == 422 and "张小红" not in as_ref.text
    ok = await intake.client.post("/v1/hazards", json=finding(), headers=intake.headers("named-key-3"))
    batch = await intake.client.post("/v1/hazards/batch", json=[finding()], headers=intake.headers())
    assert ok.status_code == 202 and batch.json()["accepted"] == 1
    events = await reported(intake)
    assert len(events) == 2 and all("name" not in keys_in(e.model_dump()) for e in events)


async def test_due_date_and_time_rules(intake: Intake) -> None:
    early = finding(rectification={**HAZARD_EXAMPLE_BODY["rectification"], "due_date": "2026-11-24"})
    r = await intake.client.post("/v1/hazards", json=early, headers=intake.headers("due-key-1"))
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["rectification"]
    future = await intake.client.post("/v1/hazards", json=finding(found_at="2099-01-01T08:00:00+08:00"),
                                      headers=intake.headers("due-key-2"))
    assert future.status_code == 422 and future.json()["errors"][0]["reason_zh"] == "时间不得晚于当前时间"


async def test_progress_is_numbered_and_only_for_the_owning_school(intake: Intake) -> None:
    hazard = (await intake.client.post("/v1/hazards", json=finding(), headers=intake.headers("pg-hazard"))).json()
    url = f"/v1/hazards/{hazard['hazard_id']}/progress"
    done = {"at": "2026-11-28T09:00:00+08:00", "step": "已加装监控，整改完成。", "completed": True}
    first = await intake.client.post(url, json=HAZARD_PROGRESS_EXAMPLE_BODY, headers=intake.headers("progress-1"))
    second = await intake.client.post(url, json=done, headers=intake.headers("progress-2"))
    again = await intake.client.post(url, json=HAZARD_PROGRESS_EXAMPLE_BODY, headers=intake.headers("progress-1"))
    assert (first.status_code, second.status_code, again.status_code) == (202, 202, 202), first.text
    assert (first.json()["seq"], second.json()["seq"], again.json()["seq"]) == (1, 2, 1)
    assert first.json()["hazard_id"] == hazard["hazard_id"] and first.json() == again.json()
    events = [HazardProgressed.model_validate_json(m.data)
              for m in await stream_messages(intake.settings.nats_url, REPORTS.name) if m.subject == HAZARD_PROGRESSED]
    assert [(str(e.case_id), e.seq, e.facts.completed) for e in events] == [
        (hazard["hazard_id"], 1, False), (hazard["hazard_id"], 2, True)]

    other_key = await add_school(intake.settings.database_url, "other-school", "另一所学校")
    foreign = await intake.client.post(url, json=done, headers=intake.headers("progress-3", key=other_key))
    unknown = await intake.client.post(f"/v1/hazards/{uuid.uuid4()}/progress", json=done,
                                       headers=intake.headers("progress-4"))
    assert (foreign.status_code, unknown.status_code) == (403, 404)


async def test_json_batch_answers_per_row(intake: Intake) -> None:
    rows = [
        finding(client_ref="ROW-1"),
        finding(client_ref=None, risk_level="extreme"),
        finding(client_ref="ROW-3", kind="hazard_point", students=[]),
        finding(client_ref="ROW-1"),
        finding(client_ref="ROW-5", school_id="other-school"),
        "not a row",
    ]
    r = await intake.client.post("/v1/hazards/batch", json=rows, headers={"Authorization": f"Bearer {intake.key}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"], body["unavailable"]) == (2, 4, 0)
    assert [(x["row"], x["client_ref"], x["status"]) for x in body["rows"]] == [
        (1, "ROW-1", "accepted"), (2, None, "rejected"), (3, "ROW-3", "accepted"), (4, "ROW-1", "rejected"),
        (5, "ROW-5", "rejected"), (6, None, "rejected")]
    assert {e["field"] for e in body["rows"][1]["errors"]} == {"client_ref", "risk_level"}
    assert [e["field"] for e in body["rows"][3]["errors"]] == ["client_ref"]
    assert [e["field"] for e in body["rows"][4]["errors"]] == ["school_id"]
    assert all(e["reason_zh"] for x in body["rows"][1:2] for e in x["errors"])
    events = await reported(intake)
    assert sorted(e.facts.client_ref or "" for e in events) == ["ROW-1", "ROW-3"]
    assert {str(e.hazard_id) for e in events} == {body["rows"][0]["hazard_id"], body["rows"][2]["hazard_id"]}


async def test_csv_upload_with_bom_and_reupload(intake: Intake) -> None:
    bad = ("PC-2026-016,demo-school,2026-11-26T15:00:00+08:00,early_sign,S-7:witness,见到推搡。,low,已提醒。,"
           "跟进观察。,2026-11-01,班主任\n")
    sheet = ("\ufeff" + HAZARDS_CSV_EXAMPLE + "\n" + bad).encode("utf-8")
    r = await intake.client.post("/v1/hazards/batch.csv", content=sheet, headers=intake.csv_headers())
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert [(x["row"], x["client_ref"], x["status"]) for x in body["rows"]] == [
        (1, "PC-2026-014", "accepted"), (2, "PC-2026-015", "accepted"), (4, "PC-2026-016", "rejected")]
    assert {e["field"] for e in body["rows"][2]["errors"]} == {"student_refs", "due_date"}
    events = await reported(intake)
    assert [e.facts.client_ref for e in events] == ["PC-2026-014", "PC-2026-015"]
    assert [(s.ref, s.role) for s in events[0].facts.students] == [
        ("S-2031", "at_risk"), ("S-2045", "involved"), ("S-2046", "involved")]

    again = await intake.client.post("/v1/hazards/batch.csv", content=sheet, headers=intake.csv_headers())
    assert again.status_code == 200 and again.json() == body  # same ids; JetStream dedupes the publishes
    assert len(await reported(intake)) == 2
    archive = BusSections(intake.settings.archive_bus_private_key)
    findings = [archive.for_record(e).finding for e in events]  # type: ignore[attr-defined]
    json_too = await intake.client.post("/v1/hazards/batch", json=[f.model_dump(mode="json") for f in findings],
                                        headers=intake.csv_headers() | {"Content-Type": "application/json"})
    assert [x["hazard_id"] for x in json_too.json()["rows"]] == [x["hazard_id"] for x in body["rows"][:2]]

    changed = HAZARDS_CSV_EXAMPLE.replace(",medium,", ",high,").encode("utf-8")
    r2 = await intake.client.post("/v1/hazards/batch.csv", content=changed, headers=intake.csv_headers())
    assert [x["status"] for x in r2.json()["rows"]] == ["rejected", "accepted"]
    assert r2.json()["rows"][0]["errors"][0]["field"] == "client_ref"
    hazard_id = body["rows"][0]["hazard_id"]
    progress = await intake.client.post(f"/v1/hazards/{hazard_id}/progress", json=HAZARD_PROGRESS_EXAMPLE_BODY,
                                        headers=intake.headers("csv-progress-1"))
    assert progress.status_code == 202 and progress.json()["seq"] == 1


async def test_sheets_that_cannot_be_read(intake: Intake) -> None:
    gbk = await intake.client.post("/v1/hazards/batch.csv", content=HAZARDS_CSV_EXAMPLE.encode("gbk"),
                                   headers=intake.csv_headers())
    assert gbk.status_code == 422 and gbk.json()["error"] == "invalid_csv" and "UTF-8" in gbk.json()["message_zh"]
    named = HAZARDS_CSV_EXAMPLE.replace("responsible\n", "responsible,student_name\n", 1)
    header = await intake.client.post("/v1/hazards/batch.csv", content=named.encode(), headers=intake.csv_headers())
    assert header.status_code == 422 and "student_name" not in header.text
    plain = await intake.client.post("/v1/hazards/batch.csv", content=HAZARDS_CSV_EXAMPLE.encode(),
                                     headers={"Authorization": f"Bearer {intake.key}", "Content-Type": "text/plain"})
    assert plain.status_code == 415
    head = HAZARDS_CSV_EXAMPLE.splitlines()[0]
    many = await intake.client.post("/v1/hazards/batch.csv", content=(head + "\nx\n" * 501).encode(),
                                    headers=intake.csv_headers())
    many_json = await intake.client.post("/v1/hazards/batch", json=[{}] * 501, headers=intake.headers())
    assert many.status_code == many_json.status_code == 413 and many.json()["error"] == "too_many_rows"
    unauthenticated = await intake.client.post("/v1/hazards/batch.csv", content=b"x",
                                               headers={"Content-Type": "text/csv"})
    assert unauthenticated.status_code == 401
    assert await stream_messages(intake.settings.nats_url, REPORTS.name) == []


async def test_batch_is_503_when_no_row_could_be_made_durable(intake: Intake, nats_server: NatsServer) -> None:
    nats_server.stop()
    r = await intake.client.post("/v1/hazards/batch.csv", content=HAZARDS_CSV_EXAMPLE.encode(),
                                 headers=intake.csv_headers())
    assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0


async def test_openapi_documents_every_hazard_body(intake: Intake) -> None:
    spec = (await intake.client.get("/openapi.json")).json()
    paths = spec["paths"]
    csv_body = paths["/v1/hazards/batch.csv"]["post"]["requestBody"]["content"]["text/csv"]
    assert csv_body["example"] == HAZARDS_CSV_EXAMPLE
    batch = paths["/v1/hazards/batch"]["post"]["requestBody"]["content"]["application/json"]
    assert batch["schema"]["items"]["$ref"].rsplit("/", 1)[1] in spec["components"]["schemas"]
    assert batch["examples"]["sheet"]["value"][0] == HAZARD_EXAMPLE_BODY
    for path in ("/v1/hazards", "/v1/hazards/{hazard_id}/progress"):
        assert paths[path]["post"]["requestBody"]["content"]["application/json"]["examples"]

"""intake against a real nats-server and PostgreSQL: what a school's system sees."""

from __future__ import annotations

import json
import uuid

import httpx

from antibully.cli import add_key, add_school, revoke_key
from antibully.infra import NatsServer, free_port
from services.intake.app import running
from services.intake.examples import FOLLOW_UP_EXAMPLE_BODY
from shared.config import Settings
from shared.contracts import IncidentReported
from shared.contracts.follow_up import FollowUpReported
from shared.subjects import FOLLOW_UP_REPORTED, REPORTS
from tests.conftest import Intake
from tests.helpers import eventually, report, stream_messages


async def test_accepted_report_is_in_jetstream(intake: Intake) -> None:
    r = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers())
    assert r.status_code == 202, r.text
    incident_id = r.json()["incident_id"]
    stored = await stream_messages(intake.settings.nats_url, REPORTS.name)
    assert len(stored) == 1
    event = IncidentReported.model_validate_json(stored[0].data)
    assert str(event.incident_id) == incident_id
    assert stored[0].headers and stored[0].headers["Nats-Msg-Id"] == str(event.event_id)


async def test_same_idempotency_key_same_incident(intake: Intake) -> None:
    first = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers("retry-key-1"))
    again = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers("retry-key-1"))
    other = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers("retry-key-2"))
    assert first.status_code == again.status_code == other.status_code == 202
    assert first.json()["incident_id"] == again.json()["incident_id"] != other.json()["incident_id"]
    assert first.json() == again.json()
    assert "Idempotent-Replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    assert len(await stream_messages(intake.settings.nats_url, REPORTS.name)) == 2


async def test_authentication(intake: Intake) -> None:
    no_key = await intake.client.post("/v1/incidents", json=report(), headers={"Idempotency-Key": "idem-0001"})
    assert no_key.status_code == 401
    assert no_key.headers["WWW-Authenticate"] == "Bearer"
    forged = intake.key[:-4] + ("AAAA" if not intake.key.endswith("AAAA") else "BBBB")
    forged_answer = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers(key=forged))
    assert forged_answer.status_code == 401
    garbage = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers(key="nonsense"))
    assert garbage.status_code == 401 and garbage.json()["error"] == "unauthorized"


async def test_a_key_reports_only_for_its_own_school(intake: Intake) -> None:
    other_key = await add_school(intake.settings.database_url, "other-school", "另一所学校")
    r = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers(key=other_key))
    assert r.status_code == 403
    assert r.json()["error"] == "forbidden"
    assert await stream_messages(intake.settings.nats_url, REPORTS.name) == []


async def test_validation_errors_name_the_field(intake: Intake) -> None:
    body = report(occurred_at="2026-11-28T16:40:00", category="fighting")
    body["students"][0]["role"] = "witness"
    r = await intake.client.post("/v1/incidents", json=body, headers=intake.headers())
    assert r.status_code == 422
    fields = {e["field"]: e["reason"] for e in r.json()["errors"]}
    assert "occurred_at" in fields and "timezone" in fields["occurred_at"].lower()
    assert "physical" in fields["category"]
    assert "students.0.role" in fields
    zh = {e["field"]: e["reason_zh"] for e in r.json()["errors"]}
    assert "时区" in zh["occurred_at"] and "physical" in zh["category"] and r.json()["message_zh"]
    assert "李小明" not in r.text  # errors never echo submitted personal data


async def test_missing_idempotency_key_is_a_clear_error(intake: Intake) -> None:
    r = await intake.client.post("/v1/incidents", json=report(), headers={"Authorization": f"Bearer {intake.key}"})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["header.Idempotency-Key"]


async def test_malformed_json(intake: Intake) -> None:
    r = await intake.client.post("/v1/incidents", content=b"{not json", headers={
        **intake.headers(), "Content-Type": "application/json"})
    assert r.status_code == 422


async def test_body_over_the_limit(intake: Intake) -> None:
    body = report(course="很长" * (intake.settings.max_body_bytes // 2))
    r = await intake.client.post("/v1/incidents", content=json.dumps(body).encode(), headers={
        **intake.headers(), "Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"] == "payload_too_large"


async def test_openapi_is_served(intake: Intake) -> None:
    spec = (await intake.client.get("/openapi.json")).json()
    assert "/v1/incidents" in spec["paths"]
    assert (await intake.client.get("/docs")).status_code == 200


async def test_503_while_nats_is_down_then_retry_succeeds_once(
    intake: Intake, nats_server: NatsServer
) -> None:
    nats_server.stop()
    r = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers("outage-key-1"))
    assert r.status_code == 503
    assert int(r.headers["Retry-After"]) > 0
    restarted = NatsServer(nats_server.store_dir, port=nats_server.port, key=nats_server.key, keys=nats_server.keys,
                           admin_password=nats_server.admin_password).start()
    try:
        async def retried() -> httpx.Response | None:
            resp = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers("outage-key-1"))
            return resp if resp.status_code == 202 else None

        ok = await eventually(retried, timeout_s=30, interval_s=0.5)
        assert ok.json()["incident_id"]
        assert len(await stream_messages(intake.settings.nats_url, REPORTS.name)) == 1
    finally:
        restarted.stop()


async def test_accepted_report_survives_a_nats_server_sigkill(intake: Intake, nats_server: NatsServer) -> None:
    r = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers("fsync-key-1"))
    assert r.status_code == 202
    assert nats_server.proc is not None
    nats_server.proc.kill()  # no shutdown, no flush: only what was fsynced before the PubAck survives
    nats_server.proc.wait()
    restarted = NatsServer(nats_server.store_dir, port=nats_server.port, key=nats_server.key, keys=nats_server.keys,
                           admin_password=nats_server.admin_password).start()
    try:
        [stored] = await stream_messages(intake.settings.nats_url, REPORTS.name)
        assert str(IncidentReported.model_validate_json(stored.data).incident_id) == r.json()["incident_id"]
    finally:
        restarted.stop()


async def test_same_key_different_body_is_a_conflict(intake: Intake) -> None:
    first = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers("reuse-key-1"))
    other = await intake.client.post("/v1/incidents", json=report(location="操场"),
                                     headers=intake.headers("reuse-key-1"))
    assert (first.status_code, other.status_code) == (202, 409)
    assert other.json()["error"] == "idempotency_key_reused" and other.json()["message_zh"]
    assert len(await stream_messages(intake.settings.nats_url, REPORTS.name)) == 1


async def test_idempotency_holds_across_a_restart_and_a_second_process(settings: Settings) -> None:
    key = await _school_key(settings)
    second = settings.model_copy(update={"intake_port": free_port()})
    async with running(settings), httpx.AsyncClient(timeout=10) as c:
        r1 = await c.post(f"http://127.0.0.1:{settings.intake_port}/v1/incidents", json=report(),
                          headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "restart-key-1"})
    async with running(settings), running(second), httpx.AsyncClient(timeout=10) as c:
        hdr = {"Authorization": f"Bearer {key}", "Idempotency-Key": "restart-key-1"}
        r2 = await c.post(f"http://127.0.0.1:{settings.intake_port}/v1/incidents", json=report(), headers=hdr)
        r3 = await c.post(f"http://127.0.0.1:{second.intake_port}/v1/incidents", json=report(), headers=hdr)
        r4 = await c.post(f"http://127.0.0.1:{second.intake_port}/v1/incidents", json=report(location="操场"),
                          headers=hdr)
    assert r1.status_code == r2.status_code == r3.status_code == 202
    assert r1.json() == r2.json() == r3.json()
    assert r4.status_code == 409
    assert len(await stream_messages(settings.nats_url, REPORTS.name)) == 1


async def test_follow_ups_are_numbered_and_only_for_the_owning_school(intake: Intake) -> None:
    incident = (await intake.client.post("/v1/incidents", json=report(), headers=intake.headers("fu-incident"))).json()
    url = f"/v1/incidents/{incident['incident_id']}/follow-ups"
    first = await intake.client.post(url, json=FOLLOW_UP_EXAMPLE_BODY, headers=intake.headers("follow-up-1"))
    second = await intake.client.post(url, json={"propose_closure": True, "outcome": "已妥善处理"},
                                      headers=intake.headers("follow-up-2"))
    again = await intake.client.post(url, json=FOLLOW_UP_EXAMPLE_BODY, headers=intake.headers("follow-up-1"))
    assert (first.status_code, second.status_code, again.status_code) == (202, 202, 202), (first.text, second.text)
    assert (first.json()["seq"], second.json()["seq"], again.json()["seq"]) == (1, 2, 1)
    stored = [m for m in await stream_messages(intake.settings.nats_url, REPORTS.name)
              if m.subject == FOLLOW_UP_REPORTED]
    events = [FollowUpReported.model_validate_json(m.data) for m in stored]
    assert [(str(e.incident_id), e.seq) for e in events] == [
        (incident["incident_id"], 1), (incident["incident_id"], 2)]

    other_key = await add_school(intake.settings.database_url, "other-school", "另一所学校")
    foreign = await intake.client.post(url, json=FOLLOW_UP_EXAMPLE_BODY,
                                       headers=intake.headers("follow-up-3", key=other_key))
    assert foreign.status_code == 403
    unknown = await intake.client.post(f"/v1/incidents/{uuid.uuid4()}/follow-ups", json=FOLLOW_UP_EXAMPLE_BODY,
                                       headers=intake.headers("follow-up-4"))
    assert unknown.status_code == 404
    empty = await intake.client.post(url, json={}, headers=intake.headers("follow-up-5"))
    assert empty.status_code == 422 and empty.json()["errors"][0]["reason_zh"] == "续报至少应包含一项内容"


async def test_rate_limit_per_key(settings: Settings) -> None:
    key = await _school_key(settings)
    limited = settings.model_copy(update={"rate_limit_per_s": 1.0, "rate_limit_burst": 3})
    async with running(limited), httpx.AsyncClient(timeout=10) as c:
        answers = [await c.post(f"http://127.0.0.1:{settings.intake_port}/v1/incidents", json=report(),
                                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": f"rl-key-{i}"})
                   for i in range(5)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429]
    assert int(answers[3].headers["Retry-After"]) >= 1 and answers[3].json()["error"] == "rate_limited"


async def test_two_active_keys_and_revocation(intake: Intake) -> None:
    second = await add_key(intake.settings.database_url, "demo-school")
    for i, key in enumerate((intake.key, second)):
        r = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers(f"two-keys-{i}", key=key))
        assert r.status_code == 202
    key_id = second.split("_")[1]
    assert await revoke_key(intake.settings.database_url, key_id)
    revoked = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers("two-keys-3", key=second))
    assert revoked.status_code == 401
    still = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers("two-keys-4"))
    assert still.status_code == 202


async def _school_key(settings: Settings) -> str:
    return await add_school(settings.database_url, "demo-school", "乐昌市示范中学")

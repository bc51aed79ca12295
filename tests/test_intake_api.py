"""intake against a real nats-server and PostgreSQL: what a school's system sees."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from antibully.cli import add_school
from antibully.infra import NatsServer
from services.intake.app import running
from shared.config import Settings
from shared.contracts import IncidentReported
from shared.subjects import INCIDENTS
from tests.helpers import eventually, report, stream_messages


@dataclass
class Intake:
    client: httpx.AsyncClient
    key: str
    settings: Settings

    def headers(self, idem: str = "idem-0001", key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}", "Idempotency-Key": idem}


@pytest.fixture
async def intake(settings: Settings) -> AsyncIterator[Intake]:
    async with running(settings):
        key = await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.intake_port}", timeout=10) as client:
            yield Intake(client, key, settings)


async def test_accepted_report_is_in_jetstream(intake: Intake) -> None:
    r = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers())
    assert r.status_code == 202, r.text
    incident_id = r.json()["incident_id"]
    stored = await stream_messages(intake.settings.nats_url, INCIDENTS.name)
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
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    assert len(await stream_messages(intake.settings.nats_url, INCIDENTS.name)) == 2


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
    assert await stream_messages(intake.settings.nats_url, INCIDENTS.name) == []


async def test_validation_errors_name_the_field(intake: Intake) -> None:
    body = report(occurred_at="2026-11-28T16:40:00", category="fighting")
    body["students"][0]["role"] = "witness"
    r = await intake.client.post("/v1/incidents", json=body, headers=intake.headers())
    assert r.status_code == 422
    fields = {e["field"]: e["reason"] for e in r.json()["errors"]}
    assert "occurred_at" in fields and "timezone" in fields["occurred_at"].lower()
    assert "physical" in fields["category"]
    assert "students.0.role" in fields
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
    restarted = NatsServer(nats_server.store_dir, port=nats_server.port, key=nats_server.key).start()
    try:
        async def retried() -> httpx.Response | None:
            resp = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers("outage-key-1"))
            return resp if resp.status_code == 202 else None

        ok = await eventually(retried, timeout_s=30, interval_s=0.5)
        assert ok.json()["incident_id"]
        assert len(await stream_messages(intake.settings.nats_url, INCIDENTS.name)) == 1
    finally:
        restarted.stop()


async def test_accepted_report_survives_a_nats_server_sigkill(intake: Intake, nats_server: NatsServer) -> None:
    r = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers("fsync-key-1"))
    assert r.status_code == 202
    assert nats_server.proc is not None
    nats_server.proc.kill()  # no shutdown, no flush: only what was fsynced before the PubAck survives
    nats_server.proc.wait()
    restarted = NatsServer(nats_server.store_dir, port=nats_server.port, key=nats_server.key).start()
    try:
        [stored] = await stream_messages(intake.settings.nats_url, INCIDENTS.name)
        assert str(IncidentReported.model_validate_json(stored.data).incident_id) == r.json()["incident_id"]
    finally:
        restarted.stop()

"""archive on real JetStream and PostgreSQL: the record, its chain, its seal and its read API (as the bureau)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.exceptions import InvalidTag

from services.archive.app import running
from services.archive.payloads import Payloads, UnknownKek
from services.escalation.domain import decide
from services.escalation.notices import plan
from services.intake.reports import reported_event
from shared.config import Settings
from shared.contracts import IncidentReport, NotificationDelivered, NotificationFailed
from shared.contracts.base import derive_id
from shared.crypto import Sealer
from shared.directory import load_directory
from shared.service import Infra
from tests.helpers import default_policy, eventually, official_headers, owner_connection, publish, report, tamper


@pytest.fixture
async def archive(settings: Settings) -> AsyncIterator[tuple[Infra, httpx.AsyncClient]]:
    async with running(settings) as infra, httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10
    ) as client:
        client.headers.update(await official_headers(client, settings.database_url, "bureau-reader"))
        yield infra, client


async def _case_flow(url: str, idempotency_key: str = "archive-key") -> tuple[Any, ...]:
    reported = reported_event(IncidentReport.model_validate(report()), idempotency_key)
    decision = decide(reported.facts, default_policy(), reported.occurred_at)
    decided, requests = plan(reported, decision, load_directory(Settings().directory_file))
    delivered = NotificationDelivered(
        event_id=derive_id("d", requests[0].notification_id), incident_id=reported.incident_id,
        notification_id=requests[0].notification_id, role=requests[0].recipient.role, channel="email", attempts=1)
    failed = NotificationFailed(
        event_id=derive_id("f", requests[1].notification_id), incident_id=reported.incident_id,
        notification_id=requests[1].notification_id, role=requests[1].recipient.role, channel="email",
        reason="no_contact", attempts=1)
    # Outcomes first: events from different streams may arrive in any order.
    for event in (delivered, failed, reported, decided, *requests):
        await publish(url, event)
    return reported, decided, requests, delivered, failed


async def _record(client: httpx.AsyncClient, incident_id: object, length: int) -> dict[str, Any] | None:
    r = await client.get(f"/v1/incidents/{incident_id}")
    if r.status_code != 200 or len(r.json()["timeline"]) < length:
        return None
    return dict(r.json())


async def test_record_holds_level_recipients_and_valid_chain(archive: tuple[Infra, httpx.AsyncClient],
                                                             settings: Settings) -> None:
    _, client = archive
    reported, decided, requests, delivered, failed = await _case_flow(settings.nats_url)
    n = 4 + len(requests)
    record = await eventually(lambda: _record(client, reported.incident_id, n))
    assert record["level"] == "severe"
    assert {r["code"] for r in record["reasons"]} == {r.code for r in decided.reasons}
    status = {r["notification_id"]: r["status"] for r in record["recipients"]}
    assert len(status) == len(requests)
    assert status[str(delivered.notification_id)] == "delivered"
    assert status[str(failed.notification_id)] == "failed"
    assert set(list(status.values())) == {"delivered", "failed", "requested"}
    assert record["chain"] == {"valid": True, "length": n, "head": record["timeline"][-1]["hash"],
                               "first_broken_seq": None}
    assert [e["seq"] for e in record["timeline"]] == list(range(1, n + 1))
    # Personal data only in the personal section, opened for the bureau.
    public = {k: v for k, v in record.items() if k != "personal"}
    assert "李小明" not in str(public) and "li.parent" not in str(public)
    assert "李小明" in {s["name"] for s in record["personal"]["students"]}


async def test_duplicate_events_are_appended_once(archive: tuple[Infra, httpx.AsyncClient],
                                                  settings: Settings) -> None:
    infra, client = archive
    reported, *_ = await _case_flow(settings.nats_url)
    await publish(settings.nats_url, reported, msg_id="replayed")
    marker = reported_event(IncidentReport.model_validate(report()), "marker")
    await publish(settings.nats_url, marker)
    await eventually(lambda: _record(client, marker.incident_id, 1))
    count = await infra.pool.fetchval(
        "SELECT count(*) FROM entries WHERE incident_id = $1 AND event_type = 'IncidentReported'",
        reported.incident_id)
    assert count == 1


async def test_entries_are_append_only_and_tampering_is_detected(archive: tuple[Infra, httpx.AsyncClient],
                                                                 settings: Settings) -> None:
    infra, client = archive
    reported, *_, = await _case_flow(settings.nats_url)
    await eventually(lambda: _record(client, reported.incident_id, 2))
    # The service's own role has no right to change the record at all.
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await infra.pool.execute("UPDATE entries SET summary = '{}'::jsonb WHERE incident_id = $1",
                                 reported.incident_id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await infra.pool.execute("DELETE FROM entries WHERE incident_id = $1", reported.incident_id)
    owner = await owner_connection(settings)
    try:
        # The owner is stopped by the trigger; a superuser can get past it, and the chain still tells.
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await owner.execute("DELETE FROM entries WHERE incident_id = $1", reported.incident_id)
        await tamper(owner, "UPDATE entries SET summary = '{\"category\": \"verbal\"}'::jsonb"
                            " WHERE incident_id = $1 AND seq = 2", reported.incident_id)
    finally:
        await owner.close()
    record = (await client.get(f"/v1/incidents/{reported.incident_id}")).json()
    assert record["chain"]["valid"] is False
    assert record["chain"]["first_broken_seq"] == 2


async def test_children_data_is_sealed_at_rest(archive: tuple[Infra, httpx.AsyncClient], settings: Settings) -> None:
    infra, client = archive
    reported, *_ = await _case_flow(settings.nats_url)
    await eventually(lambda: _record(client, reported.incident_id, 1))
    row = await infra.pool.fetchrow(
        "SELECT event_id, payload_ct, summary::text AS summary FROM entries"
        " WHERE incident_id = $1 AND event_type = 'IncidentReported'", reported.incident_id)
    assert row is not None
    for secret in ("李小明", "li.parent@example.cn", "13800000001", "推搡"):
        assert secret.encode() not in bytes(row["payload_ct"]) and secret not in row["summary"]
    async with infra.pool.acquire() as conn:
        opened = await Payloads.from_settings(settings).open_payload(
            conn, reported.incident_id, row["event_id"], bytes(row["payload_ct"]))
        assert opened is not None and "李小明" in opened.decode()
        other_kek = Payloads(b"k" * 32)  # its key id is not the one the case key was wrapped under: refused
        with pytest.raises(UnknownKek):
            await other_kek.open_payload(conn, reported.incident_id, row["event_id"], bytes(row["payload_ct"]))
    # The global key alone no longer opens anything: each case has its own data key.
    with pytest.raises(InvalidTag):
        Sealer(settings.archive_data_key).open(bytes(row["payload_ct"]),
                                               f"{reported.incident_id}:{row['event_id']}".encode())
    record = await _record(client, reported.incident_id, 1)
    assert record is not None and record["personal_data"] == {"status": "sealed", "destroyed_at": None}


async def test_read_api_requires_a_token(archive: tuple[Infra, httpx.AsyncClient]) -> None:
    _, client = archive
    incident = "00000000-0000-0000-0000-000000000001"
    assert (await client.get(f"/v1/incidents/{incident}", headers={"Authorization": ""})).status_code == 401
    wrong = {"Authorization": "Bearer abt_wrong"}
    assert (await client.get(f"/v1/incidents/{incident}", headers=wrong)).status_code == 401
    missing = await client.get(f"/v1/incidents/{incident}")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert (await client.get("/v1/incidents/not-a-uuid")).status_code == 422

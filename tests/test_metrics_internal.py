"""Metrics only on each service's internal port, with bounded labels (issue 14): a flow through all four
services on real NATS, PostgreSQL and SMTP, then every public port answers 404 for /metrics and no label
value on the internal ports holds an id."""

from __future__ import annotations

import re
from contextlib import AsyncExitStack
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from antibully.cli import add_school
from antibully.infra import SmtpSink, free_port
from services.archive.app import running as archive
from services.console.app import running as console
from services.escalation.app import running as escalation
from services.intake.app import running as intake
from services.notify.app import running as notify
from shared.config import Settings
from tests.helpers import eventually, official_headers, report

# A UUID, or any long run of hex digits (a digest, an id without dashes).
ID_LIKE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}", re.I)


def label_values(text: str) -> set[str]:
    return {v for family in text_string_to_metric_families(text) for sample in family.samples
            for v in sample.labels.values()}


async def test_metrics_are_internal_and_their_labels_bounded(settings: Settings, smtp_sink: SmtpSink) -> None:
    ports = {s: free_port() for s in ("intake", "archive", "notify", "escalation", "console")}
    settings = settings.model_copy(update={"console_port": free_port(), "console_dev_mode": True,
                                           **{f"{s}_metrics_port": p for s, p in ports.items()}})
    public = {"intake": settings.intake_port, "archive": settings.archive_port, "notify": settings.notify_port,
              "escalation": settings.escalation_port, "console": settings.console_port}
    async with AsyncExitStack() as stack:
        for running in (intake, escalation, notify, archive, console):
            await stack.enter_async_context(running(settings))  # type: ignore[operator]
        key = await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
        async with httpx.AsyncClient(timeout=10) as client:
            archive_api = f"http://127.0.0.1:{settings.archive_port}"
            async with httpx.AsyncClient(base_url=archive_api, timeout=10) as archive_client:
                bureau = await official_headers(archive_client, settings.database_url, "metrics-bureau")
            posted = await client.post(f"http://127.0.0.1:{settings.intake_port}/v1/incidents", json=report(),
                                       headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "metrics-1"})
            assert posted.status_code == 202, posted.text
            incident_id = posted.json()["incident_id"]

            async def delivered() -> dict[str, Any] | None:
                r = await client.get(f"{archive_api}/v1/incidents/{incident_id}", headers=bureau)
                body = r.json() if r.status_code == 200 else {}
                recipients = body.get("recipients", [])
                return body if recipients and all(x["status"] == "delivered" for x in recipients) else None

            await eventually(delivered, timeout_s=30)
            # a path with an id that matches no route, and one that does
            await client.get(f"http://127.0.0.1:{settings.archive_port}/v1/nowhere/{incident_id}")

            for service, port in public.items():
                r = await client.get(f"http://127.0.0.1:{port}/metrics")
                assert r.status_code == 404, (service, r.status_code)
            texts = {}
            for service, port in ports.items():
                r = await client.get(f"http://127.0.0.1:{port}/metrics")
                assert r.status_code == 200, service
                texts[service] = r.text
    assert "antibully_bus_received_messages_total" in texts["escalation"]  # FastStream's, on the internal port
    assert "antibully_archive_login_failures" in texts["archive"] or "antibully_dependency_up" in texts["archive"]
    for service, text in texts.items():
        assert incident_id not in text, service
        ids = sorted(v for v in label_values(text) if ID_LIKE.search(v))
        assert not ids, (service, ids[:5])

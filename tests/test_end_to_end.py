"""A severe incident through all four services: the right mails, a valid record, one trace."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import httpx
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from antibully.cli import add_school
from antibully.infra import SmtpSink
from services.archive.app import running as archive
from services.escalation.app import running as escalation
from services.intake.app import running as intake
from services.notify.app import running as notify
from shared.config import Settings
from shared.telemetry import make_tracer_provider
from tests.helpers import eventually, official_headers, report

PERSONAL = ["李小明", "王强", "赵磊", "李建国", "王芳", "赵军", "陈老师", "example.cn", "13800000001", "卫生间", "推搡"]
EXPECTED_MAIL = {
    "li.parent@example.cn", "wang.parent@example.cn", "zhao.parent@example.cn",
    "principal@demo-school.example.cn", "counsellor@demo-school.example.cn", "bureau-duty@edu.example.cn",
    "police-liaison@police.example.cn",
}


async def test_severe_incident_end_to_end(settings: Settings, smtp_sink: SmtpSink) -> None:
    exporter = InMemorySpanExporter()
    services = {"intake": intake, "escalation": escalation, "notify": notify, "archive": archive}
    async with AsyncExitStack() as stack:
        for name, running in services.items():
            await stack.enter_async_context(
                running(settings, make_tracer_provider(name, [SimpleSpanProcessor(exporter)]))  # type: ignore[operator]
            )
        key = await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
        async with httpx.AsyncClient(timeout=10) as client:
            archive_api = f"http://127.0.0.1:{settings.archive_port}"
            async with httpx.AsyncClient(base_url=archive_api, timeout=10) as archive_client:
                bureau = await official_headers(archive_client, settings.database_url, "e2e-bureau")
            posted = await client.post(
                f"http://127.0.0.1:{settings.intake_port}/v1/incidents", json=report(),
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "e2e-severe-1"},
            )
            assert posted.status_code == 202, posted.text
            incident_id = posted.json()["incident_id"]

            async def complete() -> dict[str, Any] | None:
                r = await client.get(f"{archive_api}/v1/incidents/{incident_id}", headers=bureau)
                body = r.json() if r.status_code == 200 else {}
                done = len(body.get("timeline", [])) == 16 and all(
                    x["status"] == "delivered" for x in body.get("recipients", []))
                return body if done else None

            record = await eventually(complete, timeout_s=30)

    # The mails: one to each guardian, the school, its counsellor, the bureau and the police.
    everything = await eventually(lambda: _mails(smtp_sink, 8))
    [lookback] = [m for m in everything if m["Subject"].startswith("【回头看】")]
    assert lookback["To"] == "bureau-duty@edu.example.cn"  # the school's first incident: a look-back review
    mails = [m for m in everything if m is not lookback]
    assert sorted(m["To"] for m in mails) == sorted(EXPECTED_MAIL)
    victim_mail = next(m for m in mails if m["To"] == "li.parent@example.cn")
    assert "李小明" in victim_mail.get_content() and "王强" not in victim_mail.get_content()
    police_mail = next(m for m in mails if m["To"] == "police-liaison@police.example.cn")
    assert "情节严重" in police_mail["Subject"] and not any(p in police_mail.get_content() for p in PERSONAL[:6])

    # The record: level, recipients, a timeline of 1 report + 1 decision + 7 requests + 7 deliveries.
    assert record["level"] == "severe"
    assert {r["role"] for r in record["recipients"]} == {
        "victim_guardian", "perpetrator_guardian", "school", "counsellor", "bureau", "police"}
    types = [e["event_type"] for e in record["timeline"]]
    assert types.count("IncidentReported") == types.count("EscalationDecided") == 1
    assert types.count("NotificationRequested") == types.count("NotificationDelivered") == 7
    assert record["chain"]["valid"] is True and len(record["timeline"]) == 16  # and the duties' updates

    # One trace, from the POST through all four services to every archive write.
    spans = exporter.get_finished_spans()
    [post] = [s for s in spans if s.name == "POST /v1/incidents" and s.kind == SpanKind.SERVER]
    assert post.context is not None
    trace_id = post.context.trace_id
    in_trace = [s for s in spans if s.context is not None and s.context.trace_id == trace_id]
    services_seen = {s.resource.attributes["service.name"] for s in in_trace}
    assert services_seen == {"antibully-intake", "antibully-escalation", "antibully-notify", "antibully-archive"}
    # the case's 16 entries, plus the look-back the report caused (scheduled; its notice requested, delivered)
    assert len([s for s in in_trace if s.name == "archive.append"
                and (s.attributes or {}).get("antibully.event_type") != "DutyUpdated"]) == 19
    assert len([s for s in in_trace if s.name == "notify.send"]) == 8
    assert len({s.context.trace_id for s in spans if s.context and s.name == "archive.append"}) == 1

    # No personal data in any span name or attribute.
    for span in spans:
        text = span.name + " " + " ".join(f"{k}={v}" for k, v in (span.attributes or {}).items())
        leaked = [p for p in PERSONAL if p in text]
        assert not leaked, (span.name, leaked)


async def _mails(sink: SmtpSink, n: int) -> list[Any] | None:
    return sink.messages if len(sink.messages) >= n else None

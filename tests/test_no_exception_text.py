"""No exception message from request data in spans or logs (issue 14): an exception whose text quotes the
request (a canary) leaves its kind in the exported spans and the log, never the canary. Over a real HTTP
server (uvicorn with the shared edge) and a real NATS server (FastStream with its telemetry middleware)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, Request
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry

from antibully.infra import NatsServer, free_port
from shared.bus import make_broker
from shared.config import Settings
from shared.http import install_common, serve
from shared.telemetry import make_tracer_provider

CANARY = "张小明-13800001234"


def span_text(spans: tuple[ReadableSpan, ...]) -> str:
    """Everything an exporter sends of these spans, as text."""
    return json.dumps([{"name": s.name, "attributes": dict(s.attributes or {}),
                        "status": s.status.description, "events": [
                            {"name": e.name, "attributes": dict(e.attributes or {})} for e in s.events]}
                       for s in spans], ensure_ascii=False, default=str)


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    yield InMemorySpanExporter()


async def test_an_http_handler_failing_on_request_data(exporter: InMemorySpanExporter,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    provider = make_tracer_provider("canary-http", [SimpleSpanProcessor(exporter)])
    app = FastAPI()
    install_common(app, provider, CollectorRegistry(), 4096)

    @app.post("/v1/things")
    async def things(request: Request) -> dict[str, str]:
        body = await request.json()
        raise ValueError(f"cannot handle {body['name']}")  # an exception that quotes the request

    port = free_port()
    async with serve(app, "127.0.0.1", port), httpx.AsyncClient(timeout=10) as client:
        r = await client.post(f"http://127.0.0.1:{port}/v1/things", json={"name": CANARY})
    assert r.status_code == 500 and r.json()["error"] == "internal_error" and CANARY not in r.text
    spans = exporter.get_finished_spans()
    [server] = [s for s in spans if s.name == "POST /v1/things"]
    assert server.status.status_code is StatusCode.ERROR and server.attributes["error.type"] == "ValueError"
    assert CANARY not in span_text(spans)
    assert "ValueError" in caplog.text and CANARY not in caplog.text


async def test_a_consumer_failing_on_message_data(tmp_path: object, exporter: InMemorySpanExporter,
                                                  caplog: pytest.LogCaptureFixture, nats_server: NatsServer) -> None:
    caplog.set_level(logging.DEBUG)
    provider = make_tracer_provider("canary-bus", [SimpleSpanProcessor(exporter)])
    # no seed: the test server URL's admin, free to use a subject of its own
    broker = make_broker(Settings(nats_url=nats_server.url), provider, CollectorRegistry(), "intake")
    handled = asyncio.Event()

    @broker.subscriber("ab.test.canary")
    async def on_message(body: dict[str, str]) -> None:
        handled.set()
        raise ValueError(f"no such student {body['name']}")

    await broker.start()
    try:
        await broker.publish({"name": CANARY}, "ab.test.canary")
        await asyncio.wait_for(handled.wait(), 10)
        for _ in range(50):  # the process span ends just after the handler raised
            if any("process" in s.name for s in exporter.get_finished_spans()):
                break
            await asyncio.sleep(0.05)
    finally:
        await broker.stop()
    spans = exporter.get_finished_spans()
    [process] = [s for s in spans if "process" in s.name]
    assert process.status.status_code is StatusCode.ERROR
    assert CANARY not in span_text(spans)
    assert "ValueError" in caplog.text and CANARY not in caplog.text


async def test_our_own_spans_keep_the_kind_only(exporter: InMemorySpanExporter) -> None:
    tracer = make_tracer_provider("canary-own", [SimpleSpanProcessor(exporter)]).get_tracer("antibully.notify")
    with pytest.raises(RuntimeError), tracer.start_as_current_span("notify.send"):
        raise RuntimeError(f"550 mailbox {CANARY}@example.cn unknown")
    [span] = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR and span.status.description == "RuntimeError"
    assert CANARY not in span_text((span,)) and not span.events

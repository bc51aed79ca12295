"""Logs an operator's collector can index: one JSON object per line, with the service, the logger, and
the trace and span ids of the span the line was written in, the same ids the trace exporter sends.

A real intake process exports its spans over OTLP/HTTP to a receiver in this test; a request with a
wrong key makes it log a WARNING inside the request's server span; the line's ids name that span."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider

from antibully.infra import NatsServer, SmtpSink
from shared.telemetry import JsonLines, log_formatter
from tests.fault_rig import Rig, error_lines, is_error, rig_env
from tests.helpers import ServiceProcesses, eventually

pytestmark = pytest.mark.timeout(180)

FIELDS = {"time", "level", "service", "logger", "message"}


class Receiver:
    """An OTLP/HTTP trace receiver on loopback: every span it is sent, as (trace id, span id, name)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        receiver.spans += [(s.trace_id.hex(), s.span_id.hex(), s.name) for s in scope.spans]
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()


def json_lines(log: Path) -> list[dict[str, object]]:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is JSON: a traceback line would fail here


async def test_a_service_logs_json_lines_with_the_ids_of_its_spans(tmp_path: Path, nats_server: NatsServer,
                                                                   database: str, smtp_sink: SmtpSink,
                                                                   receiver: Receiver) -> None:
    env = rig_env(nats_server.url, database, smtp_sink.port, LOG_FORMAT="json",
                  OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_BSP_SCHEDULE_DELAY="200")
    rig = Rig(env, ServiceProcesses(env, tmp_path), smtp_sink)
    try:
        await rig.start(("intake",))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{env['INTAKE_PORT']}", timeout=10) as client:
            refused = await client.post("/v1/incidents", json={}, headers={"Authorization": "Bearer wrong.key",
                                                                           "Idempotency-Key": "logs-1"})
        assert refused.status_code == 401, refused.text

        async def logged() -> list[dict[str, object]]:
            return [e for e in json_lines(tmp_path / "intake.log") if "authentication refused" in str(e["message"])]

        line = (await eventually(logged, timeout_s=10))[0]

        async def exported() -> list[tuple[str, str, str]]:
            return [s for s in receiver.spans if (s[0], s[1]) == (line["trace_id"], line["span_id"])]

        span = (await eventually(exported, timeout_s=15))[0]
    finally:
        rig.fleet.stop_all()
    assert span[2] == "POST /v1/incidents"  # the request's server span, named by its route
    assert line["level"] == "WARNING" and line["service"] == "intake" and line["logger"] == "antibully.intake.auth"
    entries = json_lines(tmp_path / "intake.log")
    assert all(set(e) >= FIELDS for e in entries) and any(e["message"] == "intake ready" for e in entries)
    assert any(e["message"] == "intake stopping" for e in entries)
    assert error_lines(tmp_path) == []


@pytest.mark.pure
def test_a_json_line_names_an_exception_by_kind_only_and_is_error_reads_both_formats() -> None:
    provider = TracerProvider()
    formatter = JsonLines("notify")
    record = logging.LogRecord("antibully.notify", logging.ERROR, __file__, 1, "send to %s failed", ("a provider",),
                               None)
    try:
        raise ValueError("13800138000 refused")  # a message that quotes personal data
    except ValueError:
        record.exc_info = sys.exc_info()
    with provider.get_tracer("t").start_as_current_span("notify.send") as current:
        line = json.loads(formatter.format(record))
        ids = current.get_span_context()
    assert line["message"] == "send to a provider failed" and line["service"] == "notify"
    assert line["trace_id"] == format(ids.trace_id, "032x") and line["span_id"] == format(ids.span_id, "016x")
    assert str(line["exception"]).startswith("ValueError at test_logs_json.py:")
    assert "13800138000" not in json.dumps(line)
    outside = json.loads(formatter.format(logging.LogRecord("x", logging.INFO, __file__, 1, "出警", None, None)))
    assert "trace_id" not in outside and outside["message"] == "出警"
    assert trace.get_current_span().get_span_context().is_valid is False
    text = log_formatter("intake", "text").format(logging.LogRecord("x", logging.ERROR, __file__, 1, "m", None, None))
    assert " intake ERROR x: m" in text and is_error(text)
    assert is_error(json.dumps({"level": "ERROR"}))
    assert not is_error(json.dumps({"level": "WARNING", "message": " ERROR "}))
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        log_formatter("intake", "xml")


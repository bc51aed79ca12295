"""Traces leave the process over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from antibully.infra import free_port
from shared.telemetry import make_tracer_provider


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((self.path, self.headers.get("Content-Type", ""), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    _Collector.received = []
    server = HTTPServer(("127.0.0.1", free_port()), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_spans_are_exported_over_otlp_http(collector: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector)
    provider = make_tracer_provider("intake")
    with provider.get_tracer("test").start_as_current_span("probe-span"):
        pass
    assert provider.force_flush(timeout_millis=5000)
    provider.shutdown()
    [(path, content_type, body)] = _Collector.received
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    assert b"probe-span" in body and b"antibully-intake" in body


def test_no_export_without_endpoint(collector: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    provider = make_tracer_provider("intake")
    with provider.get_tracer("test").start_as_current_span("probe-span"):
        pass
    provider.force_flush(timeout_millis=1000)
    provider.shutdown()
    assert _Collector.received == []


@pytest.mark.pure
def test_no_request_urls_in_service_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    """An SMS provider's GET carries the phone number in its URL: httpx must not log it at INFO (or DEBUG)."""
    import logging

    from shared.telemetry import setup_logging

    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    setup_logging("notify")
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert not logging.getLogger("httpcore").isEnabledFor(logging.INFO)

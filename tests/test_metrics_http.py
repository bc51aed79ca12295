"""The HTTP latency histogram: one series per route template, method and status class; a path holding an
id is counted under its route's template, a path that matches no route under `unmatched`, and a request
whose handler raised as a 5xx of its route. In memory (an ASGI transport): no port, no server."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from shared.http import install_common
from shared.telemetry import make_tracer_provider


def counts(registry: CollectorRegistry) -> dict[tuple[str, str, str], float]:
    text = generate_latest(registry).decode()
    return {(s.labels["route"], s.labels["method"], s.labels["status"]): s.value
            for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == "antibully_http_request_duration_seconds_count"}


@pytest.mark.pure
async def test_latency_is_counted_by_route_template_method_and_status_class() -> None:
    registry = CollectorRegistry()
    app = FastAPI()
    install_common(app, make_tracer_provider("metrics-http"), registry, 4096)
    install_common(FastAPI(), make_tracer_provider("metrics-http"), registry, 4096)  # a second app: one histogram

    @app.get("/v1/cases/{case_id}")
    async def case(case_id: str) -> dict[str, str]:
        return {"case": case_id}

    @app.post("/v1/cases/{case_id}/close")
    async def close(case_id: str) -> dict[str, str]:
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for case_id in ("0b5f2e1c-6f7e-4d53-9a52-5f8f4a3c2d11", "c-2"):
            assert (await client.get(f"/v1/cases/{case_id}")).status_code == 200
        assert (await client.post("/v1/cases/c-3/close")).status_code == 500
        assert (await client.get("/v1/nowhere/0b5f2e1c-6f7e-4d53-9a52-5f8f4a3c2d11")).status_code == 404
        assert (await client.request("PURGE", "/v1/cases/c-4")).status_code == 405
    assert counts(registry) == {
        ("/v1/cases/{case_id}", "GET", "2xx"): 2.0,
        ("/v1/cases/{case_id}/close", "POST", "5xx"): 1.0,
        ("unmatched", "GET", "4xx"): 1.0,
        ("/v1/cases/{case_id}", "other", "4xx"): 1.0,  # 405: the path matched, the method did not
    }

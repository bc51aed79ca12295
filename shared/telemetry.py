"""Tracing and logging set-up. Spans carry ids and codes, never personal data."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def make_tracer_provider(service: str, processors: list[SpanProcessor] | None = None) -> TracerProvider:
    """A provider per service; exports over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"antibully-{service}"}))
    for processor in processors or []:
        provider.add_span_processor(processor)
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def current_trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def attach_trace_headers(headers: Mapping[str, str] | None) -> object:
    """Make a stored trace context current, so a later publish joins the original trace."""
    return otel_context.attach(propagate.extract(dict(headers or {})))


def detach(token: object) -> None:
    otel_context.detach(token)  # type: ignore[arg-type]


def setup_logging(service: str) -> logging.Logger:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
    # httpx logs every request's URL at INFO: an SMS provider's GET carries phone numbers and links there
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))
    return logging.getLogger(f"antibully.{service}")

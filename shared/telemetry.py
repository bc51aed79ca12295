"""Tracing and logging set-up. Spans carry ids and codes, never personal data.

An exception's message may quote request data (a pydantic or asyncpg message echoes values, an SMTP
refusal names the address), so neither spans nor logs keep it (issue 14): spans record the exception's
kind only, and the loggers of the libraries that log exceptions (FastStream, uvicorn) drop its text.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.util import types


def exception_kind(exc: BaseException) -> str:
    """Where and what failed, without the exception's message (which may quote personal data)."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in reversed(frames))
    return f"{type(exc).__name__} at {where}" if where else type(exc).__name__


def mark_failed(span: Span, exc: BaseException) -> None:
    """The span failed: its status and `error.type` name the exception's kind, never its message."""
    if span.is_recording():
        span.set_attribute("error.type", type(exc).__name__)
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


class SafeTracer(trace.Tracer):
    """A tracer whose spans never record an exception's message (OpenTelemetry's default does, as an
    `exception` event and the status description): FastStream's middleware and our own spans alike."""

    def __init__(self, inner: trace.Tracer) -> None:
        self._inner = inner

    def start_span(self, name: str, context: otel_context.Context | None = None,
                   kind: SpanKind = SpanKind.INTERNAL, attributes: types.Attributes = None,
                   links: Sequence[Link] | None = None, start_time: int | None = None,
                   record_exception: bool = True, set_status_on_exception: bool = True) -> Span:
        return self._inner.start_span(name, context, kind, attributes, links, start_time,
                                      record_exception=False, set_status_on_exception=False)

    @contextmanager
    def start_as_current_span(  # type: ignore[override]  # the same protocol, a generator context manager
            self, name: str, context: otel_context.Context | None = None, kind: SpanKind = SpanKind.INTERNAL,
            attributes: types.Attributes = None, links: Sequence[Link] | None = None, start_time: int | None = None,
            record_exception: bool = True, set_status_on_exception: bool = True, end_on_exit: bool = True,
    ) -> Iterator[Span]:
        with self._inner.start_as_current_span(name, context, kind, attributes, links, start_time,
                                               record_exception=False, set_status_on_exception=False,
                                               end_on_exit=end_on_exit) as span:
            try:
                yield span
            except Exception as exc:
                mark_failed(span, exc)
                raise


class SafeTracerProvider(TracerProvider):
    def get_tracer(self, instrumenting_module_name: str, instrumenting_library_version: str | None = None,
                   schema_url: str | None = None, attributes: types.Attributes = None) -> trace.Tracer:
        return SafeTracer(super().get_tracer(instrumenting_module_name, instrumenting_library_version,
                                             schema_url, attributes))


class RedactExceptions(logging.Filter):
    """On a library's logger: a record about an exception keeps the exception's kind and place, not its
    message (FastStream logs "Type: message" with the traceback; uvicorn logs the traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        message = record.getMessage()
        text = str(exc)
        if text:
            message = message.replace(text, "…")
        record.msg, record.args = f"{message} [{exception_kind(exc)}]", None
        record.exc_info, record.exc_text = None, None
        return True


def redact_exception_logs(*names: str) -> None:
    """Install RedactExceptions (once) on these loggers, where their records are made."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactExceptions) for f in logger.filters):
            logger.addFilter(RedactExceptions())


LIBRARY_LOGGERS = ("antibully.faststream", "uvicorn.error", "uvicorn", "faststream", "asyncio")


def make_tracer_provider(service: str, processors: list[SpanProcessor] | None = None) -> TracerProvider:
    """A provider per service; exports over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set."""
    redact_exception_logs(*LIBRARY_LOGGERS)
    provider = SafeTracerProvider(resource=Resource.create({"service.name": f"antibully-{service}"}))
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


class JsonLines(logging.Formatter):
    """One JSON object per line: what a log collector indexes without a parsing rule. The trace and span
    ids of the span current when the record was made tie a line to its trace in Jaeger. An exception
    is named by its kind and place only, as everywhere (its message may quote personal data)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "service": self.service, "logger": record.name,
            "message": record.getMessage(),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            line["trace_id"] = format(context.trace_id, "032x")
            line["span_id"] = format(context.span_id, "016x")
        if record.exc_info and record.exc_info[1] is not None:
            line["exception"] = exception_kind(record.exc_info[1])
        return json.dumps(line, ensure_ascii=False, default=str)


LOG_FORMATS = ("json", "text")


def log_formatter(service: str, log_format: str | None = None) -> logging.Formatter:
    """LOG_FORMAT=json (the default: containers, Kubernetes, anything a collector reads) or text (a person
    reading a terminal: `antibully run` sets it)."""
    chosen = (log_format or os.environ.get("LOG_FORMAT") or "json").lower()
    if chosen not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {chosen!r}")
    if chosen == "text":
        return logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
    return JsonLines(service)


def setup_logging(service: str) -> logging.Logger:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler()  # stderr
    handler.setFormatter(log_formatter(service))
    logging.basicConfig(level=level, handlers=[handler])
    # httpx logs every request's URL at INFO: an SMS provider's GET carries phone numbers and links there
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))
    redact_exception_logs(*LIBRARY_LOGGERS)
    return logging.getLogger(f"antibully.{service}")

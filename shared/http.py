"""What both HTTP edges share: the error handlers, a body limit, a server span, an in-process server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

import asyncpg
import uvicorn
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import ApiError, ErrorBody, on_api_error, on_backend_down, on_http_error, on_validation_error
from shared.telemetry import exception_kind, mark_failed

log = logging.getLogger("antibully.http")

__all__ = ["ErrorBody", "error", "install_common", "serve", "serve_metrics"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def error(status: int, code: str, message: str, message_zh: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return ApiError(status, code, message, message_zh, headers=headers).response()


def install_common(app: FastAPI, tracer_provider: TracerProvider, registry: CollectorRegistry, max_body: int,
                   larger_bodies: dict[str, int] | None = None) -> None:
    """`larger_bodies`: path → limit for the few routes that take a whole sheet (a school's roster); a path
    ending in "/" covers every path below it (an SMS provider's receipt batches, whose URL holds a secret)."""
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(ApiError, on_api_error)
    for backend_error in (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        app.add_exception_handler(backend_error, on_backend_down)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(PrivateAnswers)
    app.add_middleware(BodyLimit, max_bytes=max_body, larger=larger_bodies or {})
    app.add_middleware(ServerSpan, tracer=tracer_provider.get_tracer("antibully.http"),
                       latency=request_latency(registry))


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def request_latency(registry: CollectorRegistry) -> Histogram:
    """The HTTP latency histogram of this registry (made once: a registry takes a name once). Labels: the
    route template (never a path holding an id), the method, and the status class (2xx, 4xx, 5xx)."""
    existing = registry._names_to_collectors.get("antibully_http_request_duration_seconds")
    if isinstance(existing, Histogram):
        return existing
    return Histogram("antibully_http_request_duration_seconds", "HTTP request latency, by route template",
                     ["route", "method", "status"], buckets=LATENCY_BUCKETS, registry=registry)


class Readiness(Protocol):
    """What /readyz asks: each dependency "up" or "down"."""

    def status(self) -> dict[str, str]: ...


def install_readiness(app: FastAPI, deps: Readiness) -> None:
    """`/readyz`: 503 while a dependency is away (the database, NATS, the service's durable consumers; the
    console's: the archive and intake APIs), so a load balancer stops sending work here; `/healthz` stays
    200 as long as the process and its event loop answer (nothing to restart for an outage elsewhere)."""

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        status = deps.status()
        ready = all(v == "up" for v in status.values())
        return JSONResponse({"ready": ready, **status}, status_code=200 if ready else 503)


def metrics_app(registry: CollectorRegistry) -> FastAPI:
    """`/metrics` alone, for a port of its own: never on the public edge (issue 14), where anyone could
    read the counters; Prometheus scrapes it on loopback or an internal network."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


@asynccontextmanager
async def serve_metrics(host: str, port: int, registry: CollectorRegistry) -> AsyncIterator[None]:
    """Serve `registry` on host:port while inside; port 0: no metrics endpoint."""
    if not port:
        yield
        return
    async with serve(metrics_app(registry), host, port):
        yield


def ops_app(tracer_provider: TracerProvider, registry: CollectorRegistry) -> FastAPI:
    """The HTTP edge of a service that has no other: health and readiness only (metrics: `serve_metrics`)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    install_common(app, tracer_provider, registry, 1024)
    return app


class ServerSpan:
    """One SERVER span per request, named by route template (never by a path holding an id).

    Plain ASGI rather than Starlette's BaseHTTPMiddleware, which costs a task group per request.
    """

    def __init__(self, app: ASGIApp, tracer: trace.Tracer, latency: Histogram | None = None) -> None:
        self.app = app
        self.tracer = tracer
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        began = time.perf_counter()
        status = 500
        with self.tracer.start_as_current_span(method, kind=trace.SpanKind.SERVER) as span:
            started = False

            async def send_status(message: Message) -> None:
                nonlocal started, status
                if message["type"] == "http.response.start":
                    started = True
                    status = message["status"]
                    span.set_attribute("http.response.status_code", message["status"])
                await send(message)

            try:
                await self.app(scope, receive, send_status)
            except Exception as exc:  # noqa: BLE001 - answered here, so no server logs the exception's message
                # (it may quote the request's data): its kind and place only, in the log and on the span
                mark_failed(span, exc)
                route = getattr(scope.get("route"), "path", "unmatched")
                log.error("%s %s failed: %s", method, route, exception_kind(exc))
                if not started:
                    await error(500, "internal_error", "The request failed; it has been logged.",
                                "请求处理失败，已记录。")(scope, receive, send_status)
            finally:
                route = getattr(scope.get("route"), "path", "unmatched")
                span.update_name(f"{method} {route}")
                span.set_attribute("http.request.method", method)
                span.set_attribute("http.route", route)
                if self.latency is not None:
                    self.latency.labels(route, method if method in METHODS else "other",
                                        f"{status // 100}xx").observe(time.perf_counter() - began)


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # a label's values stay few


PRIVATE_HEADERS = [(b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer"),
                   (b"x-content-type-options", b"nosniff")]


class AnswerHeaders:
    """Plain ASGI: headers added to every HTTP answer, `pick(scope)` saying which. A header the route set
    itself is kept, unless `replace` (then ours win)."""

    def __init__(self, app: ASGIApp, pick: Callable[[Scope], list[tuple[bytes, bytes]]], replace: bool = False) -> None:
        self.app = app
        self.pick = pick
        self.replace = replace

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.pick(scope)
        names = {k for k, _ in extra}

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if self.replace:
                    message["headers"] = [h for h in headers if h[0] not in names] + extra
                else:
                    present = {k.lower() for k, _ in headers}
                    message["headers"] = headers + [(k, v) for k, v in extra if k not in present]
            await send(message)

        await self.app(scope, receive, with_headers)


class PrivateAnswers(AnswerHeaders):
    """Every answer may carry personal data (a case, a help conversation, a ledger export): no cache keeps
    it and no link followed from it tells the next site where it came from (issue 14). A header the
    route set itself is kept (the console's static assets may be cached)."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, lambda _: PRIVATE_HEADERS)


class BodyLimit:
    """413 before reading past the limit, whether or not Content-Length is honest."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        most = self.larger.get(path) or next(
            (n for prefix, n in self.larger.items() if prefix.endswith("/") and path.startswith(prefix)),
            self.max_bytes)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > most:
            await self._reject(scope, receive, send, most)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > most:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._reject(scope, receive, send, most)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, most: int) -> None:
        response = error(413, "payload_too_large", f"The body exceeds {most} bytes.", f"请求体超过 {most} 字节。")
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


class _QuietServer(uvicorn.Server):
    """The process owns signal handling (shared.runner); uvicorn must not take it over."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening-ready socket that other processes may bind to the same address too (SO_REUSEPORT):
    the kernel then spreads new connections over them, so several workers serve one port."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


@asynccontextmanager
async def serve(app: FastAPI, host: str, port: int, deps: Readiness | None = None, *, reuse_port: bool = False
                ) -> AsyncIterator[uvicorn.Server]:
    """Run uvicorn inside the current event loop; stop it on exit. With `deps`, it answers `/readyz`.
    With `reuse_port`, other processes can serve the same port (each calls this with `reuse_port`)."""
    if deps is not None:
        install_readiness(app, deps)
    server = _QuietServer(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False))
    sockets = [reuse_port_socket(host, port)] if reuse_port else None
    task = asyncio.create_task(server.serve(sockets=sockets))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("HTTP server stopped during start-up")
        await asyncio.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        await task

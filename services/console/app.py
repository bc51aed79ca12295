"""Wiring for the console: the pages, the session middleware, the HTTP server."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.console import pages
from services.console.backend import Backend, SessionEnded, Unavailable
from services.console.pages.auth import IDLE_NOTICE, safe_next
from services.console.security import Csrf, SecurityHeaders
from services.console.session import SessionCodec
from services.console.web import ConsoleDeps, CsrfRefused, Forbidden, LoginRequired
from shared.config import Settings
from shared.http import install_common, serve, serve_metrics
from shared.telemetry import make_tracer_provider
from shared.upstreams import Upstreams

STATIC = Path(__file__).with_name("static")
log = logging.getLogger("antibully.console")


def create_app(deps: ConsoleDeps, tracer_provider: TracerProvider, registry: CollectorRegistry) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    install_common(app, tracer_provider, registry, 64 * 1024)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in pages.ALL:
        app.include_router(module.router(deps))

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        back = safe_next(request.url.path) if request.method == "GET" else ""
        if request.method == "GET" and not exc.ended:
            return deps.redirect(f"/login?next={back}" if back else "/login")
        deps.end_session(request)
        notice = IDLE_NOTICE if exc.ended else "请先登录。"
        return deps.render(request, "login.html", 401, notice=notice, errors={}, next=back)

    @app.exception_handler(SessionEnded)
    async def session_ended(request: Request, _: SessionEnded) -> Response:
        deps.end_session(request)
        return deps.render(request, "login.html", 401, notice="登录已失效，请重新登录。", errors={})

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, _: Forbidden) -> HTMLResponse:
        return deps.message(request, "无权访问", "您的账号无权使用此页面。", 403, back="/")

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _: CsrfRefused) -> HTMLResponse:
        log.warning("form refused: no valid CSRF token")
        return deps.message(request, "表单已失效",
                            "该表单已过期或并非从本系统页面提交，未被处理。请返回页面刷新后重新提交。", 403, back="/")

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, _: Unavailable) -> HTMLResponse:
        return deps.message(request, "服务暂不可用", "系统暂时无法处理，请稍后重试。紧急情况请直接拨打电话联系。", 503)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> HTMLResponse:
        """A page, not the APIs' JSON: a malformed id in the address is no such page, anything else a 422."""
        if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()):
            return deps.message(request, "页面不存在", "未找到您要访问的页面。", 404, back="/")
        return deps.message(request, "无法处理", "请求中有内容不符合要求，请返回页面重新填写。", 422, back="/")

    @app.exception_handler(StarletteHTTPException)
    async def not_found(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        if exc.status_code == 405:
            return deps.message(request, "无法处理", "请通过页面上的按钮操作。", 405, back="/")
        return deps.message(request, "页面不存在", "未找到您要访问的页面。", exc.status_code, back="/")

    app.middleware("http")(deps.middleware)
    app.add_middleware(SecurityHeaders)
    return app


def backend_urls(settings: Settings) -> dict[str, str]:
    """The APIs the console reads and writes through (and /readyz waits for)."""
    return {"archive": settings.console_archive_url or f"http://{settings.archive_host}:{settings.archive_port}",
            "intake": settings.console_intake_url or f"http://{settings.intake_host}:{settings.intake_port}"}


def console_deps(settings: Settings) -> ConsoleDeps:
    urls = backend_urls(settings)
    archive_url, intake_url = urls["archive"], urls["intake"]
    if not settings.console_session_key:
        log.warning("CONSOLE_SESSION_KEY is not set: sessions end when this process stops")
    codec = SessionCodec(settings.console_session_key)
    csrf_key = hashlib.sha256(b"antibully-console-csrf\x1f" + codec.key_material).digest()
    return ConsoleDeps(settings, Backend(archive_url, intake_url), codec, Csrf(csrf_key))


@asynccontextmanager
async def running(settings: Settings, tracer_provider: TracerProvider | None = None) -> AsyncIterator[ConsoleDeps]:
    deps = console_deps(settings)
    registry = CollectorRegistry()
    app = create_app(deps, tracer_provider or make_tracer_provider("console"), registry)
    upstreams = Upstreams("console", backend_urls(settings), registry)
    upstreams.loop.start()
    try:
        async with serve(app, settings.console_host, settings.console_port, upstreams), \
                serve_metrics(settings.metrics_host, settings.console_metrics_port, registry):
            log.info("console on http://%s:%d/", settings.console_host, settings.console_port)
            yield deps
    finally:
        await upstreams.loop.stop()
        await deps.backend.close()

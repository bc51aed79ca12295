"""Run a service until SIGINT/SIGTERM; shared by every service's `__main__`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server

from shared.config import Settings, get_settings
from shared.db import NotMigrated
from shared.telemetry import setup_logging


def run_service(name: str, running: Callable[[Settings], AbstractAsyncContextManager[Any]]) -> None:
    log = setup_logging(name)
    settings = get_settings()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with running(settings) as runtime:
            registry: CollectorRegistry | None = getattr(runtime, "registry", None)
            if settings.metrics_port and registry is not None:
                start_http_server(settings.metrics_port, addr="127.0.0.1", registry=registry)
            log.info("%s ready", name)
            await stop.wait()
            log.info("%s stopping", name)

    with contextlib.suppress(KeyboardInterrupt):
        try:
            run_loop(main())
        except NotMigrated as exc:  # said plainly, without a traceback: the operator has a step to run
            log.error("%s cannot start: %s", name, exc)
            sys.exit(3)


def run_loop(coro: Coroutine[Any, Any, None]) -> None:
    """uvloop where available (Linux, macOS): the HTTP edges spend much of their CPU in the event loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)

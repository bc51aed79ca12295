"""Run a service until SIGINT/SIGTERM; shared by every service's `__main__`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any

from shared.config import Settings, get_settings
from shared.db import NotMigrated
from shared.service_keys import refusals
from shared.telemetry import setup_logging


def run_service(name: str, running: Callable[[Settings], AbstractAsyncContextManager[Any]]) -> None:
    log = setup_logging(name)
    settings = get_settings()
    refuse_known_keys(name, settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with running(settings):
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


def refuse_known_keys(name: str, settings: Settings) -> None:
    """Exit before touching anything when a key of this service is public or weak (shared/service_keys.py)."""
    problems = refusals(settings.model_dump(), name)
    if problems and settings.antibully_dev_mode:
        for problem in problems:
            logging.getLogger(f"antibully.{name}").warning("ANTIBULLY_DEV_MODE: starting anyway: %s", problem)
        return
    if problems:
        raise SystemExit(f"{name} refuses to start: " + "; ".join(problems)
                         + ". (ANTIBULLY_DEV_MODE=1 allows it, for a throw-away local system only.)")

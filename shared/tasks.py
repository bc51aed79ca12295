"""A service's long-running background loop (outbox relay, watchdog): started once, cancelled on stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.health import Dependencies


class BackgroundLoop:
    def __init__(self, name: str, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._name = name
        self._body = body
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._body(), name=self._name)

    async def stop(self) -> None:
        """Cancel until it is really done: on Python 3.11 a cancel can be lost inside `asyncio.wait_for`."""
        task = self._task
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()


def every(name: str, interval_s: float, job: Callable[[], Awaitable[object]], deps: Dependencies) -> BackgroundLoop:
    """Run a job now and then every interval. While the database is away it waits quietly; any other
    failure is logged as an ERROR and the job runs again next time."""

    async def body() -> None:
        while True:
            await deps.guard(name, job)
            await asyncio.sleep(interval_s)

    return BackgroundLoop(name, body)

"""Whether a service's dependencies are there now: the gate its consumers wait at while the
database is away, its readiness probe (PostgreSQL, NATS, and whatever else a service adds: its
durable consumers), and a gauge for ops.

The gate opens and closes by itself: a transient database failure anywhere in the service
closes it and starts a probe (`SELECT 1`, bounded in time) every second; the first probe that
succeeds opens it again. One WARNING when it closes, one INFO when it opens: an outage is one
story in the log, not a line per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from prometheus_client import CollectorRegistry, Gauge

from shared.bus import safe_error
from shared.failures import is_transient

log = logging.getLogger("antibully.health")

PROBE_TIMEOUT_S = 2.0


class Dependencies:
    def __init__(self, service: str, pool: asyncpg.Pool, registry: CollectorRegistry,
                 nats_connected: Callable[[], bool] = lambda: True, probe_interval_s: float = 1.0,
                 watch_interval_s: float = 5.0) -> None:
        self.service = service
        self._pool = pool
        self._nats_connected = nats_connected
        self._interval = probe_interval_s
        self._db_up = asyncio.Event()
        self._db_up.set()
        self._down_since = 0.0
        self._probe: asyncio.Task[None] | None = None
        self._watch_s = watch_interval_s
        self._watch: asyncio.Task[None] | None = None
        self._up = Gauge("antibully_dependency_up", "1 while the service reaches the dependency",
                         ["service", "dependency"], registry=registry)
        self._up.labels(service, "postgres").set_function(lambda: float(self._db_up.is_set()))
        self._up.labels(service, "nats").set_function(lambda: float(self._nats_connected()))
        self._noted: set[str] = set()
        self._checks: dict[str, Callable[[], bool]] = {}

    @property
    def database_up(self) -> bool:
        return self._db_up.is_set()

    def add_check(self, name: str, check: Callable[[], bool]) -> None:
        """One more thing /readyz waits for (the durable consumers: bound and consuming), and its gauge."""
        self._checks[name] = check
        self._up.labels(self.service, name).set_function(lambda: float(check()))

    def status(self) -> dict[str, str]:
        checks = {"postgres": self.database_up, "nats": self._nats_connected()}
        checks |= {name: check() for name, check in self._checks.items()}
        return {name: "up" if ok else "down" for name, ok in checks.items()}

    @property
    def ready(self) -> bool:
        return all(v == "up" for v in self.status().values())

    async def wait_for_database(self) -> None:
        await self._db_up.wait()

    async def database_reachable(self) -> bool:
        """Probe now; closes the gate when the database does not answer."""
        if not self.database_up:
            return False
        if await self._probe_once():
            return True
        self.database_lost()
        return False

    def database_lost(self) -> None:
        """Close the gate (once) and probe until the database answers again."""
        if not self._db_up.is_set():
            return
        self._db_up.clear()
        self._down_since = time.monotonic()
        log.warning("%s: database unreachable; consumers hold their messages until it is back", self.service)
        self._probe = asyncio.create_task(self._probe_until_up(), name="database-probe")

    async def classify(self, exc: BaseException) -> bool:
        """True when `exc` is transient: by its kind, or because the database is away right now."""
        if is_transient(exc):
            if _about_database(exc):
                await self.database_reachable()
            return True
        return not await self.database_reachable()

    async def guard(self, component: str, step: Callable[[], Awaitable[Any]]) -> None:
        """One round of a background loop: a transient failure waits for the database quietly (one
        WARNING per outage); anything else is an ERROR, because someone has to look at it."""
        try:
            await step()
        except Exception as exc:  # noqa: BLE001 - a loop must outlive any one failure
            if await self.classify(exc):
                self.note(component, exc)
                await self.wait_for_database()
            else:
                log.error("%s: %s failed: %s", self.service, component, safe_error(exc))
        else:
            self.recovered(component)

    async def until_done(self, component: str, step: Callable[[], Awaitable[Any]]) -> None:
        """Run `step` through any number of transient failures (waiting for the database between tries);
        a permanent failure is raised. For a step that must follow what already happened outside."""
        while True:
            try:
                await step()
            except Exception as exc:
                if not await self.classify(exc):
                    raise
                self.note(component, exc)
                await self.wait_for_database()
                await asyncio.sleep(self._interval)
            else:
                self.recovered(component)
                return

    def note(self, component: str, exc: BaseException) -> None:
        """A background loop's transient failure: one WARNING per outage and component."""
        if component not in self._noted:
            self._noted.add(component)
            log.warning("%s: %s waits for its dependencies (%s)", self.service, component, type(exc).__name__)

    def recovered(self, component: str) -> None:
        if component in self._noted:
            self._noted.discard(component)
            log.info("%s: %s resumed", self.service, component)

    def start(self) -> None:
        """Probe now and then even when nothing failed: an HTTP edge learns of an outage (and says so
        on /readyz) without a consumer having to trip over it first."""
        self._watch = asyncio.create_task(self._watch_loop(), name="database-watch")

    async def close(self) -> None:
        for task in (self._probe, self._watch):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _watch_loop(self) -> None:
        while True:
            await asyncio.sleep(self._watch_s)
            await self.database_reachable()

    async def _probe_until_up(self) -> None:
        while not await self._probe_once():  # noqa: ASYNC110 - polling a server, not waiting for an event
            await asyncio.sleep(self._interval)
        self._db_up.set()
        log.info("%s: database reachable again after %.0f s; consumers resume",
                 self.service, time.monotonic() - self._down_since)

    async def _probe_once(self) -> bool:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                async with self._pool.acquire() as conn:
                    return bool(await conn.fetchval("SELECT 1"))
        except Exception:  # noqa: BLE001 - any failure to answer is "not reachable"
            return False


def _about_database(exc: BaseException) -> bool:
    return isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError | OSError | TimeoutError)

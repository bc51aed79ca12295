"""What an operator watches that no handler counts: each durable consumer's lag (read from JetStream),
whether the consumers are bound and consuming (a readiness check), and the outbox's depth.

Polled, not pushed: JetStream keeps the consumer's numbers and PostgreSQL the outbox, so a gauge read
every few seconds is as true as the source, and no replica has to agree with another on a count.
Labels are a service's and a durable's names only, never an id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

import asyncpg
from faststream.nats import NatsBroker
from nats.js.errors import NotFoundError
from prometheus_client import CollectorRegistry, Counter, Gauge

from shared.bus import safe_error
from shared.bus_topology import ConsumerSpec
from shared.health import Dependencies
from shared.tasks import BackgroundLoop, every

log = logging.getLogger("antibully.ops")

INFO_TIMEOUT_S = 2.0


class ConsumerWatch:
    """Every `interval_s`: JetStream's info on each durable the service consumes from. Its numbers become
    gauges; `consuming` (a readiness check) is true while every durable was found in the last round and
    every subscriber's fetch loop runs. Not an ERROR when NATS is away: /readyz and the gauges say it."""

    def __init__(self, broker: NatsBroker, service: str, registry: CollectorRegistry,
                 specs: Callable[[], Sequence[ConsumerSpec]], interval_s: float = 5.0) -> None:
        self.broker = broker
        self.service = service
        self.specs = specs
        self.interval_s = interval_s
        self.started = False
        self._bound = False
        self._warned = False
        labels = ["service", "durable"]
        self.pending = Gauge("antibully_consumer_pending", "Messages in the stream not yet delivered to the durable",
                             labels, registry=registry)
        self.ack_pending = Gauge("antibully_consumer_ack_pending", "Messages delivered to the durable and not yet "
                                 "acknowledged", labels, registry=registry)
        self.redelivered = Gauge("antibully_consumer_redelivered", "Messages of the durable delivered more than once "
                                 "and not yet acknowledged", labels, registry=registry)
        self.bound = Gauge("antibully_consumer_bound", "1 while the durable exists in JetStream", labels,
                           registry=registry)
        self.loop = BackgroundLoop("consumer-watch", self._run)

    @property
    def consuming(self) -> bool:
        return self.started and self._bound and all(getattr(s, "running", False) for s in self.broker.subscribers)

    def start(self) -> None:
        self.started = True
        self.loop.start()

    async def stop(self) -> None:
        self.started = False
        await self.loop.stop()

    async def check(self) -> bool:
        """One round: every durable's info, or False (and its gauges say which) when one is missing."""
        found = True
        js = self.broker.connection.jetstream()
        for spec in self.specs():
            try:
                async with asyncio.timeout(INFO_TIMEOUT_S):
                    info = await js.consumer_info(spec.stream, spec.durable)
            except Exception as exc:  # noqa: BLE001 - NATS away or the durable gone: not consuming
                found = False
                self.bound.labels(self.service, spec.durable).set(0)
                if not self._warned:
                    self._warned = True
                    log.warning("%s: consumer %s unreadable (%s); not ready until it is", self.service,
                                spec.durable, safe_error(exc))
                if isinstance(exc, NotFoundError):
                    continue  # this one is gone; look at the others
                break  # NATS away: the next durables would only time out too
            self.bound.labels(self.service, spec.durable).set(1)
            self.pending.labels(self.service, spec.durable).set(info.num_pending or 0)
            self.ack_pending.labels(self.service, spec.durable).set(info.num_ack_pending or 0)
            self.redelivered.labels(self.service, spec.durable).set(info.num_redelivered or 0)
        if found and self._warned:
            self._warned = False
            log.info("%s: every consumer readable again", self.service)
        self._bound = found
        return found

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self.check()
            await asyncio.sleep(self.interval_s)


class OutboxDepth:
    """Rows committed and not yet published (the relay's backlog), and the age of the oldest: a depth
    that stays up while NATS is there means the relay is stuck."""

    def __init__(self, pool: asyncpg.Pool, service: str, registry: CollectorRegistry, deps: Dependencies,
                 interval_s: float = 15.0) -> None:
        self.pool = pool
        self.service = service
        self.depth = Gauge("antibully_outbox_depth", "Outbox rows committed and not yet published", ["service"],
                           registry=registry)
        self.oldest = Gauge("antibully_outbox_oldest_seconds", "Age of the oldest unpublished outbox row (0: none)",
                            ["service"], registry=registry)
        self.depth.labels(service).set(0)
        self.oldest.labels(service).set(0)
        self.loop = every("outbox depth", interval_s, self.read, deps)

    async def read(self) -> None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age"
                " FROM outbox WHERE published_at IS NULL")
        assert row is not None  # an aggregate always answers one row
        self.depth.labels(self.service).set(row["n"])
        self.oldest.labels(self.service).set(float(row["age"]))


def registry_counter(registry: CollectorRegistry, name: str, documentation: str, labels: Sequence[str]) -> Counter:
    """The registry's counter of this name, made on first use: several handlers of one service (notify's
    lanes) count into one (a registry takes a name once)."""
    existing = registry._names_to_collectors.get(name)
    if isinstance(existing, Counter):
        return existing
    return Counter(name, documentation, list(labels), registry=registry)

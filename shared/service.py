"""The infrastructure every service wires the same way: pool, broker (as the service's own NATS user),
consumers, outbox relay. Streams and consumers are made by `antibully nats-setup`, not here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from faststream.nats import NatsBroker
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from shared.bus import make_broker, stop_broker, stop_consuming, wait_for_topology
from shared.config import Settings
from shared.consumer import DurableConsumers
from shared.db import create_pool
from shared.health import Dependencies
from shared.jetstream import JetStreamPublisher
from shared.migrations import expected_version
from shared.ops_metrics import ConsumerWatch, OutboxDepth
from shared.outbox import OutboxRelay
from shared.telemetry import make_tracer_provider


@dataclass
class Infra:
    settings: Settings
    pool: asyncpg.Pool
    broker: NatsBroker
    consumers: DurableConsumers
    relay: OutboxRelay
    registry: CollectorRegistry
    tracer_provider: TracerProvider
    deps: Dependencies
    watch: ConsumerWatch
    outbox: OutboxDepth

    async def start(self, *, relay: bool = True) -> None:
        """Call after every subscription is registered; `relay=False` for a service without an outbox.
        Waits (not ready meanwhile) until the setup step has made its streams and consumers."""
        await self.broker.connect()
        await wait_for_topology(self.broker, self.consumers.service, self.consumers.registered)
        await self.broker.start()
        self.deps.start()
        self.consumers.gauge_loop.start()
        self.watch.start()  # consumer lag, and /readyz's "consumers"
        self.outbox.loop.start()
        if relay:
            self.relay.start()
            self.relay.kick()  # publish whatever a previous run committed but did not publish


async def service_pool(settings: Settings, service: str, schema: str, size: int) -> asyncpg.Pool:
    """A pool of `service`'s own login (or DATABASE_URL acting as its role), on its schema alone, once
    the schema is at the version this code expects (its highest migration; shared/migrations.py)."""
    db = settings.service_database(service)
    return await create_pool(db.url, schema, role=db.role, max_size=size,
                             acquire_timeout_s=settings.db_acquire_timeout_s,
                             command_timeout_s=settings.db_command_timeout_s,
                             expected_version=expected_version(service))


@asynccontextmanager
async def infrastructure(
    service: str, schema: str, settings: Settings, tracer_provider: TracerProvider | None,
) -> AsyncIterator[Infra]:
    """The pool logs in as the service's own role (`Settings.service_database`) and runs no DDL: it
    refuses to start (NotMigrated) until `antibully migrate` has made the schema and the grants."""
    provider = tracer_provider or make_tracer_provider(service)
    registry = CollectorRegistry()
    pool = await service_pool(settings, service, schema, settings.db_pool_size)
    try:
        broker = make_broker(settings, provider, registry, service)

        publisher = JetStreamPublisher(broker, provider, service)

        async def publish(subject: str, payload: bytes, msg_id: str, headers: dict[str, str]) -> object:
            return await publisher.publish_raw(subject, payload, msg_id, timeout_s=5.0, headers=headers)

        def nats_connected() -> bool:
            connection = broker._connection
            return connection is not None and connection.is_connected

        deps = Dependencies(service, pool, registry, nats_connected)
        relay = OutboxRelay(pool, publish, deps)
        consumers = DurableConsumers(broker, service, settings, registry, deps)
        watch = ConsumerWatch(broker, service, registry, lambda: consumers.registered)
        deps.add_check("consumers", lambda: watch.consuming)
        outbox = OutboxDepth(pool, service, registry, deps)
        infra = Infra(settings, pool, broker, consumers, relay, registry, provider, deps, watch, outbox)
        try:
            yield infra
        finally:
            # Drain first: handlers finish (within the graceful timeout) and commit their outbox rows,
            # which the relay publishes now rather than at the next start.
            consumers.stop()
            await consumers.gauge_loop.stop()
            await watch.stop()
            await outbox.loop.stop()
            await stop_consuming(broker, settings.graceful_timeout_s)
            await relay.stop()
            await stop_broker(broker)
            await deps.close()
    finally:
        await pool.close()

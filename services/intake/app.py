"""Wiring for intake: the one place its dependencies are built."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from services.intake.api import IntakeDeps, create_app
from services.intake.repository import SCHEMA
from shared.bus import ensure_streams, make_broker, stop_broker
from shared.config import Settings
from shared.db import create_pool, migrate
from shared.http import serve
from shared.telemetry import make_tracer_provider

SCHEMA_SQL = Path(__file__).with_name("schema.sql")


@dataclass
class IntakeRuntime:
    deps: IntakeDeps
    registry: CollectorRegistry
    port: int


@asynccontextmanager
async def running(settings: Settings, tracer_provider: TracerProvider | None = None) -> AsyncIterator[IntakeRuntime]:
    provider = tracer_provider or make_tracer_provider("intake")
    registry = CollectorRegistry()
    await ensure_streams(settings.nats_url, settings.nats_replicas)
    pool = await create_pool(settings.database_url, SCHEMA)
    try:
        await migrate(pool, SCHEMA, SCHEMA_SQL)
        broker = make_broker(settings, provider, registry)
        await broker.start()
        try:
            deps = IntakeDeps(settings, pool, broker, provider, registry)
            async with serve(create_app(deps), settings.intake_host, settings.intake_port):
                yield IntakeRuntime(deps, registry, settings.intake_port)
        finally:
            await stop_broker(broker)
    finally:
        await pool.close()

"""Wiring for notify."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider

from services.notify.handlers import NotifyHandlers
from services.notify.mailer import SmtpMailer
from services.notify.repository import SCHEMA
from shared.config import Settings
from shared.contracts import NotificationRequested
from shared.service import Infra, infrastructure

SCHEMA_SQL = Path(__file__).with_name("schema.sql")


@asynccontextmanager
async def running(settings: Settings, tracer_provider: TracerProvider | None = None) -> AsyncIterator[Infra]:
    async with infrastructure("notify", SCHEMA, SCHEMA_SQL, settings, tracer_provider) as infra:
        tracer = infra.tracer_provider.get_tracer("antibully.notify")
        handlers = NotifyHandlers(infra.pool, infra.relay, SmtpMailer(settings), infra.registry, tracer,
                                  lease_s=min(settings.smtp_timeout_s * 2, settings.ack_wait_s))
        # Few in flight: a crash can leave at most this many sends with an unknown outcome.
        infra.consumers.subscribe(NotificationRequested, handlers.on_requested, concurrency=4)
        await infra.start()
        yield infra

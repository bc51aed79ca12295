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
        handlers = NotifyHandlers(infra.pool, infra.relay, SmtpMailer(settings), infra.registry,
                                  lease_s=settings.smtp_timeout_s * 3)
        infra.consumers.subscribe(NotificationRequested, handlers.on_requested)
        await infra.start()
        yield infra

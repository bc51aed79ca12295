"""Wiring for archive: the durable consumers and the read API in one process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider

from services.archive.api import ArchiveDeps, create_app
from services.archive.handlers import ARCHIVED_EVENTS, ArchiveHandlers
from services.archive.repository import SCHEMA
from shared.config import Settings
from shared.crypto import Sealer
from shared.http import serve
from shared.service import Infra, infrastructure

SCHEMA_SQL = Path(__file__).with_name("schema.sql")


@asynccontextmanager
async def running(settings: Settings, tracer_provider: TracerProvider | None = None) -> AsyncIterator[Infra]:
    sealer = Sealer(settings.archive_data_key)
    async with infrastructure("archive", SCHEMA, SCHEMA_SQL, settings, tracer_provider) as infra:
        handlers = ArchiveHandlers(infra.pool, sealer, infra.tracer_provider)
        for model in ARCHIVED_EVENTS:
            infra.consumers.subscribe(model, handlers.on_event)
        await infra.start()
        app = create_app(ArchiveDeps(settings, infra.pool, infra.tracer_provider, infra.registry))
        async with serve(app, settings.archive_host, settings.archive_port):
            yield infra

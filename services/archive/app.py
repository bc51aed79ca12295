"""Wiring for archive: the durable consumers and the read API in one process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider

from services.archive import payloads, repository
from services.archive.accounts import Clock
from services.archive.api import ArchiveDeps, create_app
from services.archive.handlers import ARCHIVED_EVENTS, ArchiveHandlers
from shared.config import Settings
from shared.contracts.base import utcnow
from shared.directory import load_directory
from shared.http import serve
from shared.service import Infra, infrastructure

SCHEMA_SQL = Path(__file__).with_name("schema.sql")


@asynccontextmanager
async def running(settings: Settings, tracer_provider: TracerProvider | None = None, *,
                  clock: Clock = utcnow) -> AsyncIterator[Infra]:
    """`clock` drives token expiry and login locks (tests pass a controllable one)."""
    payloads.configure(settings.archive_data_key)
    directory = load_directory(settings.directory_file)
    async with infrastructure("archive", repository.SCHEMA, SCHEMA_SQL, settings, tracer_provider) as infra:
        await repository.backfill_jurisdictions(
            infra.pool, {k: directory.jurisdiction_of(k) for k in directory.schools}, directory.jurisdiction)
        handlers = ArchiveHandlers(infra.pool, directory, infra.tracer_provider)
        for model in ARCHIVED_EVENTS:
            infra.consumers.subscribe(model, handlers.on_event)
        await infra.start()
        app = create_app(ArchiveDeps(settings, infra.pool, infra.tracer_provider, infra.registry, clock))
        async with serve(app, settings.archive_host, settings.archive_port):
            yield infra

"""Wiring for escalation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider

from services.escalation.directory import load_directory
from services.escalation.handlers import EscalationHandlers
from services.escalation.policy_store import PolicyStore
from services.escalation.repository import SCHEMA
from shared.config import Settings
from shared.contracts import IncidentReported
from shared.service import Infra, infrastructure

SCHEMA_SQL = Path(__file__).with_name("schema.sql")


@asynccontextmanager
async def running(settings: Settings, tracer_provider: TracerProvider | None = None) -> AsyncIterator[Infra]:
    directory = load_directory(settings.directory_file)
    policies = PolicyStore(settings.policy_file)
    async with infrastructure("escalation", SCHEMA, SCHEMA_SQL, settings, tracer_provider) as infra:
        handlers = EscalationHandlers(infra.pool, infra.relay, directory, policies)
        infra.consumers.subscribe(IncidentReported, handlers.on_incident_reported)
        await infra.start()
        yield infra

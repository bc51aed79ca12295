"""Wiring for intake: the one place its dependencies are built."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from opentelemetry.sdk.trace import TracerProvider

from services.intake.api import create_app
from services.intake.auth import SchoolAuth
from services.intake.contests import HelpContests
from services.intake.deps import IntakeDeps
from services.intake.duties import DutyProjection
from services.intake.letters import LetterFanOut
from services.intake.published_hazards import PublishedHazards
from services.intake.ratelimit import RateLimiter
from services.intake.repository import SCHEMA
from services.intake.submissions import Submissions
from services.intake.workers import worker_settings
from shared import assertions
from shared.bus_seal import Sealing, install
from shared.config import Settings
from shared.contracts.acts import OfficialActed
from shared.contracts.duties import DutyUpdated
from shared.contracts.hazard import HazardReported
from shared.contracts.letters import LetterApproved, LetterWrongNumberReported
from shared.crypto import Sealer
from shared.directory import load_directory
from shared.http import serve, serve_metrics
from shared.jetstream import JetStreamPublisher
from shared.letter_routes import SETTING
from shared.service import Infra, infrastructure


@asynccontextmanager
async def running(settings: Settings, tracer_provider: TracerProvider | None = None) -> AsyncIterator[Infra]:
    """One intake; with INTAKE_WORKERS > 1, one of the workers sharing the port (services/intake/workers.py)."""
    settings = worker_settings(settings)
    async with infrastructure("intake", SCHEMA, settings, tracer_provider) as infra:
        # its one consumer: the duties a school reads with its key (GET /v1/duties)
        infra.consumers.subscribe(DutyUpdated, DutyProjection(infra.pool).on_duty_updated)
        infra.consumers.subscribe(OfficialActed, HelpContests(infra.pool).on_official_acted)
        infra.consumers.subscribe(HazardReported, PublishedHazards(infra.pool).on_hazard_reported)
        sealer = Sealer(settings.intake_data_key, "INTAKE_DATA_KEY") if settings.intake_data_key else None
        routes_sealer = Sealer(settings.letter_contact_key, SETTING) if settings.letter_contact_key else None
        fan_out = LetterFanOut(infra.pool, infra.relay, sealer, routes_sealer, load_directory(settings.directory_file))
        infra.consumers.subscribe(LetterApproved, fan_out.on_letter_approved, concurrency=1)
        infra.consumers.subscribe(LetterWrongNumberReported, fan_out.on_wrong_number, concurrency=4)
        # reports are published directly (202 after the PubAck); the relay carries the letters' batches
        await infra.start()
        sealing = Sealing.from_settings(settings)  # refuses to start without the readers' public keys
        install(sealing)
        limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
        public_key = assertions.public_keys_from_b64(settings.identity_public_key) \
            if settings.identity_public_key else None
        deps = IntakeDeps(
            settings, infra.pool, infra.broker, infra.tracer_provider, infra.registry,
            auth=SchoolAuth(infra.pool, limiter, infra.registry, settings.retry_after_s, public_key),
            submissions=Submissions(infra.pool, JetStreamPublisher(infra.broker, infra.tracer_provider, "intake"),
                                    settings.publish_timeout_s, settings.retry_after_s, infra.registry),
            code_limiter=RateLimiter(settings.access_code_rate_per_s, settings.access_code_burst),
            help_sealer=sealer,
            sealing=sealing,
            address_limiter=RateLimiter(settings.help_per_address_rate_per_s, settings.help_per_address_burst),
        )
        async with serve(create_app(deps), settings.intake_host, settings.intake_port, infra.deps,
                         reuse_port=settings.intake_workers > 1), \
                serve_metrics(settings.metrics_host, settings.intake_metrics_port, infra.registry):
            yield infra

"""Wiring for archive: the durable consumers, the read API and the scheduled jobs in one process."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

import asyncpg
from opentelemetry.sdk.trace import TracerProvider

from services.archive import payloads as payloads_module
from services.archive import repository
from services.archive.accounts import Clock
from services.archive.api import ArchiveDeps, create_app
from services.archive.bus_sections import BusSections
from services.archive.campaign_files import checked_campaigns
from services.archive.checkpoint import CheckpointSigner
from services.archive.handlers import ARCHIVED_EVENTS, ArchiveHandlers
from services.archive.jobs import shred_expired, write_checkpoint
from services.archive.payloads import Payloads
from services.archive.repository import SCHEMA
from shared.bus_seal import Sealing, install
from shared.config import Settings
from shared.contracts.base import utcnow
from shared.directory import load_directory
from shared.http import serve, serve_metrics
from shared.service import Infra, infrastructure
from shared.tasks import every

log = logging.getLogger("antibully.archive")


async def _check_keks(pool: asyncpg.Pool, payloads: Payloads) -> None:
    """Say at start-up what a KEK rotation still has to do, and loudly when ARCHIVE_KEK lacks a KEK that
    live case keys are wrapped under (dropped too early: those cases' personal data will not open)."""
    counts = await repository.kek_counts(pool)
    missing = {kid: n for kid, n in counts.items() if payloads.ring.get(kid) is None}
    if missing:
        log.error("ARCHIVE_KEK lacks KEK(s) %s, under which %d case key(s) are wrapped: their personal data will "
                  "not open until that KEK is back in ARCHIVE_KEK", ", ".join(sorted(missing)), sum(missing.values()))
    older = sum(n for kid, n in counts.items() if kid != payloads.ring.current_id and kid not in missing)
    if older:
        log.info("%d case key(s) are still wrapped under an older KEK: `antibully rotate archive-kek` rewraps them",
                 older)


@asynccontextmanager
async def running(settings: Settings, tracer_provider: TracerProvider | None = None, *,
                  clock: Clock = utcnow) -> AsyncIterator[Infra]:
    """`clock` drives token expiry and login locks (tests pass a controllable one)."""
    payloads = Payloads.from_settings(settings)
    directory = load_directory(settings.directory_file)
    # the campaigns the bureau may start, checked before anything runs (a bad file stops the archive, named)
    campaigns = checked_campaigns(settings.campaigns_dir, settings.directory_file)
    payloads_module.use(payloads)
    signer = CheckpointSigner(settings.archive_signing_key) if settings.archive_signing_key else None
    async with infrastructure("archive", SCHEMA, settings, tracer_provider) as infra, \
            AsyncExitStack() as jobs:
        await repository.backfill_jurisdictions(
            infra.pool, {k: directory.jurisdiction_of(k) for k in directory.schools}, directory.jurisdiction)
        await _check_keks(infra.pool, payloads)
        install(Sealing.from_settings(settings))  # officials' acts and look-backs: their words sealed for the record
        handlers = ArchiveHandlers(infra.pool, payloads, directory, infra.tracer_provider,
                                   BusSections(settings.archive_bus_private_key))
        for model in ARCHIVED_EVENTS:
            infra.consumers.subscribe(model, handlers.on_event)
        await infra.start()
        retention = timedelta(days=settings.archive_retention_days)
        loops = [every("archive-shred", settings.archive_shred_interval_s,
                       lambda: shred_expired(infra.pool, payloads, retention), infra.deps)]
        if signer is None:
            log.warning("ARCHIVE_SIGNING_KEY is not set: no signed checkpoints of the chains are written")
        else:
            log.info("checkpoints are signed by key %s (public key %s)", signer.fingerprint,
                     base64.b64encode(signer.public_key).decode())
            loops.append(every("archive-checkpoint", settings.archive_checkpoint_interval_s,
                               lambda: write_checkpoint(infra.pool, signer), infra.deps))
        for loop in loops:
            loop.start()
            jobs.push_async_callback(loop.stop)
        app = create_app(ArchiveDeps(settings, infra.pool, infra.tracer_provider, infra.registry, clock,
                                     infra.relay.kick, campaigns=campaigns))
        async with serve(app, settings.archive_host, settings.archive_port, infra.deps), \
                serve_metrics(settings.metrics_host, settings.archive_metrics_port, infra.registry):
            yield infra

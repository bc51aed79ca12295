"""Wiring for notify: channels and failover, the consumer, the reachability check, the HTTP edge."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from services.notify.api import NotifyDeps, create_app
from services.notify.channels import Channel, new_http_client
from services.notify.contacts import ContactBook
from services.notify.failover import Failover
from services.notify.family_messages import family_messages_router
from services.notify.handlers import NotifyHandlers
from services.notify.lanes import subscribe_lanes, urgent_pool
from services.notify.letter_page import letter_router
from services.notify.letters import LetterSender
from services.notify.links import Links
from services.notify.priority_gate import LaneSlot
from services.notify.reachability import ReachabilityCheck, admin_alert
from services.notify.receipts_api import receipts_router
from services.notify.repository import SCHEMA
from services.notify.retention import notice_purge
from services.notify.robot_digest import RobotDigests
from shared.bus_seal import Sealing, install
from shared.config import Settings
from shared.contracts.letters import LetterBatchRequested
from shared.contracts.notification import ChannelKind
from shared.crypto import Sealer
from shared.http import serve, serve_metrics
from shared.letter_routes import SETTING
from shared.service import Infra, infrastructure
from shared.tasks import every

log = logging.getLogger("antibully.notify")


def http_app(deps: NotifyDeps, settings: Settings) -> FastAPI:
    """notify's whole HTTP edge: links, family messages, letters, receipts (its OpenAPI document is this app's)."""
    app = create_app(deps)
    app.include_router(receipts_router(deps, settings.receipt_token, settings.aliyun_access_key_secret))
    app.include_router(family_messages_router(deps))
    app.include_router(letter_router(deps))
    return app


@asynccontextmanager
async def running(settings: Settings, tracer_provider: TracerProvider | None = None) -> AsyncIterator[Infra]:
    async with urgent_pool(settings) as pool_for_urgent, \
            infrastructure("notify", SCHEMA, settings, tracer_provider) as infra, \
            new_http_client(settings) as http:
        tracer = infra.tracer_provider.get_tracer("antibully.notify")
        links = Links(settings.link_key) if settings.link_key else None
        if links is None:
            log.warning("LINK_KEY is not set: notices carry no link to their page")
        sealer = Sealer(settings.notify_data_key, "NOTIFY_DATA_KEY") if settings.notify_data_key else None
        if sealer is None:
            log.warning("NOTIFY_DATA_KEY is not set: a link's page shows the case reference only")

        contacts = ContactBook.from_settings(settings)
        install(Sealing.from_settings(settings))  # a family's message to the school: sealed for the archive
        if contacts.opening is None:
            log.warning("NOTIFY_BUS_PRIVATE_KEY is not set: notices to families cannot be addressed")
        made: list[NotifyHandlers] = []

        def make_handlers(pool: asyncpg.Pool, channels: dict[str, list[Channel]], robots: RobotDigests | None
                          ) -> NotifyHandlers:
            # The lease covers a whole failover round; a replica that finds it held leaves the message alone.
            made.append(NotifyHandlers(pool, infra.relay, Failover(channels), infra.registry, tracer,
                                       lease_s=settings.ack_wait_s, deps=infra.deps, links=links,
                                       public_base_url=settings.public_base_url, link_ttl_s=settings.link_ttl_s,
                                       sealer=sealer, robots=robots, outcomes=made[0].outcomes if made else None,
                                       console_url=settings.console_public_url, contacts=contacts))
            return made[-1]

        # One consumer per priority lane, each with its own slots; robots digest when throttled (lanes.py).
        wired = subscribe_lanes(infra, settings, http, sealer, pool_for_urgent, make_handlers)
        channels = wired.channels
        log.info("channels: %s", ", ".join(f"{k}: {'/'.join(c.provider for c in v)}"
                                           for k, v in channels.items()))
        failover = Failover(channels)
        letters = LetterSender(infra.pool, infra.relay, channels, links, settings.public_base_url,
                               settings.link_ttl_s, settings.ack_wait_s, infra.deps, infra.registry,
                               settings.letter_sends_in_flight, Sealer(settings.letter_contact_key, SETTING)
                               if settings.letter_contact_key else None)
        # Bulk: at most half the handler slots, and yielding to urgent notices like the bulk lane (priority_gate.py).
        n_letters = min(settings.letter_batches_in_flight, max(1, settings.handler_concurrency // 2))
        infra.consumers.subscribe(LetterBatchRequested, letters.on_batch, concurrency=n_letters,
                                  limiter=LaneSlot(n_letters, wired.gate, urgent=False))
        await infra.start()
        check = ReachabilityCheck(settings.directory_file, {ChannelKind(k) for k in channels}, infra.pool,
                                  infra.registry, admin_alert(settings.directory_file, failover))
        loops = [every("reachability-check", settings.reachability_interval_s, check.check, infra.deps),
                 notice_purge(infra.pool, settings.link_ttl_s, infra.deps), *wired.loops]
        for loop in loops:
            loop.start()
        deps = NotifyDeps(infra.pool, infra.relay, links, infra.tracer_provider, infra.registry, sealer)
        app = http_app(deps, settings)
        try:
            async with serve(app, settings.notify_host, settings.notify_port, infra.deps), \
                    serve_metrics(settings.metrics_host, settings.notify_metrics_port, infra.registry):
                yield infra
        finally:
            for loop in loops:
                await loop.stop()

"""Wiring for escalation."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from services.escalation.act_handler import OfficialActs
from services.escalation.campaign_files import check_campaign_files
from services.escalation.duty_metrics import OverdueDuties
from services.escalation.families import Families
from services.escalation.guardians import FamilyBook
from services.escalation.handlers import EscalationHandlers
from services.escalation.policy_store import PolicyStore
from services.escalation.pseudonyms import Pseudonyms
from services.escalation.repository import SCHEMA
from services.escalation.watchdog import Watchdog
from shared.config import Settings
from shared.contracts import IncidentReported, NotificationAcknowledged, NotificationDelivered, NotificationFailed
from shared.contracts.acts import LookBackRequested, OfficialActed
from shared.contracts.base import utcnow
from shared.contracts.campaign import CampaignRecordFiled, CampaignStarted
from shared.contracts.duties import DutyDischarged
from shared.contracts.follow_up import FollowUpReported
from shared.contracts.hazard import HazardProgressed, HazardReported
from shared.contracts.help import HelpConverted, HelpRequested, HelpResolved
from shared.contracts.notification import NotificationReceived
from shared.contracts.officials import ChangeApproved, LookBackCompleted
from shared.directory import DirectoryError, load_directory
from shared.http import ops_app, serve, serve_metrics
from shared.service import Infra, infrastructure

log = logging.getLogger("antibully.escalation")


@dataclass
class Escalation:
    infra: Infra
    watchdog: Watchdog

    @property
    def pool(self) -> asyncpg.Pool:
        return self.infra.pool

    @property
    def registry(self) -> CollectorRegistry:
        return self.infra.registry


@asynccontextmanager
async def running(
    settings: Settings, tracer_provider: TracerProvider | None = None, clock: Callable[[], datetime] = utcnow
) -> AsyncIterator[Escalation]:
    directory = load_directory(settings.directory_file)
    policies = PolicyStore(settings.policy_file)
    chains = {name for action in policies.current().actions for name in action.escalate_to}
    chains |= set(policies.current().help.urgent_escalate_to)
    if unknown := directory.unknown_targets(chains):
        raise DirectoryError(f"{settings.policy_file} escalates to {sorted(unknown)}, "
                             f"which {settings.directory_file} does not list")
    check_campaign_files(settings.campaigns_dir, directory)
    async with infrastructure("escalation", SCHEMA, settings, tracer_provider) as infra:
        pseudonyms = Pseudonyms(settings.pseudonym_key) if settings.pseudonym_key else None
        if pseudonyms is None:
            log.warning("PSEUDONYM_KEY is not set: repeat offences across reports are not detected")
        book = FamilyBook(settings.escalation_data_key) if settings.escalation_data_key else None
        if book is None:
            log.warning("ESCALATION_DATA_KEY is not set: families are not kept informed of their case "
                        "(level raised, measures, closure)")
        families = Families(book, pseudonyms)
        handlers = EscalationHandlers(infra.pool, infra.relay, directory, policies, pseudonyms, families)
        infra.consumers.subscribe(IncidentReported, handlers.on_incident_reported)
        infra.consumers.subscribe(FollowUpReported, handlers.on_follow_up)
        infra.consumers.subscribe(NotificationDelivered, handlers.on_notification_outcome)
        infra.consumers.subscribe(NotificationFailed, handlers.on_notification_outcome)
        infra.consumers.subscribe(NotificationAcknowledged, handlers.on_acknowledged)
        infra.consumers.subscribe(NotificationReceived, handlers.on_received)
        infra.consumers.subscribe(HelpRequested, handlers.on_help_requested)
        # a school's plain reply (HelpMessageAdded) meets no duty: only a conversion or a resolution does
        infra.consumers.subscribe(HelpConverted, handlers.on_help_settled)
        infra.consumers.subscribe(HelpResolved, handlers.on_help_settled)
        infra.consumers.subscribe(HazardReported, handlers.on_hazard_reported)
        infra.consumers.subscribe(HazardProgressed, handlers.on_hazard_progressed)
        infra.consumers.subscribe(ChangeApproved, handlers.on_change_approved)
        infra.consumers.subscribe(LookBackCompleted, handlers.on_lookback_completed)
        infra.consumers.subscribe(OfficialActed, OfficialActs(infra.pool, infra.relay, directory, policies,
                                                              families).on_official_acted)
        infra.consumers.subscribe(DutyDischarged, handlers.on_discharged)
        infra.consumers.subscribe(LookBackRequested, handlers.on_lookback_requested)
        infra.consumers.subscribe(CampaignStarted, handlers.on_campaign_started)
        infra.consumers.subscribe(CampaignRecordFiled, handlers.on_campaign_record_filed)
        watchdog = Watchdog(infra.pool, infra.relay, directory, policies, infra.registry, infra.deps, clock,
                            settings.watchdog_interval_s)
        overdue = OverdueDuties(infra.pool, infra.registry, infra.deps)
        await infra.start()
        watchdog.loop.start()
        overdue.loop.start()
        try:
            async with AsyncExitStack() as edge:
                if settings.escalation_port:
                    await edge.enter_async_context(serve(ops_app(infra.tracer_provider, infra.registry),
                                                         settings.escalation_host, settings.escalation_port,
                                                         infra.deps))
                await edge.enter_async_context(serve_metrics(settings.metrics_host, settings.escalation_metrics_port,
                                                             infra.registry))
                yield Escalation(infra, watchdog)
        finally:
            await overdue.loop.stop()
            await watchdog.loop.stop()

"""Escalation's subscribers for campaigns: a start creates every duty (campaign_duties.py), a record filed
settles the duties of its phase that name its kind.

A start and a record reach escalation through separate durables, in any order. Every record is kept
(repository_campaigns: what it is, never its content) whether or not its campaign's start has been seen:
a start settles the duties the records already filed fulfil (the duty is born done), a record settles the
open duties of a start already seen. Nothing waits or retries, so a record for a campaign never started
where its school is stays kept and settles nothing.
"""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager

from services.escalation import repository, repository_campaigns, repository_duties
from services.escalation.campaign_duties import settled_by, start
from services.escalation.outbox import enqueue
from services.escalation.repository_campaigns import Record
from shared.campaign_plan import Campaign
from shared.consumer import Delivery
from shared.contracts.campaign import CampaignRecordFiled, CampaignStarted, campaign_case_id
from shared.db import Conn
from shared.directory import Directory
from shared.outbox import OutboxRelay, claim

log = logging.getLogger("antibully.escalation")


class CampaignHandling:
    """Mixed into EscalationHandlers, whose transaction (`_work`) publishes every duty it changed."""

    relay: OutboxRelay
    directory: Directory

    def _work(self) -> AbstractAsyncContextManager[Conn]:
        raise NotImplementedError

    async def on_campaign_started(self, event: CampaignStarted, _: Delivery) -> None:
        started = start(event, self.directory)
        async with self._work() as conn:
            if not await claim(conn, str(event.event_id), event.subject):
                return
            await repository_campaigns.serialised(conn, event.campaign_id)
            await repository_campaigns.save_start(conn, event)
            for case in started.cases:
                await repository.save_facts(conn, case.case_id, case.facts)
            await repository.save_obligations(conn, started.obligations)
            campaign: Campaign = event.campaign()
            for record in await repository_campaigns.records_of(conn, event.campaign_id, list(event.school_ids)):
                await _settle(conn, campaign, event.campaign_id, record)
            await enqueue(conn, *started.notices)
        if started.unknown:
            log.warning("campaign %s in %s escalates to %s, which the directory does not list: the bureau's duty "
                        "room is told instead", event.campaign_id, event.jurisdiction, sorted(started.unknown))
        log.info("campaign %s started in %s: %d duties for %d schools", event.campaign_id, event.jurisdiction,
                 len(started.obligations), len(event.school_ids))
        self.relay.kick()

    async def on_campaign_record_filed(self, event: CampaignRecordFiled, _: Delivery) -> None:
        async with self._work() as conn:
            if not await claim(conn, str(event.event_id), event.subject):
                return
            await repository_campaigns.serialised(conn, event.campaign_id)
            record = await repository_campaigns.save_record(conn, event)
            campaign = await repository_campaigns.plan_for_school(conn, event.campaign_id, event.school_id)
            if campaign is None:
                log.info("campaign %s: a %s record for %s before its start was seen; kept, it settles its duties "
                         "when the start arrives", event.campaign_id, event.kind.value, event.school_id)
                return
            await _settle(conn, campaign, event.campaign_id, record)


async def _settle(conn: Conn, campaign: Campaign, campaign_id: str, record: Record) -> int:
    """The open duties this record fulfils become done, by whoever filed it, when it was filed."""
    done = 0
    for obligation_id in settled_by(campaign, campaign_case_id(campaign_id, record.school_id), record.kind,
                                    record.phase_id):
        done += await repository_duties.task_done(conn, obligation_id, by=record.filed_by, how=record.kind,
                                                  note=None, evidence_ref=str(record.record_id), at=record.filed_at)
    return done

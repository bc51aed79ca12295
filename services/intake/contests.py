"""The bureau contests a school's resolution of a help request (OfficialActed, contest_help_resolution):
intake opens the request again, so that the school can answer anew, by a conversion into an incident
or a new resolution with a reason. Every other act is none of intake's business."""

from __future__ import annotations

import logging

import asyncpg

from services.intake import repository
from shared.consumer import Delivery
from shared.contracts.acts import Act, OfficialActed
from shared.outbox import claim

log = logging.getLogger("antibully.intake.contests")


class HelpContests:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def on_official_acted(self, event: OfficialActed, _: Delivery) -> None:
        if event.act is not Act.contest_help_resolution:
            return
        async with self.pool.acquire() as conn, conn.transaction():
            if await claim(conn, str(event.event_id), event.subject) and \
                    await repository.help_contested(conn, event.incident_id):
                log.info("help request %s: resolution contested, open again", event.incident_id)

"""Hazards intake did not accept itself: the bureau's screening of a school files each rectification it
orders as a hazard (the archive publishes the HazardReported, issue 16). intake learns of them from the bus,
so that the school reports rectification progress on them (POST /v1/hazards/{id}/progress) like on its own."""

from __future__ import annotations

import hashlib

import asyncpg

from services.intake import repository
from shared.consumer import Delivery
from shared.contracts.hazard import HazardReported


class PublishedHazards:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def on_hazard_reported(self, event: HazardReported, _: Delivery) -> None:
        # idempotent (the hazard's row is the mark): a redelivery or intake's own finding changes nothing
        mark = hashlib.sha256(b"published:" + event.hazard_id.bytes).digest()
        await repository.register_published_hazard(self.pool, event.hazard_id, event.school_id, mark)

"""Archive's subscriber logic: every event appended once to its case's chain, with the projection."""

from __future__ import annotations

import asyncpg
from opentelemetry.sdk.trace import TracerProvider

from services.archive import repository
from services.archive.bus_sections import BusSections
from services.archive.chain import next_entry
from services.archive.payloads import Payloads
from services.archive.projection import project
from services.archive.summary import summarise
from shared.consumer import Delivery
from shared.contracts.base import Event, utcnow
from shared.contracts.registry import EVENTS
from shared.directory import Directory
from shared.outbox import claim


class ArchiveHandlers:
    def __init__(self, pool: asyncpg.Pool, payloads: Payloads, directory: Directory,
                 tracer_provider: TracerProvider, sections: BusSections | None = None) -> None:
        self.sections = sections or BusSections("")
        self.pool = pool
        self.payloads = payloads
        self.directory = directory
        self.tracer = tracer_provider.get_tracer("antibully.archive")

    async def on_event(self, event: Event, _: Delivery) -> None:
        with self.tracer.start_as_current_span("archive.append", attributes={"antibully.event_type": event.event_type}):
            async with self.pool.acquire() as conn, conn.transaction():
                if not await claim(conn, str(event.event_id), event.subject):
                    return
                kept = self.sections.for_record(event)  # sealed sections opened (or dropped, if not ours)
                seq, head = await repository.lock_head(conn, event.case_id)
                payload_ct = await self.payloads.seal_payload(conn, event.case_id, event.event_id,
                                                              kept.model_dump_json().encode())
                entry = next_entry(event.case_id, seq, head, event.event_id, event.event_type,
                                   utcnow(), summarise(kept), payload_ct)
                await repository.append(conn, entry, payload_ct)
                await project(conn, kept, self.directory)  # as recorded: a record's content opened


# Every event on the bus: a new event type is archived without an edit here (shared/contracts/registry.py).
ARCHIVED_EVENTS: tuple[type[Event], ...] = EVENTS

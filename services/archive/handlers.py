"""Archive's subscriber logic: every event appended once to its case's chain, with the projection."""

from __future__ import annotations

import asyncpg
from opentelemetry.sdk.trace import TracerProvider

from services.archive import repository
from services.archive.chain import next_entry
from services.archive.payloads import Payloads
from services.archive.summary import summarise
from shared.bus import Delivery
from shared.contracts import (
    ChangeProposed,
    DeadlineMissed,
    EscalationDecided,
    IncidentReported,
    NotificationAcknowledged,
    NotificationDelivered,
    NotificationFailed,
    NotificationRequested,
)
from shared.contracts.base import Event, utcnow
from shared.contracts.follow_up import FollowUpReported
from shared.db import Conn
from shared.outbox import claim


class ArchiveHandlers:
    def __init__(self, pool: asyncpg.Pool, payloads: Payloads, tracer_provider: TracerProvider) -> None:
        self.pool = pool
        self.payloads = payloads
        self.tracer = tracer_provider.get_tracer("antibully.archive")

    async def on_event(self, event: Event, _: Delivery) -> None:
        with self.tracer.start_as_current_span("archive.append", attributes={"antibully.event_type": event.event_type}):
            async with self.pool.acquire() as conn, conn.transaction():
                if not await claim(conn, str(event.event_id), event.subject):
                    return
                seq, head = await repository.lock_head(conn, event.case_id)
                payload_ct = await self.payloads.seal_payload(conn, event.case_id, event.event_id,
                                                              event.model_dump_json().encode())
                entry = next_entry(event.case_id, seq, head, event.event_id, event.event_type,
                                   utcnow(), summarise(event), payload_ct)
                await repository.append(conn, entry, payload_ct)
                await self._project(conn, event)

    async def _project(self, conn: Conn, event: Event) -> None:
        match event:
            case IncidentReported():
                await repository.case_reported(conn, event.incident_id, event.school_id, event.occurred_at)
            case EscalationDecided():
                await repository.case_decided(
                    conn, event.incident_id, event.school_id, event.level.value, event.public_attention_wide,
                    [r.model_dump() for r in event.reasons], event.policy_version, event.occurred_at,
                )
                for r in event.recipients:
                    await repository.recipient_status(conn, r.notification_id, event.incident_id, r.role.value,
                                                      "requested")
            case NotificationRequested():
                await repository.recipient_status(conn, event.notification_id, event.incident_id,
                                                  event.recipient.role.value, "requested")
            case NotificationDelivered():
                await repository.recipient_status(conn, event.notification_id, event.incident_id, event.role.value,
                                                  "delivered")
            case NotificationAcknowledged():
                await repository.recipient_status(conn, event.notification_id, event.incident_id, event.role.value,
                                                  "acknowledged")
            case NotificationFailed():
                await repository.recipient_status(conn, event.notification_id, event.incident_id, event.role.value,
                                                  "failed", event.reason)


ARCHIVED_EVENTS: tuple[type[Event], ...] = (
    IncidentReported, FollowUpReported, EscalationDecided, DeadlineMissed, ChangeProposed,
    NotificationRequested, NotificationDelivered, NotificationFailed, NotificationAcknowledged,
)

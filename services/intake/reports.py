"""Turning an accepted report into its event (pure).

The incident id is derived from the school and its Idempotency-Key, so the same key
always names the same incident — across retries, restarts and parallel intake processes —
and the event id derived from it is the JetStream Nats-Msg-Id and every inbox's key.
"""

from __future__ import annotations

import uuid

from shared.contracts import IncidentReport, IncidentReported
from shared.contracts.base import derive_id


def incident_id_for(school_id: str, idempotency_key: str) -> uuid.UUID:
    return derive_id("incident", school_id, idempotency_key)


def reported_event(report: IncidentReport, idempotency_key: str) -> IncidentReported:
    incident_id = incident_id_for(report.school_id, idempotency_key)
    return IncidentReported(
        event_id=derive_id("incident-reported", incident_id),
        incident_id=incident_id,
        school_id=report.school_id,
        report=report,
    )

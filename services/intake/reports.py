"""Turning accepted submissions into events (pure).

Ids derive from the school and its Idempotency-Key, so the same key always names the same
incident or follow-up — across retries, restarts and parallel intake processes — and the
event id derived from it is the JetStream Nats-Msg-Id and every inbox's key.
"""

from __future__ import annotations

import uuid

from shared.contracts import IncidentReport, IncidentReported
from shared.contracts.base import derive_id
from shared.contracts.follow_up import FollowUp, FollowUpReported


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


def follow_up_id_for(school_id: str, idempotency_key: str) -> uuid.UUID:
    return derive_id("follow-up", school_id, idempotency_key)


def follow_up_event(
    incident_id: uuid.UUID, school_id: str, follow_up_id: uuid.UUID, seq: int, follow_up: FollowUp
) -> FollowUpReported:
    return FollowUpReported(
        event_id=derive_id("follow-up-reported", follow_up_id),
        incident_id=incident_id,
        school_id=school_id,
        follow_up_id=follow_up_id,
        seq=seq,
        follow_up=follow_up,
    )

"""Turning accepted submissions into events (pure).

Ids derive from the school and its Idempotency-Key, so the same key always names the same
incident or follow-up — across retries, restarts and parallel intake processes — and the
event id derived from it is the JetStream Nats-Msg-Id and every inbox's key.
"""

from __future__ import annotations

import uuid

from shared.bus_seal import Sealing, producer
from shared.contracts import IncidentReport, IncidentReported, ReportFacts, StudentFacts
from shared.contracts.base import derive_id
from shared.contracts.follow_up import FollowUp, FollowUpReported
from shared.contracts.incident import GuardianCard, guardian_context, report_context
from shared.contracts.sealed import ARCHIVE, NOTIFY


def incident_id_for(school_id: str, idempotency_key: str) -> uuid.UUID:
    return derive_id("incident", school_id, idempotency_key)


def reported_event(report: IncidentReport, idempotency_key: str, sealing: Sealing | None = None) -> IncidentReported:
    """The report's personal section sealed for the archive, each guardian's for notify; the rules' facts in
    clear. `sealing`: the readers' public keys (default: this process's settings)."""
    incident_id = incident_id_for(report.school_id, idempotency_key)
    seal = sealing or producer()
    students = []
    for s in report.students:
        cards = [GuardianCard(name=g.name, relation=g.relation, phone=g.phone, email=g.email, child_name=s.name)
                 for g in s.guardians]
        students.append(StudentFacts(ref=s.ref, role=s.role, person_key=s.person_key, guardians=[
            seal.seal(c.model_dump(mode="json"), guardian_context(incident_id), (NOTIFY,)) for c in cards]))
    facts = ReportFacts(school_id=report.school_id, occurred_at=report.occurred_at,
                        discovered_at=report.discovered_at, category=report.category, students=students,
                        indicators=report.indicators, proposed_level=report.proposed_level)
    return IncidentReported(
        event_id=derive_id("incident-reported", incident_id),
        incident_id=incident_id,
        school_id=report.school_id,
        schema_version=2,
        rules=facts,
        personal=seal.seal(report.model_dump(mode="json"), report_context(incident_id), (ARCHIVE,)),
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

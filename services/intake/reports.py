"""Turning accepted submissions into events (pure, but for the sealing's fresh keys).

Ids derive from the school and its Idempotency-Key, so the same key always names the same
incident or follow-up — across retries, restarts and parallel intake processes — and the
event id derived from it is the JetStream Nats-Msg-Id and every inbox's key.
"""

from __future__ import annotations

import uuid

from shared.bus_seal import Sealing, producer
from shared.contracts import IncidentReport, IncidentReported, ReportFacts, StudentFacts, StudentRole
from shared.contracts.base import derive_id
from shared.contracts.duties import note_context
from shared.contracts.follow_up import (
    CorrectedFacts,
    Dated,
    FollowUp,
    FollowUpFacts,
    FollowUpReported,
    TaskFacts,
    follow_up_context,
)
from shared.contracts.incident import Guardian, GuardianCard, guardian_context, report_context
from shared.contracts.sealed import ARCHIVE, NOTIFY, Sealed

NOTIFIED = (StudentRole.victim, StudentRole.perpetrator)


def incident_id_for(school_id: str, idempotency_key: str) -> uuid.UUID:
    return derive_id("incident", school_id, idempotency_key)


def reported_event(report: IncidentReport, idempotency_key: str, sealing: Sealing | None = None) -> IncidentReported:
    """The report's personal section sealed for the archive, each guardian's for notify; the rules' facts in
    clear. `sealing`: the readers' public keys (default: this process's settings)."""
    incident_id = incident_id_for(report.school_id, idempotency_key)
    seal = sealing or producer()
    students = []
    for s in report.students:
        # only the families a notice may go to get a box for notify; a bystander's stay in the archive's section
        cards = [GuardianCard(name=g.name, relation=g.relation, phone=g.phone, email=g.email, child_name=s.name)
                 for g in s.guardians] if s.role in NOTIFIED else []
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
    incident_id: uuid.UUID, school_id: str, follow_up_id: uuid.UUID, seq: int, follow_up: FollowUp,
    sealing: Sealing | None = None,
) -> FollowUpReported:
    """Like a report: the rules' facts in clear, the follow-up sealed for the archive, each added or corrected
    guardian's contact sealed for notify."""
    seal = sealing or producer()
    f = follow_up

    def boxes(guardians: list[Guardian], child: str | None) -> list[Sealed]:
        return [seal.seal(GuardianCard(name=g.name, relation=g.relation, phone=g.phone, email=g.email,
                                       child_name=child).model_dump(mode="json"), guardian_context(incident_id),
                          (NOTIFY,)) for g in guardians]

    rules = FollowUpFacts(
        indicators=f.indicators, measures_count=len(f.measures_taken), propose_closure=f.propose_closure,
        sanctions=[Dated(student_ref=s.student_ref, at=s.decided_at) for s in f.sanctions],
        counselling=[Dated(student_ref=c.student_ref, at=c.given_at) for c in f.counselling],
        completed=[TaskFacts(action=t.action, student_ref=t.student_ref, done_at=t.done_at,
                             note_sealed=seal.seal(t.note, note_context(incident_id)) if t.note else None,
                             evidence_ref=t.evidence.reference if t.evidence else None) for t in f.completed],
        students_added=[StudentFacts(ref=s.ref, role=s.role, person_key=s.person_key,
                                     guardians=boxes(s.guardians, s.name) if s.role in NOTIFIED else [])
                        for s in f.students_added],
        guardians_corrected=[CorrectedFacts(student_ref=c.student_ref, guardians=boxes(c.guardians, None))
                             for c in f.guardians_corrected])
    return FollowUpReported(
        event_id=derive_id("follow-up-reported", follow_up_id),
        incident_id=incident_id,
        school_id=school_id,
        follow_up_id=follow_up_id,
        seq=seq,
        schema_version=2,
        rules=rules,
        personal=seal.seal(f.model_dump(mode="json"), follow_up_context(incident_id, follow_up_id), (ARCHIVE,)),
    )

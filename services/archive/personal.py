"""The personal section of a case (pure): names, guardian contacts and free-text facts, opened from
the sealed payloads only for a role that may see them, and only as much as it may see.

A family's messages to the school (through its notice's page) are for the school and the bureau only
(the full view): the police see the students involved, not what a family wrote to the school."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from services.archive.act_views import ActText, act_text
from services.archive.duties import DutyNote
from services.archive.scopes import INVOLVED_ROLES, PersonalView
from shared.contracts import Guardian, IncidentReport, IncidentReported, Reporter, Student
from shared.contracts.acts import LookBackRequested, OfficialActed
from shared.contracts.base import Event
from shared.contracts.follow_up import FollowUp, FollowUpReported
from shared.contracts.hazard import HazardFinding, HazardProgress, HazardProgressed, HazardReported
from shared.contracts.help import HelpMessageAdded, HelpRequested, HelpResolved, Requester
from shared.contracts.notification import FamilyMessageAdded

# The entries whose sealed payload holds personal data or free text.
PERSONAL_EVENTS: tuple[type[Event], ...] = (
    IncidentReported, FollowUpReported, HazardReported, HazardProgressed, HelpRequested, HelpMessageAdded,
    OfficialActed,
    FamilyMessageAdded,
    HelpResolved,
    LookBackRequested,
)


class PersonalStudent(BaseModel):
    ref: str
    role: str
    name: str
    grade: str
    guardians: list[Guardian]
    added_in_follow_up: int | None = None  # the follow-up (its seq) that found the student; None: the report


class Fact(BaseModel):
    """Free text from one record entry (a report, a follow-up, a rectification step)."""

    seq: int
    event_type: str
    text: dict[str, Any]


class HelpMessageView(BaseModel):
    seq: int
    author: str
    text: str


class FamilyMessageView(BaseModel):
    """A family's message to the school: which family (victim's or perpetrator's), when, what."""

    seq: int
    role: str
    at: datetime
    notification_id: str
    text: str


class HelpResolutionView(BaseModel):
    """A school's resolution of a help request with its reason, for the school and the bureau (who may
    contest it); the timeline shows only its kind."""

    seq: int
    resolution: str
    reason: str
    by: str


class Personal(BaseModel):
    students: list[PersonalStudent] = []
    reporter: Reporter | None = None
    requester: Requester | None = None
    facts: list[Fact] = []
    messages: list[HelpMessageView] = []
    acts: list[ActText] = []  # officials' reasons and police outcomes, in record order
    family_messages: list[FamilyMessageView] = []
    duty_notes: list[DutyNote] = []  # notes on duties (free text by a school or an official); all-view roles only
    resolutions: list[HelpResolutionView] = []
    unavailable_seqs: list[int] = []  # entries whose data key was destroyed: shredded for good


def personal_section(view: PersonalView, opened: list[tuple[int, Event | None]]) -> Personal | None:
    """`opened`: (seq, event or None when its key is gone) of the case's PERSONAL_EVENTS entries."""
    if view is PersonalView.none:
        return None
    out = Personal()
    reported: list[Student] = []
    follow_ups: list[FollowUpReported] = []
    for seq, event in opened:
        match event:
            case None:
                out.unavailable_seqs.append(seq)
            case IncidentReported(report=IncidentReport() as r):  # opened by the archive before it was recorded
                reported = r.students
                out.reporter = r.reporter
                out.facts.append(Fact(seq=seq, event_type=event.event_type, text={
                    "location": r.location, "cause": r.cause, "course": r.course, "measures_taken": r.measures_taken}))
            case FollowUpReported(follow_up=FollowUp() as f):  # opened by the archive before it was recorded
                follow_ups.append(event)
                out.facts.append(Fact(seq=seq, event_type=event.event_type, text={
                    "facts_changed": f.facts_changed, "outcome": f.outcome, "measures_taken": f.measures_taken}))
            case HazardReported(finding=HazardFinding() as f):  # opened by the archive before it was recorded
                out.facts.append(Fact(seq=seq, event_type=event.event_type, text={
                    "observed": f.observed, "intervention": f.intervention,
                    "rectification": f.rectification.model_dump(mode="json")}))
            case HazardProgressed(progress=HazardProgress() as p):
                out.facts.append(Fact(seq=seq, event_type=event.event_type, text={"step": p.step}))
            case HelpRequested():
                out.requester = event.requester
                out.messages.append(HelpMessageView(seq=1, author="requester", text=event.message or ""))
            case HelpMessageAdded():
                out.messages.append(HelpMessageView(seq=event.seq, author=event.author.value, text=event.text or ""))
            case OfficialActed():
                out.acts.append(act_text(seq, event))
            case FamilyMessageAdded() if view is PersonalView.all:
                out.family_messages.append(FamilyMessageView(seq=seq, role=event.role.value, at=event.occurred_at,
                                                             notification_id=str(event.notification_id),
                                                             text=event.text or ""))
            case HelpResolved():
                out.resolutions.append(HelpResolutionView(seq=seq, resolution=event.resolution.value,
                                                          reason=event.reason or "", by=event.by))
            case LookBackRequested():
                out.facts.append(Fact(seq=seq, event_type=event.event_type, text={"reason": event.reason}))
    # the conversation's own order: its events reach the archive through different consumers, in any order
    out.messages.sort(key=lambda m: m.seq)
    # families' messages in the order they wrote them (the archive may receive two sent ms apart the other way)
    out.family_messages.sort(key=lambda m: (m.at, m.seq))
    out.students = _students(view, reported, follow_ups)
    return out


def _students(view: PersonalView, reported: list[Student], follow_ups: list[FollowUpReported]
              ) -> list[PersonalStudent]:
    """The report's students, then those follow-ups found, with guardians as last corrected — in the
    follow-ups' own order (the archive may receive a follow-up before its report)."""
    students = {s.ref: PersonalStudent(ref=s.ref, role=s.role.value, name=s.name, grade=s.grade,
                                       guardians=s.guardians) for s in reported}
    for fu in sorted(follow_ups, key=lambda e: e.seq):
        if fu.follow_up is None:
            continue
        for s in fu.follow_up.students_added:
            students.setdefault(s.ref, PersonalStudent(ref=s.ref, role=s.role.value, name=s.name, grade=s.grade,
                                                       guardians=s.guardians, added_in_follow_up=fu.seq))
        for c in fu.follow_up.guardians_corrected:
            if c.student_ref in students:
                students[c.student_ref].guardians = c.guardians
    return [s for s in students.values() if view is PersonalView.all or s.role in INVOLVED_ROLES]

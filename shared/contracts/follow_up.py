"""Follow-up reports (续报): what changed since the report, each its own event, numbered per incident."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, Field, StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

from shared.contracts.base import IncidentEvent, Strict
from shared.contracts.incident import (
    EvidenceRef,
    Guardian,
    Indicators,
    LongText,
    Ref,
    ShortText,
    Student,
    StudentFacts,
    not_in_future,
)
from shared.contracts.sealed import Sealed
from shared.contracts.text import NO_CONTROLS
from shared.subjects import FOLLOW_UP_REPORTED

Measure = Annotated[str, StringConstraints(min_length=1, max_length=1000), NO_CONTROLS]


class Sanction(Strict):
    student_ref: Ref
    measure: ShortText = Field(examples=["警告处分"])
    decided_at: AwareDatetime

    @field_validator("decided_at")
    @classmethod
    def _not_future(cls, v: datetime) -> datetime:
        return not_in_future(v)


class Counselling(Strict):
    student_ref: Ref
    given_at: AwareDatetime
    by: ShortText = Field(examples=["心理健康教师"])

    @field_validator("given_at")
    @classmethod
    def _not_future(cls, v: datetime) -> datetime:
        return not_in_future(v)


class TaskDone(Strict):
    """A required task reported done: any action the policy can create, by its id (as the school's duty list
    names it), for one student where the duty is per student."""

    action: Ref = Field(examples=["quality_evaluation_note"])
    student_ref: Ref | None = None
    done_at: AwareDatetime
    note: LongText | None = Field(default=None, description="How it was done; no other child's name.")
    evidence: EvidenceRef | None = None

    @field_validator("done_at")
    @classmethod
    def _not_future(cls, v: datetime) -> datetime:
        return not_in_future(v)


class GuardiansCorrected(Strict):
    """A student's guardians as they really are: replaces what the report (or an earlier follow-up) said."""

    student_ref: Ref
    guardians: list[Guardian] = Field(min_length=1, max_length=4)


class FollowUp(Strict):
    facts_changed: LongText | None = Field(default=None, description="What is now known that the report did not say.")
    indicators: Indicators | None = Field(default=None, description="The full, current set of indicators.")
    measures_taken: list[Measure] = Field(default_factory=list, max_length=50)
    sanctions: list[Sanction] = Field(default_factory=list, max_length=50)
    counselling: list[Counselling] = Field(default_factory=list, max_length=50)
    completed: list[TaskDone] = Field(default_factory=list, max_length=50,
                                      description="Required tasks done since the last report, any the policy names.")
    students_added: list[Student] = Field(default_factory=list, max_length=20,
                                          description="Students newly found to be involved (a victim, a perpetrator).")
    guardians_corrected: list[GuardiansCorrected] = Field(default_factory=list, max_length=50)
    outcome: LongText | None = None
    propose_closure: bool = False

    @model_validator(mode="after")
    def _says_something(self) -> FollowUp:
        if not (self.facts_changed or self.indicators or self.measures_taken or self.sanctions
                or self.counselling or self.completed or self.students_added or self.guardians_corrected
                or self.outcome or self.propose_closure):
            raise PydanticCustomError("empty_follow_up", "a follow-up must report at least one change")
        refs = [s.ref for s in self.students_added]
        if len(set(refs)) != len(refs):
            raise PydanticCustomError("duplicate_ref", "students_added[].ref must be unique")
        return self


class Dated(Strict):
    """A sanction or counselling as the rules see it: whose, and when (the measure and who gave it are sealed)."""

    student_ref: Ref
    at: AwareDatetime


class TaskFacts(Strict):
    """A task reported done: its note sealed for the archive (escalation records it on the duty unread), the
    evidence's reference (where the school keeps it) in clear."""

    action: Ref
    student_ref: Ref | None = None
    done_at: AwareDatetime
    note_sealed: Sealed | None = None
    evidence_ref: str | None = None


class CorrectedFacts(Strict):
    student_ref: Ref
    guardians: list[Sealed] = Field(min_length=1, max_length=4, description="Each guardian's box, for notify.")


class FollowUpFacts(Strict):
    """What escalation needs of a follow-up, nothing personal: texts, names and contacts are sealed."""

    indicators: Indicators | None = None
    measures_count: int = Field(default=0, ge=0)
    sanctions: list[Dated] = Field(default_factory=list, max_length=50)
    counselling: list[Dated] = Field(default_factory=list, max_length=50)
    completed: list[TaskFacts] = Field(default_factory=list, max_length=50)
    students_added: list[StudentFacts] = Field(default_factory=list, max_length=20)
    guardians_corrected: list[CorrectedFacts] = Field(default_factory=list, max_length=50)
    propose_closure: bool = False


def follow_up_context(case_id: object, follow_up_id: object) -> str:
    return f"FollowUpReported:{case_id}:{follow_up_id}"


class FollowUpReported(IncidentEvent):
    """v2: `rules` in clear, the follow-up as the school sent it in `personal`, sealed for the archive (like
    IncidentReported); v1 and the archive's opened copy carry `follow_up`."""

    event_type: ClassVar[str] = "FollowUpReported"
    subject: ClassVar[str] = FOLLOW_UP_REPORTED

    school_id: str
    follow_up_id: uuid.UUID
    seq: int = Field(ge=1, description="1, 2, 3… per incident, in the order intake accepted them.")
    follow_up: FollowUp | None = Field(default=None, description="v1, and the archive's opened copy.")
    rules: FollowUpFacts | None = Field(default=None, description="v2: what escalation's rules need.")
    personal: Sealed | None = Field(default=None, description="v2: the FollowUp, sealed for the archive.")

    @model_validator(mode="after")
    def _has_a_follow_up(self) -> FollowUpReported:
        if self.follow_up is None and self.rules is None:
            raise PydanticCustomError("follow_up_missing", "a FollowUpReported carries `rules` or `follow_up`")
        return self

    @property
    def facts(self) -> FollowUpFacts:
        """The rules' view (a v1 event reduced to it: its guardians, having no box, are not carried on)."""
        if self.rules is not None:
            return self.rules
        f = self.follow_up
        assert f is not None
        return FollowUpFacts(
            indicators=f.indicators, measures_count=len(f.measures_taken), propose_closure=f.propose_closure,
            sanctions=[Dated(student_ref=s.student_ref, at=s.decided_at) for s in f.sanctions],
            counselling=[Dated(student_ref=c.student_ref, at=c.given_at) for c in f.counselling],
            completed=[TaskFacts(action=t.action, student_ref=t.student_ref, done_at=t.done_at,
                                 evidence_ref=t.evidence.reference if t.evidence else None) for t in f.completed],
            students_added=[StudentFacts(ref=s.ref, role=s.role, person_key=s.person_key) for s in f.students_added])

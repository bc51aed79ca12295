"""Hazard findings (苗头迹象 / 隐患点): what screening finds before anything is an incident.

Plan 2(2)/2(3): every finding is reported with the intervention taken and a rectification
measure (the ledger, 台账), and the rectification is followed to its end as numbered progress
events. Students appear only by the school's pseudonymous reference: the model has no field a
name could go in.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from shared.contracts.base import Event, Strict
from shared.contracts.incident import (
    NATIONAL_ID,
    PERSON_KEY,
    LongText,
    NationalId,
    PersonKey,
    Ref,
    ShortText,
    not_in_future,
)
from shared.contracts.sealed import Sealed
from shared.subjects import HAZARD_PROGRESSED, HAZARD_REPORTED


class HazardKind(StrEnum):
    early_sign = "early_sign"  # 苗头迹象: a student or group showing signs
    hazard_point = "hazard_point"  # 隐患点: a place, time or situation where bullying could happen


class HazardRole(StrEnum):
    involved = "involved"
    at_risk = "at_risk"


class RiskLevel(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class HazardStudent(Strict):
    ref: Ref = Field(description="The school's pseudonymous reference for the student; never a name or ID number.")
    role: HazardRole
    national_id: NationalId | None = NATIONAL_ID
    person_key: PersonKey | None = PERSON_KEY


class Rectification(Strict):
    plan: LongText
    due_date: date = Field(description="When the rectification must be complete; not before the finding's date.")
    responsible: ShortText = Field(examples=["德育处"])


class HazardFinding(Strict):
    school_id: Ref
    found_at: AwareDatetime
    kind: HazardKind
    students: list[HazardStudent] = Field(default_factory=list, max_length=50)
    observed: LongText = Field(description="What was seen.")
    risk_level: RiskLevel
    intervention: LongText = Field(description="The intervention already taken.")
    rectification: Rectification
    client_ref: Ref | None = Field(
        default=None, description="The row's id in the school's screening sheet; required in batch uploads.")

    @field_validator("found_at")
    @classmethod
    def _found_not_future(cls, v: datetime) -> datetime:
        return not_in_future(v)

    @field_validator("students")
    @classmethod
    def _refs_unique(cls, v: list[HazardStudent]) -> list[HazardStudent]:
        refs = [s.ref for s in v]
        if len(set(refs)) != len(refs):
            raise PydanticCustomError("duplicate_ref", "students[].ref must be unique within a report")
        return v

    @field_validator("rectification")
    @classmethod
    def _due_after_found(cls, v: Rectification, info: ValidationInfo) -> Rectification:
        found = info.data.get("found_at")
        if found is not None and v.due_date < found.date():
            raise PydanticCustomError("due_before_found", "rectification.due_date must not be before found_at")
        return v


class BatchFinding(HazardFinding):
    """A row of a batch upload: its client_ref names the hazard, so a re-upload does not duplicate it."""

    client_ref: Ref = Field(description="The row's id in the school's screening sheet.")


class HazardProgress(Strict):
    at: AwareDatetime
    step: LongText = Field(description="What was done for the rectification.")
    completed: bool = Field(default=False, description="true: the rectification is complete.")

    @field_validator("at")
    @classmethod
    def _not_future(cls, v: datetime) -> datetime:
        return not_in_future(v)


class HazardEvent(Event):
    hazard_id: uuid.UUID

    @property
    def case_id(self) -> uuid.UUID:
        return self.hazard_id


class HazardFacts(Strict):
    """What escalation and the record's projection need of a finding; what was seen and done is sealed."""

    school_id: Ref
    found_at: AwareDatetime
    kind: HazardKind
    students: list[HazardStudent] = Field(default_factory=list, max_length=50)
    risk_level: RiskLevel
    due_date: date
    client_ref: Ref | None = None


class ProgressFacts(Strict):
    at: AwareDatetime
    completed: bool = False


class HazardReported(HazardEvent):
    """v2: `rules` in clear, the finding as reported sealed for the archive in `personal` (v1 and the
    archive's opened copy: `finding`)."""

    event_type: ClassVar[str] = "HazardReported"
    subject: ClassVar[str] = HAZARD_REPORTED

    school_id: Ref
    finding: HazardFinding | None = None
    rules: HazardFacts | None = None
    personal: Sealed | None = Field(default=None, description="v2: the HazardFinding, sealed for the archive.")

    @model_validator(mode="after")
    def _has_a_finding(self) -> HazardReported:
        if self.finding is None and self.rules is None:
            raise PydanticCustomError("finding_missing", "a HazardReported carries `rules` or `finding`")
        return self

    @property
    def facts(self) -> HazardFacts:
        if self.rules is not None:
            return self.rules
        f = self.finding
        assert f is not None
        return hazard_facts(f)


def hazard_facts(f: HazardFinding) -> HazardFacts:
    return HazardFacts(school_id=f.school_id, found_at=f.found_at, kind=f.kind, students=[
        s.model_copy(update={"national_id": None}) for s in f.students], risk_level=f.risk_level,
        due_date=f.rectification.due_date, client_ref=f.client_ref)


class HazardProgressed(HazardEvent):
    """v2: when and whether complete in clear; the step's text sealed for the archive (v1: `progress`)."""

    event_type: ClassVar[str] = "HazardProgressed"
    subject: ClassVar[str] = HAZARD_PROGRESSED

    school_id: Ref
    progress_id: uuid.UUID
    seq: int = Field(ge=1, description="1, 2, 3… per hazard, in the order intake accepted them.")
    progress: HazardProgress | None = None
    rules: ProgressFacts | None = None
    personal: Sealed | None = Field(default=None, description="v2: the HazardProgress, sealed for the archive.")

    @model_validator(mode="after")
    def _has_a_progress(self) -> HazardProgressed:
        if self.progress is None and self.rules is None:
            raise PydanticCustomError("progress_missing", "a HazardProgressed carries `rules` or `progress`")
        return self

    @property
    def facts(self) -> ProgressFacts:
        if self.rules is not None:
            return self.rules
        assert self.progress is not None
        return ProgressFacts(at=self.progress.at, completed=self.progress.completed)


def hazard_context(event_type: str, hazard_id: object, event_id: object) -> str:
    return f"{event_type}:{hazard_id}:{event_id}"

"""What a school reports: the incident body (HTTP and bus) and the IncidentReported event."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, Field, StringConstraints, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from shared.contracts.base import IncidentEvent, Strict, utcnow
from shared.contracts.escalation import Level
from shared.contracts.sealed import Sealed
from shared.contracts.text import NO_CONTROLS
from shared.subjects import INCIDENT_REPORTED

CLOCK_SKEW = timedelta(minutes=5)

ShortText = Annotated[str, StringConstraints(min_length=1, max_length=100), NO_CONTROLS]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=5000), NO_CONTROLS]
Ref = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,63}$")]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9 -]{5,20}$")]


def not_in_future(v: datetime) -> datetime:
    if v > utcnow() + CLOCK_SKEW:
        raise PydanticCustomError("time_future", "must not be in the future")
    return v


class Category(StrEnum):
    physical = "physical"
    verbal = "verbal"
    relational = "relational"
    cyber = "cyber"
    property = "property"
    other = "other"


class StudentRole(StrEnum):
    victim = "victim"
    perpetrator = "perpetrator"
    bystander = "bystander"


class Injury(StrEnum):
    none = "none"
    minor = "minor"
    serious = "serious"
    grave = "grave"


class PublicAttention(StrEnum):
    none = "none"
    local = "local"
    wide = "wide"


class Guardian(Strict):
    name: ShortText
    relation: ShortText = Field(examples=["母亲"])
    phone: Phone | None = None
    email: Email | None = None


NationalId = Annotated[str, StringConstraints(pattern=r"^G?[0-9]{17}[0-9Xx]$")]
PersonKey = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
NATIONAL_ID = Field(
    default=None, description="The national student number (学籍号), optional. Used only to recognise the same "
    "student across schools: intake replaces it with a keyed pseudonym and never stores or forwards it.")
PERSON_KEY = Field(default=None, description="Set by intake from national_id; a value sent by a school is refused.")


class Student(Strict):
    ref: Ref = Field(description="The school's pseudonymous reference for the student; never a name or ID number.")
    role: StudentRole
    name: ShortText
    grade: ShortText
    guardians: list[Guardian] = Field(default_factory=list, max_length=4)
    national_id: NationalId | None = NATIONAL_ID
    person_key: PersonKey | None = PERSON_KEY


class Reporter(Strict):
    name: ShortText
    role: ShortText = Field(examples=["班主任"])


class Indicators(Strict):
    injury: Injury = Injury.none
    violence: bool = False
    weapon: bool = False
    group: bool = False
    repeated_after_education: bool = False
    suspected_crime: bool = False
    public_attention: PublicAttention = PublicAttention.none


class EvidenceKind(StrEnum):
    photo = "photo"
    video = "video"
    audio = "audio"
    document = "document"
    chat_log = "chat_log"
    other = "other"


class EvidenceRef(Strict):
    """A pointer to evidence the school keeps; the evidence itself never travels here."""

    kind: EvidenceKind
    reference: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="Where the school keeps it (file number, archive location or URI).")
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None


class IncidentReport(Strict):
    school_id: Ref
    occurred_at: AwareDatetime
    discovered_at: AwareDatetime
    location: ShortText
    category: Category
    cause: LongText
    course: LongText
    students: list[Student] = Field(min_length=1, max_length=50)
    reporter: Reporter
    measures_taken: list[Annotated[str, StringConstraints(min_length=1, max_length=1000), NO_CONTROLS]] = Field(
        default_factory=list, max_length=50
    )
    indicators: Indicators
    proposed_level: Level | None = Field(
        default=None, description="The school's own view of the level. The rules decide; a lower proposal is flagged.")
    evidence: list[EvidenceRef] = Field(default_factory=list, max_length=20)

    @field_validator("occurred_at")
    @classmethod
    def _occurred_not_future(cls, v: datetime) -> datetime:
        return not_in_future(v)

    @field_validator("discovered_at")
    @classmethod
    def _discovered_after_occurred(cls, v: datetime, info: ValidationInfo) -> datetime:
        occurred = info.data.get("occurred_at")
        if occurred is not None and occurred > v:
            raise PydanticCustomError("time_order", "occurred_at must not be later than discovered_at")
        return not_in_future(v)

    @field_validator("students")
    @classmethod
    def _refs_unique(cls, v: list[Student]) -> list[Student]:
        refs = [s.ref for s in v]
        if len(set(refs)) != len(refs):
            raise PydanticCustomError("duplicate_ref", "students[].ref must be unique within a report")
        return v


class StudentFacts(Strict):
    """A student as the rules see one on the bus: the school's pseudonymous ref, the role, intake's person key.
    Name, grade and guardians are sealed: each guardian's box is for notify (and carried forward unread)."""

    ref: Ref
    role: StudentRole
    person_key: PersonKey | None = None
    guardians: list[Sealed] = Field(default_factory=list, max_length=4, description="One box per guardian, sealed "
                                    "for notify: name, relation, phone, e-mail and the child's name (GuardianCard).")


class ReportFacts(Strict):
    """What escalation's rules need of a report, and nothing personal: the rest travels sealed for the archive."""

    school_id: Ref
    occurred_at: AwareDatetime
    discovered_at: AwareDatetime
    category: Category
    students: list[StudentFacts] = Field(min_length=1, max_length=50)
    indicators: Indicators
    proposed_level: Level | None = None


class GuardianCard(Strict):
    """What a guardian's box holds: how notify addresses and greets the parent, and names their own child."""

    name: str
    relation: str
    phone: str | None = None
    email: str | None = None
    child_name: str | None = Field(default=None, description="None for a guardian corrected by a follow-up: it "
                                   "names the student by ref only.")


def guardian_context(case_id: object) -> str:
    """A guardian's box belongs to its case: moved to another case's notice, it does not open."""
    return f"guardian:{case_id}"


def report_context(case_id: object) -> str:
    return f"IncidentReported:{case_id}"


class IncidentReported(IncidentEvent):
    """v2: `report` holds the rules' facts and `personal` the report as the school sent it, sealed for the
    archive. v1 (before sealing; still in old archive entries) carried the whole report in clear; the archive
    stores a v2 event opened again, i.e. in the v1 shape, under the case's own data key."""

    event_type: ClassVar[str] = "IncidentReported"
    subject: ClassVar[str] = INCIDENT_REPORTED

    school_id: Ref
    report: IncidentReport | None = Field(default=None, description="v1, and the archive's opened copy: the report "
                                          "as the school sent it. Never on the bus from v2 on.")
    rules: ReportFacts | None = Field(default=None, description="v2: what escalation's rules need, nothing personal.")
    personal: Sealed | None = Field(default=None, description="v2: the IncidentReport (names, contacts, free "
                                    "text), sealed for the archive.")

    @model_validator(mode="after")
    def _has_a_report(self) -> IncidentReported:
        if self.report is None and self.rules is None:
            raise PydanticCustomError("report_missing", "an IncidentReported carries `rules` (v2) or `report` (v1)")
        return self

    @property
    def facts(self) -> ReportFacts:
        """The rules' view. A v1 event in clear is reduced to it; its guardians, having no box, are not carried
        on (only during an upgrade: drain the streams first, see docs/security.md)."""
        if self.rules is not None:
            return self.rules
        r = self.report
        assert r is not None
        return ReportFacts(school_id=r.school_id, occurred_at=r.occurred_at, discovered_at=r.discovered_at,
                           category=r.category, indicators=r.indicators, proposed_level=r.proposed_level,
                           students=[StudentFacts(ref=s.ref, role=s.role, person_key=s.person_key)
                                     for s in r.students])

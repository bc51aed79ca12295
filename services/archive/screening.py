"""Screening records (issue 16, work plan 二(二)): a school's return on screening all its students, and the
bureau's screening of a school on the seven aspects (pure: bodies, their rules, ids, facts and the hazards).

A return says either what it found — hazards already filed through the hazard flow, named by id — or,
explicitly, that nothing was found: "screened, nothing found" must be told apart from "not screened".
The bureau's screening names each of the seven aspects once; an aspect with a problem carries a
rectification with a due date, and each rectification becomes a hazard (kind hazard_point) that escalation
holds the school to and the school reports progress on, like any other.

Ids derive from the body (the archive has no Idempotency-Key): the record's from the filer, the school,
the campaign and phase, the body and the record it supersedes, so the same request sent twice is one
record, and a return sent again after another one is a new record that supersedes it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.contracts.base import derive_id
from shared.contracts.campaign import ASPECT_ZH, Aspect, RecordFacts, RecordKind
from shared.contracts.hazard import HazardFinding, HazardKind, Rectification, RiskLevel
from shared.contracts.text import NO_CONTROLS
from shared.errors import ApiError, FieldError

TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"  # something besides blanks, no NUL (services/archive/deps.py's TEXT)
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=TEXT), NO_CONTROLS]
Short = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=TEXT), NO_CONTROLS]
MAX_HAZARDS = 200
LAST_DAY = date(2999, 12, 31)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class StudentScreeningReturn(_Body):
    """A school's return on screening all its students this phase (its own staff file it)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"students_screened": 1250, "parent_talks": 310, "nothing_found": False,
         "hazard_ids": ["6f1c2a4e-0d1b-5c3e-9a8f-2b7d4e6f8a10"], "note": "已逐班排查，发现一处隐患点，已上报。"},
        {"students_screened": 860, "parent_talks": 120, "nothing_found": True, "hazard_ids": []}]})

    students_screened: int = Field(ge=0, le=100_000, description="Students screened (all the school's students).")
    parent_talks: int = Field(ge=0, le=100_000, description="Talks with parents held.")
    nothing_found: bool = Field(default=False, description="true: screened, explicitly nothing found.")
    hazard_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_HAZARDS, description=(
        "What it found, each already filed as a hazard of this school (intake's POST /v1/hazards, or the "
        "console's 上报隐患)."))
    note: Text | None = Field(default=None, description="Free text, no child's name; sealed in the record.")


class AspectRectification(_Body):
    plan: Text
    due_date: date = Field(description="When the rectification must be complete (today or later).")
    responsible: Short = Field(examples=["德育处"])


class AspectFinding(_Body):
    aspect: Aspect
    finding: Text = Field(description="What the screening found on this aspect.")
    problem: Text | None = Field(default=None, description="The problem, if any: it needs a rectification.")
    rectification: AspectRectification | None = None
    risk_level: RiskLevel = Field(default=RiskLevel.medium, description="Of the hazard the problem becomes.")


SCREENING_EXAMPLE: dict[str, Any] = {"aspects": [
    *({"aspect": a.value, "finding": f"{ASPECT_ZH[a]}情况良好。"} for a in Aspect if a is not Aspect.facilities),
    {"aspect": "facilities", "finding": "教学楼东侧楼梯间无监控。", "problem": "楼梯间存在监控盲区。",
     "rectification": {"plan": "加装监控并安排课间巡查。", "due_date": "2027-03-20", "responsible": "后勤处"},
     "risk_level": "medium"}], "note": "现场查看并查阅制度台账。"}


class SchoolScreening(_Body):
    """The bureau's screening of one school: the seven aspects, each once."""

    model_config = ConfigDict(json_schema_extra={"examples": [SCREENING_EXAMPLE]})

    aspects: list[AspectFinding] = Field(min_length=len(Aspect), max_length=len(Aspect),
                                         description="Each of the seven aspects exactly once.")
    note: Text | None = None


class RecordAccepted(BaseModel):
    record_id: uuid.UUID
    event_id: uuid.UUID
    kind: RecordKind
    hazard_ids: list[uuid.UUID] = Field(description="The hazards the record names (a screening: those it filed).")
    status: str = "accepted"
    note_zh: str


def invalid(errors: list[FieldError]) -> ApiError:
    return ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                    errors=errors)


def _error(field: str, reason: str, reason_zh: str) -> FieldError:
    return FieldError(field=field, reason=reason, reason_zh=reason_zh)


def check_return(body: StudentScreeningReturn) -> None:
    """Either findings or an explicit "nothing found", never both nor neither (422)."""
    if body.nothing_found and body.hazard_ids:
        raise invalid([_error("nothing_found", "nothing_found is true but hazards are named: say one or the other.",
                              "已勾选“排查未发现问题”，但又列出了隐患，请二选一。")])
    if not body.nothing_found and not body.hazard_ids:
        raise invalid([_error("nothing_found", "Name the hazards found (hazard_ids), or say explicitly that "
                              "nothing was found (nothing_found: true): 'screened, nothing found' must be said.",
                              "请列出排查发现的隐患，或明确勾选“排查未发现问题”：未发现问题须明确报告。")])
    seen: set[uuid.UUID] = set()
    for i, h in enumerate(body.hazard_ids):
        if h in seen:
            raise invalid([_error(f"hazard_ids.{i}", "Named twice.", "同一隐患重复列出。")])
        seen.add(h)


def unknown_hazards(body: StudentScreeningReturn, own: set[uuid.UUID]) -> None:
    """422 naming each hazard that is not a hazard case of this school in the archive."""
    errors = [_error(f"hazard_ids.{i}", "Not a hazard of this school in the archive (file it first; the archive "
                     "records it within seconds).", "不是本校已上报的隐患（请先上报隐患，数秒后再填报）。")
              for i, h in enumerate(body.hazard_ids) if h not in own]
    if errors:
        raise invalid(errors)


def check_screening(body: SchoolScreening, today: date) -> None:
    """The seven aspects each once; a problem with a rectification due today or later, and no rectification
    without a problem (422 naming `aspects.i.…`)."""
    errors: list[FieldError] = []
    seen: set[Aspect] = set()
    for i, a in enumerate(body.aspects):
        if a.aspect in seen:
            errors.append(_error(f"aspects.{i}.aspect", "This aspect is named twice; each of the seven once.",
                                 f"“{ASPECT_ZH[a.aspect]}”重复，七个方面各填一次。"))
        seen.add(a.aspect)
        if a.problem is not None and a.rectification is None:
            errors.append(_error(f"aspects.{i}.rectification", "A problem needs a rectification (plan, due_date, "
                                 "responsible).", "存在问题的方面须填写整改措施（方案、期限、责任部门）。"))
        if a.problem is None and a.rectification is not None:
            errors.append(_error(f"aspects.{i}.problem", "A rectification is for a problem: state the problem.",
                                 "填写了整改措施，请说明存在的问题。"))
        if a.rectification is not None and not today <= a.rectification.due_date <= LAST_DAY:
            errors.append(_error(f"aspects.{i}.rectification.due_date", "Must be today or later.",
                                 "整改期限不得早于今天。"))
    missing = [ASPECT_ZH[x] for x in Aspect if x not in seen]
    if missing and not errors:
        errors.append(_error("aspects", "Each of the seven aspects once; missing: " + ", ".join(
            x.value for x in Aspect if x not in seen), "七个方面须各填一次，缺少：" + "、".join(missing)))
    if errors:
        raise invalid(errors)


def record_id_for(kind: RecordKind, campaign_id: str, phase_id: str, school_id: str, account_id: str,
                  body: BaseModel, supersedes: uuid.UUID | None) -> uuid.UUID:
    return derive_id("campaign-record", kind.value, campaign_id, phase_id, school_id, account_id,
                     body.model_dump_json(), supersedes or "")


def screening_hazard_id(record_id: uuid.UUID, aspect: Aspect) -> uuid.UUID:
    return derive_id("hazard", "school-screening", record_id, aspect.value)


def return_facts(body: StudentScreeningReturn) -> RecordFacts:
    return RecordFacts(students_screened=body.students_screened, parent_talks=body.parent_talks,
                       nothing_found=body.nothing_found, hazards_filed=len(body.hazard_ids))


def return_content(body: StudentScreeningReturn, supersedes: uuid.UUID | None) -> dict[str, Any]:
    return {**body.model_dump(mode="json"), "supersedes": str(supersedes) if supersedes else None}


def screening_hazards(body: SchoolScreening, record_id: uuid.UUID, school_id: str,
                      now: datetime) -> list[tuple[Aspect, uuid.UUID, HazardFinding]]:
    """Each rectification as a hazard finding of the school (a hazard point: no student is named)."""
    out = []
    for a in body.aspects:
        if a.problem is None or a.rectification is None:
            continue
        zh = ASPECT_ZH[a.aspect]
        finding = HazardFinding(
            school_id=school_id, found_at=now, kind=HazardKind.hazard_point, students=[],
            observed=f"【教育局排查·{zh}】{a.problem}", risk_level=a.risk_level,
            intervention=f"教育局专项排查（{zh}）发现问题，已责令学校限期整改。",
            rectification=Rectification(plan=a.rectification.plan, due_date=a.rectification.due_date,
                                        responsible=a.rectification.responsible))
        out.append((a.aspect, screening_hazard_id(record_id, a.aspect), finding))
    return out


def screening_facts(body: SchoolScreening) -> RecordFacts:
    problems = sum(1 for a in body.aspects if a.problem is not None)
    return RecordFacts(aspects_with_problems=problems, hazards_filed=problems)


def screening_content(body: SchoolScreening, supersedes: uuid.UUID | None,
                      hazards: list[tuple[Aspect, uuid.UUID, HazardFinding]]) -> dict[str, Any]:
    return {**body.model_dump(mode="json"), "supersedes": str(supersedes) if supersedes else None,
            "hazards": [{"aspect": a.value, "hazard_id": str(h)} for a, h, _ in hazards]}

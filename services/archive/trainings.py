"""Anti-bullying training of a school's staff (issue 16, work plan 二(一): 防治学生欺凌专题培训纳入校长和教师
在职培训): one record per session held, what the school files and how it is counted (pure).

Each session is its own record (kind `training`): sessions add up, none supersedes another. Who attended
is said by roles (`AUDIENCE`), never by names; the counts travel in clear (participants, hours), the topic
and the trainer's organisation only in the sealed record.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from shared.contracts.campaign import RecordFacts

# staff roles a session was held for (the plan names 校长, 班主任, 学科教师; the school's 法治副校长 and 安全员)
AUDIENCE = ("校长", "副校长", "中层干部", "班主任", "教师", "心理辅导老师", "法治副校长", "安全员", "宿管员",
            "保安", "其他教职工")
Audience = Literal["校长", "副校长", "中层干部", "班主任", "教师", "心理辅导老师", "法治副校长", "安全员", "宿管员",
                   "保安", "其他教职工"]
MAX_HOURS = 100


class TrainingRequest(BaseModel):
    """A session held: when, for whom (roles), how many attended, how many hours, on what."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "held_on": "2027-03-12", "audience": ["校长", "班主任", "教师"], "participants": 46, "hours": 2,
        "topic": "学生欺凌的早期发现与处置流程", "trainer_org": "乐昌市人民检察院"}]})

    held_on: date = Field(ge=date(2000, 1, 1), description="The day it was held (Asia/Shanghai); not in the future.")
    audience: list[Audience] = Field(min_length=1, max_length=len(AUDIENCE), json_schema_extra={"uniqueItems": True},
                                     description=f"Staff roles it was held for: {'、'.join(AUDIENCE)}. No names.")
    participants: int = Field(ge=1, le=10_000, description="How many attended.")
    hours: float = Field(ge=0.1, le=MAX_HOURS, description="Class hours (学时); kept to one decimal (1.25 → 1.2).")
    topic: Annotated[str, StringConstraints(min_length=2, max_length=200)] = Field(
        description="What it was about (no child's name). Kept in the sealed record, not in lists or exports.")
    trainer_org: Annotated[str, StringConstraints(min_length=2, max_length=100)] | None = Field(
        default=None, description="Who trained (an organisation, e.g. 检察院, 公安, 律师事务所).")

    @field_validator("audience")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each role at most once")
        return sorted(value, key=AUDIENCE.index)

    @field_validator("hours")
    @classmethod
    def _one_decimal(cls, value: float) -> float:
        return round(value, 1)


class TrainingFiled(BaseModel):
    record_id: uuid.UUID
    event_id: uuid.UUID
    school_id: str
    status: str = "accepted"
    note_zh: str


class Training(BaseModel):
    """A session as listed: counts and roles only."""

    record_id: uuid.UUID
    campaign_id: str
    phase_id: str
    school_id: str
    school_name: str | None
    held_on: date
    audience: list[str]
    participants: int
    hours: float


class TrainingList(BaseModel):
    trainings: list[Training]
    sessions: int = Field(description="How many sessions are listed.")
    hours: float = Field(description="Their class hours together.")
    participants: int = Field(description="Their participants together (a person trained twice counts twice).")
    truncated: bool = Field(default=False, description="More sessions match than are listed: narrow the dates.")


def facts_of(body: TrainingRequest) -> RecordFacts:
    return RecordFacts(participants=body.participants, training_hours=body.hours)


def content_of(body: TrainingRequest, jurisdiction: str) -> dict[str, Any]:
    """The record as filed (sealed on the bus and in the chain); the school's jurisdiction at filing."""
    return {**body.model_dump(mode="json"), "jurisdiction": jurisdiction}


def not_future(held_on: date, today: date) -> bool:
    return held_on <= today

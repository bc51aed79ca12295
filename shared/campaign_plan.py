"""A campaign file as validated data (pure: text in, model out; no file system, no clock).

The bureau owns `deploy/campaigns/<id>.toml` like the policy: phases with their deadlines, and the
duties each phase creates for every school of the jurisdiction (`owner = "school"`) or for a bureau
office, per school (`owner = "bureau"`, e.g. screening each school) or once (`per = "campaign"`).
A duty is settled by the record kind named in `fulfilled_by` (shared/contracts/campaign.py) or, with
none, by its owner reporting it done. A deadline is a date (the end of that day, Asia/Shanghai) or,
for drills and the demo, a duration after the campaign is started (`due_after_start = "10m"`).
"""

from __future__ import annotations

import tomllib
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.contracts.campaign import RecordKind

ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
DURATION = r"^[1-9][0-9]*\s*[smhd]$"


class CampaignError(ValueError):
    """A campaign file that does not validate: the message names the entry."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Deadline(_Strict):
    due: date | None = Field(default=None, description="The end of this day, Asia/Shanghai.")
    due_after_start: str | None = Field(default=None, pattern=DURATION, description="'10m', '2h', '30d'.")

    @model_validator(mode="after")
    def _one_form(self) -> Deadline:
        if (self.due is None) == (self.due_after_start is None):
            raise ValueError("give exactly one of due (a date) and due_after_start (a duration)")
        return self


class Phase(Deadline):
    id: str = Field(pattern=ID)
    zh: str = Field(min_length=1, max_length=60)
    description_zh: str = ""


class Owner(StrEnum):
    school = "school"
    bureau = "bureau"


class Per(StrEnum):
    school = "school"  # one per school of the jurisdiction (owed by the school, or by the bureau about it)
    campaign = "campaign"  # once, owed by a bureau office


class CampaignDuty(_Strict):
    id: str = Field(pattern=ID)
    phase: str = Field(pattern=ID)
    zh: str = Field(min_length=1, max_length=80)
    owner: Owner
    per: Per = Per.school
    office: str | None = Field(default=None, description="The bureau office that owes it (directory officials).")
    fulfilled_by: RecordKind | None = None
    escalate_to: list[str] = Field(default_factory=list, description="Told in turn each time it is missed.")
    due: date | None = Field(default=None, description="Overrides the phase's deadline.")
    due_after_start: str | None = Field(default=None, pattern=DURATION)

    @model_validator(mode="after")
    def _consistent(self) -> CampaignDuty:
        if self.due is not None and self.due_after_start is not None:
            raise ValueError("give at most one of due and due_after_start")
        if self.per is Per.campaign and self.owner is not Owner.bureau:
            raise ValueError('per = "campaign" is a bureau office\'s duty (owner = "bureau")')
        return self


class Campaign(_Strict):
    id: str = Field(pattern=ID)
    version: str = Field(min_length=1, max_length=40)
    title_zh: str = Field(min_length=1, max_length=80)
    description_zh: str = ""
    phases: list[Phase] = Field(min_length=1)
    duties: list[CampaignDuty] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> Campaign:
        phase_ids = [p.id for p in self.phases]
        if len(set(phase_ids)) != len(phase_ids):
            raise ValueError("phase ids must be unique")
        duty_ids = [d.id for d in self.duties]
        if len(set(duty_ids)) != len(duty_ids):
            raise ValueError("duty ids must be unique")
        for d in self.duties:
            if d.phase not in phase_ids:
                raise ValueError(f'duty "{d.id}": phase "{d.phase}" is not one of {", ".join(phase_ids)}')
        return self

    def phase(self, phase_id: str) -> Phase:
        for p in self.phases:
            if p.id == phase_id:
                return p
        raise KeyError(phase_id)

    def duties_fulfilled_by(self, kind: RecordKind, phase_id: str) -> list[CampaignDuty]:
        return [d for d in self.duties if d.fulfilled_by == kind and d.phase == phase_id]


def parse_campaign(text: str, source: str = "campaign") -> Campaign:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CampaignError(f"{source}: {exc}") from exc
    try:
        return Campaign.model_validate(data)
    except ValidationError as exc:
        raise CampaignError(f"{source}: " + "; ".join(_describe(e, data) for e in exc.errors())) from exc


def _describe(error: Any, data: dict[str, Any]) -> str:
    loc = list(error["loc"])
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    named = ""
    if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(data.get(str(loc[0])), list):
        entry = data[str(loc[0])][loc[1]]
        if isinstance(entry, dict) and "id" in entry:
            named = f' (id "{entry["id"]}")'
    return f"{where}{named}: {error['msg']}"

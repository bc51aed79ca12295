"""The escalation policy file as validated data (pure: parsing text, no file system here)."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from shared.contracts import Indicators, Level, RecipientRole

_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    m = _DURATION.match(str(value).strip())
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"a duration like '15m', '2h' or '3d', not {value!r}")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyLevel(_Strict):
    id: Level
    zh: str
    en: str
    follows_zh: str = Field(description="What the work plan says must follow at this level.")


class PolicyRule(_Strict):
    id: str
    when: dict[str, bool | str] = Field(min_length=1, description="Indicator values; all must hold.")
    level: Level
    flags: list[str] = []
    zh: str
    en: str

    @model_validator(mode="after")
    def _conditions_are_indicators(self) -> PolicyRule:
        fields = Indicators.model_fields
        for name, value in self.when.items():
            if name not in fields:
                raise ValueError(f"'{name}' is not an indicator (one of {', '.join(fields)})")
            try:
                Indicators.model_validate({name: value})
            except ValidationError as exc:
                raise ValueError(f"{name} = {value!r}: {exc.errors()[0]['msg']}") from None
        return self

    def fires(self, indicators: Indicators) -> bool:
        actual = indicators.model_dump(mode="json")
        return all(actual[name] == value for name, value in self.when.items())


class Reason(_Strict):
    id: str
    zh: str
    en: str


class ActionKind(StrEnum):
    notice = "notice"
    task = "task"


class PolicyAction(_Strict):
    id: str
    kind: ActionKind
    role: RecipientRole
    zh: str
    en: str
    ack: bool = False
    channel: str = "standard"
    per_victim: bool = False
    only_with_flag: str | None = None
    escalate_to: list[str] = Field(default_factory=list, description="Told in turn while the action stays undone.")
    deadline: dict[Level, Duration] = Field(min_length=1, description="The levels it applies at, and by when.")


class Timing(_Strict):
    late_report_after: Duration
    follow_up_every: Duration
    help_answer_within: Duration = timedelta(hours=24)
    help_answer_urgent_within: Duration = timedelta(hours=1)
    help_urgent_ack_within: Duration = Field(default=timedelta(minutes=15), description="The bureau duty room "
                                             "confirms an urgent help request's notice within this.")
    lookback_window: Duration = timedelta(days=365)
    lookback_review_within: Duration = timedelta(days=30)
    approvals_required: int = Field(default=2, ge=2, description="Distinct bureau officials to lower or close.")
    reminders_after_chain: int = Field(default=2, ge=0, description="Reminders to the last contact of a chain once "
                                       "it is used up; then the duty goes to the duty room's daily digest.")
    digest_at: str = Field(default="08:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
                           description="When the bureau duty room's daily digest of overdue duties goes out "
                                       "(Asia/Shanghai).")
    family_update_within: Duration = Field(default=timedelta(hours=24),
                                           description="Deadline of a family update notice (level raised, measures, "
                                                       "closure).")


class FamilyUpdates(_Strict):
    """Which changes in a case the families are told of (minimal notices that never name another child)."""

    level_raised: bool = True
    counselling: bool = True  # the victim's family: counselling arranged
    sanction: bool = True  # the perpetrator's family: the school's measure
    closed: bool = True  # both families: the case is closed


class Help(_Strict):
    """Emergency help requests (紧急求救)."""

    urgent_to_duty_room: bool = Field(default=True, description="An urgent request also goes at once to the "
                                      "bureau's duty room by its urgent channel.")
    urgent_escalate_to: list[str] = Field(default_factory=lambda: ["bureau_leader"], description="Told in turn "
                                          "while the duty room has not confirmed an urgent request's notice.")


class Policy(_Strict):
    version: str = Field(min_length=1)
    description: str = ""
    levels: list[PolicyLevel]
    rules: list[PolicyRule] = Field(min_length=1)
    default_reason: Reason
    actions: list[PolicyAction]
    timing: Timing
    family_updates: FamilyUpdates = FamilyUpdates()
    help: Help = Help()

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        if [lv.id for lv in self.levels] != list(Level):
            raise ValueError(f"levels must be exactly {', '.join(Level)} in this order")
        for kind, items in (("rule", self.rules), ("action", self.actions)):
            ids = [i.id for i in items]
            if dupes := {i for i in ids if ids.count(i) > 1}:
                raise ValueError(f"duplicate {kind} id(s): {', '.join(sorted(dupes))}")
        flags = {f for r in self.rules for f in r.flags}
        for action in self.actions:
            if action.only_with_flag and action.only_with_flag not in flags:
                raise ValueError(f"action {action.id}: no rule sets flag '{action.only_with_flag}'")
        return self

    def level(self, level: Level) -> PolicyLevel:
        return self.levels[level.rank]

    def action(self, action_id: str) -> PolicyAction | None:
        return next((a for a in self.actions if a.id == action_id), None)


class PolicyError(ValueError):
    """The policy text is not valid; the message names the entry and, where found, its line."""


def parse_policy(text: str, source: str = "policy") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: {exc}") from exc
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(e, data, text) for e in exc.errors()]
        raise PolicyError(f"{source}: " + "; ".join(problems)) from exc


def _describe(error: Any, data: dict[str, Any], text: str) -> str:
    """`rules[3] (id "weapon"), line 57: level: Input should be …` — enough to find the bad line."""
    loc = list(error["loc"])
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    entry_id, line = None, None
    if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(data.get(str(loc[0])), list):
        entry = data[str(loc[0])][loc[1]]
        entry_id = entry.get("id") if isinstance(entry, dict) else None
    if entry_id is not None:
        for n, raw in enumerate(text.splitlines(), start=1):
            if re.match(rf'^\s*id\s*=\s*"{re.escape(str(entry_id))}"', raw):
                line = n
                break
    named = f' (id "{entry_id}")' if entry_id else ""
    at = f", line {line}" if line else ""
    return f"{where}{named}{at}: {error['msg']}"


def accelerated(text: str, factor: int) -> str:
    """The same policy with every deadline `factor` times shorter (at least 1 s): for demonstrations."""
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}

    def shorter(m: re.Match[str]) -> str:
        return f'"{max(1, int(m.group(1)) * seconds[m.group(2)] // factor)}s"'

    lines = [re.sub(r'"(\d+)\s*([smhd])"', shorter, line) if line.lstrip().startswith("deadline") else line
             for line in text.splitlines()]
    out = "\n".join(lines) + "\n"
    return re.sub(r'^version = "([^"]+)"', rf'version = "\1-demo-x{factor}"', out, count=1, flags=re.M)

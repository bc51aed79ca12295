"""A campaign's progress per school and phase (pure): the plan as started, joined with the duties escalation
publishes (`duties` projection, by case id; a duty's `action_id` is the campaign file's duty id).

A duty escalation has not published yet still counts: open, due when the plan says (a date's end, or the
start plus `due_after_start`), so a school that has done nothing shows overdue once the deadline passes.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.archive.duties import SETTLED_STATES, overdue
from services.archive.listing import SHANGHAI
from shared.campaign_plan import Campaign, CampaignDuty, Deadline, Per
from shared.contracts.campaign import campaign_case_id, campaign_level_case_id
from shared.directory import Directory

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
STATE_ZH = {"open": "未完成", "delivered": "已送达", "failed": "发送失败", "done": "已完成", "acknowledged": "已确认",
            "waived": "已免除", "not_applicable": "不再需要"}


def duration(text: str) -> timedelta:
    m = re.fullmatch(r"([1-9][0-9]*)\s*([smhd])", text.strip())
    if m is None:
        raise ValueError(f"not a duration: {text!r}")
    return timedelta(**{UNITS[m.group(2)]: int(m.group(1))})


def deadline(d: Deadline | CampaignDuty, started_at: datetime | None) -> datetime | None:
    """The end of the day named (Asia/Shanghai), or the start plus the duration (None before a start)."""
    if d.due is not None:
        return datetime.combine(d.due + timedelta(days=1), time(), SHANGHAI)
    if d.due_after_start is not None and started_at is not None:
        return started_at + duration(d.due_after_start)
    return None


def duty_deadline(campaign: Campaign, duty: CampaignDuty, started_at: datetime | None) -> datetime | None:
    if duty.due is not None or duty.due_after_start is not None:
        return deadline(duty, started_at)
    return deadline(campaign.phase(duty.phase), started_at)


class PhaseView(BaseModel):
    phase_id: str
    zh: str
    description_zh: str
    due_at: datetime | None = Field(description="The phase's deadline (None for a relative one not started yet).")
    due_after_start: str | None = Field(description="A drill's deadline: this long after the start.")


class CampaignView(BaseModel):
    """A campaign file, and whether (when, by whom) it was started in the reader's jurisdiction."""

    campaign_id: str
    version: str
    title_zh: str
    description_zh: str
    phases: list[PhaseView]
    started: bool
    started_at: datetime | None = None
    started_by: str | None = None
    started_version: str | None = Field(default=None, description="The version started (the file may be newer).")


class DutyProgress(BaseModel):
    duty_id: str = Field(description="The campaign file's duty id (the duty's action_id).")
    phase_id: str
    zh: str
    owner: Literal["school", "bureau"]
    obligation_id: uuid.UUID | None = Field(description="Escalation's duty, once published.")
    state: str = Field(description="open, delivered, failed, done, acknowledged, waived or not_applicable.")
    done: bool = Field(description="Settled (done, acknowledged, waived, not applicable).")
    due_at: datetime | None = Field(description="The original deadline.")
    settled_at: datetime | None
    overdue: bool = Field(description="Not settled and past its original deadline now.")


class PhaseProgress(BaseModel):
    phase_id: str
    done: int
    total: int
    overdue: int
    duties: list[DutyProgress]


class SchoolProgress(BaseModel):
    school_id: str
    school_name: str | None
    case_id: uuid.UUID = Field(description="The school's part of the campaign (a case of kind campaign).")
    phases: list[PhaseProgress]
    done: int
    total: int
    overdue: int


class CampaignProgress(CampaignView):
    schools: list[SchoolProgress] = Field(description="Per school of the start (a school's staff: its own only).")
    campaign_case_id: uuid.UUID | None = Field(default=None, description="The campaign in the jurisdiction "
                                               "(the bureau's once-per-campaign duties).")
    campaign_duties: list[DutyProgress] = Field(default_factory=list, description="The bureau's once-per-campaign "
                                                "duties (bureau only).")


def phase_views(campaign: Campaign, started_at: datetime | None) -> list[PhaseView]:
    return [PhaseView(phase_id=p.id, zh=p.zh, description_zh=p.description_zh, due_at=deadline(p, started_at),
                      due_after_start=p.due_after_start) for p in campaign.phases]


def campaign_view(campaign: Campaign, started: dict[str, Any] | None) -> CampaignView:
    """The file as it is, with the start's plan where started (what the duties were made from)."""
    plan = Campaign.model_validate(started["plan"]) if started else campaign
    at = started["started_at"] if started else None
    return CampaignView(campaign_id=campaign.id, version=campaign.version, title_zh=plan.title_zh,
                        description_zh=plan.description_zh, phases=phase_views(plan, at), started=started is not None,
                        started_at=at, started_by=started["started_by"] if started else None,
                        started_version=started["version"] if started else None)


def _duty(campaign: Campaign, d: CampaignDuty, row: dict[str, Any] | None, started_at: datetime,
          now: datetime) -> DutyProgress:
    if row is None:
        state, due, settled_at, obligation = "open", duty_deadline(campaign, d, started_at), None, None
    else:
        state, due, settled_at, obligation = row["state"], row["first_due_at"], row["settled_at"], \
            row["obligation_id"]
    return DutyProgress(duty_id=d.id, phase_id=d.phase, zh=d.zh, owner=d.owner.value, obligation_id=obligation,
                        state=state, done=state in SETTLED_STATES, due_at=due, settled_at=settled_at,
                        overdue=due is not None and overdue(state, due, now))


def _phases(campaign: Campaign, duties: list[DutyProgress]) -> list[PhaseProgress]:
    out = []
    for p in campaign.phases:
        mine = [d for d in duties if d.phase_id == p.id]
        out.append(PhaseProgress(phase_id=p.id, done=sum(d.done for d in mine), total=len(mine),
                                 overdue=sum(d.overdue for d in mine), duties=mine))
    return out


def progress(started: dict[str, Any], directory: Directory, schools: list[str], with_campaign_duties: bool,
             rows: list[dict[str, Any]], now: datetime) -> CampaignProgress:
    """`started`: the campaigns row; `schools`: the rows to show; `rows`: the duties of their cases."""
    campaign = Campaign.model_validate(started["plan"])
    at: datetime = started["started_at"]
    by_case: dict[uuid.UUID, dict[str, dict[str, Any]]] = {}
    for r in rows:  # one duty per case and campaign duty id ("<prefix>:<duty id>" taken as the duty id too)
        by_case.setdefault(r["case_id"], {})[r["action_id"].rsplit(":", 1)[-1]] = r
    per_school = [d for d in campaign.duties if d.per is Per.school]
    out = []
    for sid in schools:
        case_id = campaign_case_id(campaign.id, sid)
        found = by_case.get(case_id, {})
        duties = [_duty(campaign, d, found.get(d.id), at, now) for d in per_school]
        school = directory.schools.get(sid)
        out.append(SchoolProgress(school_id=sid, school_name=school.name if school else None, case_id=case_id,
                                  phases=_phases(campaign, duties), done=sum(d.done for d in duties),
                                  total=len(duties), overdue=sum(d.overdue for d in duties)))
    level_id = campaign_level_case_id(campaign.id, started["jurisdiction"])
    level = by_case.get(level_id, {})
    view = campaign_view(campaign, started)
    return CampaignProgress(
        **view.model_dump(), schools=out, campaign_case_id=level_id if with_campaign_duties else None,
        campaign_duties=[_duty(campaign, d, level.get(d.id), at, now) for d in campaign.duties
                         if d.per is Per.campaign] if with_campaign_duties else [])

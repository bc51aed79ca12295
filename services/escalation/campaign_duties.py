"""A started campaign's duties as obligations (pure): who owes what on which case, by when, and who is
told when it is missed.

- `owner = "school"`: one per school of the start, on that school's campaign case, owed by the school.
- `owner = "bureau"`, `per = "school"`: one per school on that school's case, owed by the duty's office
  (default `bureau`): what the bureau owes ABOUT the school (screening it).
- `per = "campaign"`: one on the campaign's case in the jurisdiction, owed by the office; its
  `school_id` is `whole_jurisdiction(j)` ("jurisdiction:<j>"), which no school's list shows.
A deadline is the duty's own, else its phase's: a date is the end of that day in Asia/Shanghai, a
duration counts from the start. A campaign started after a deadline has the duty born overdue: the
watchdog takes it up on its next pass. After a miss the next deadline is one period on: seven days for a
date, the duration itself for a drill's duration.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.escalation.repository import Obligation
from shared.campaign_files import is_office
from shared.campaign_plan import Campaign, CampaignDuty, Deadline, Owner, Per
from shared.contracts import NoticeFacts, NotificationRequested, RecipientRole
from shared.contracts.base import derive_id
from shared.contracts.campaign import CampaignStarted, campaign_case_id, campaign_level_case_id
from shared.contracts.notification import NoticeTask
from shared.directory import Directory, whole_jurisdiction

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAMPAIGN_KIND_ZH = "专项整治"  # case_kind_zh of a campaign case's facts: its notices read as the campaign's
DUTY_ROOM = "bureau"  # told instead of a name the directory does not know
WHOLE_JURISDICTION_ZH = "全辖区"
DATE_PERIOD = timedelta(days=7)
CAMPAIGN_STARTED = "campaign_started"  # the notice each school gets: its duties and their deadlines
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def duration(text: str) -> timedelta:
    """'10m', '2h', '30d' (shared.campaign_plan.DURATION) as a timedelta."""
    amount, unit = text[:-1].strip(), text[-1]
    return timedelta(**{_UNITS[unit]: int(amount)})


def _deadline_of(campaign: Campaign, duty: CampaignDuty) -> Deadline:
    if duty.due is not None or duty.due_after_start is not None:
        return Deadline(due=duty.due, due_after_start=duty.due_after_start)
    phase = campaign.phase(duty.phase)
    return Deadline(due=phase.due, due_after_start=phase.due_after_start)


def deadline(campaign: Campaign, duty: CampaignDuty, started_at: datetime) -> tuple[datetime, timedelta]:
    """The duty's deadline and its period (how far the next deadline moves after a miss)."""
    d = _deadline_of(campaign, duty)
    if d.due is not None:
        return datetime.combine(d.due + timedelta(days=1), time(0), SHANGHAI), DATE_PERIOD
    assert d.due_after_start is not None  # Deadline holds exactly one of the two
    after = duration(d.due_after_start)
    return started_at + after, after


def label(campaign: Campaign, duty: CampaignDuty) -> str:
    """What the reader sees in every list and notice: the campaign's phase, then the duty."""
    return f"{CAMPAIGN_KIND_ZH}（{campaign.phase(duty.phase).zh}）：{duty.zh}"


def chain(names: list[str], directory: Directory) -> tuple[list[str], set[str]]:
    """The duty's `escalate_to`, resolved as the policy's are; a name the directory does not know becomes
    the bureau's duty room (once), so that a bad name never stops the duty. Returns the unknown names too."""
    unknown = directory.unknown_targets(set(names))
    out: list[str] = []
    for name in names:
        name = DUTY_ROOM if name in unknown else name
        if name not in out:
            out.append(name)
    return out, unknown


def owing_role(duty: CampaignDuty, directory: Directory) -> str:
    """The school, or the duty's office; an office that is not an official role owes nothing: the bureau does."""
    if duty.owner is Owner.school:
        return RecipientRole.school.value
    office = duty.office or RecipientRole.bureau.value
    return office if is_office(office, directory) else RecipientRole.bureau.value


def duty_obligation_id(case_id: uuid.UUID, duty_id: str) -> uuid.UUID:
    return derive_id("obligation", case_id, "campaign-duty", duty_id)


@dataclass(frozen=True)
class CampaignCase:
    case_id: uuid.UUID
    school_id: str  # a school's id, or whole_jurisdiction(j)
    facts: NoticeFacts


@dataclass(frozen=True)
class Start:
    cases: list[CampaignCase]
    obligations: list[Obligation]
    notices: list[NotificationRequested]
    unknown: set[str]  # escalation names replaced by the duty room


def case_ref(case_id: uuid.UUID) -> str:
    return "ZX-" + case_id.hex[:8].upper()


def _case(event: CampaignStarted, campaign: Campaign, case_id: uuid.UUID, school_id: str, name: str) -> CampaignCase:
    return CampaignCase(case_id, school_id, NoticeFacts(
        case_ref=case_ref(case_id), school_id=school_id, school_name=name, reasons_zh=[campaign.title_zh],
        case_kind_zh=CAMPAIGN_KIND_ZH, occurred_at=event.occurred_at))


def start(event: CampaignStarted, directory: Directory) -> Start:
    """Every duty of every phase for the start's schools and jurisdiction, and each school's notice."""
    campaign: Campaign = event.campaign()
    schools = {s: _case(event, campaign, campaign_case_id(campaign.id, s), s,
                        school.name if (school := directory.schools.get(s)) else s) for s in event.school_ids}
    level = _case(event, campaign, campaign_level_case_id(campaign.id, event.jurisdiction),
                  whole_jurisdiction(event.jurisdiction), WHOLE_JURISDICTION_ZH)
    obligations: list[Obligation] = []
    unknown: set[str] = set()
    for duty in campaign.duties:
        due_at, period = deadline(campaign, duty, event.occurred_at)
        escalate_to, missing = chain(duty.escalate_to, directory)
        unknown |= missing
        for case in [level] if duty.per is Per.campaign else schools.values():
            obligations.append(Obligation(
                obligation_id=duty_obligation_id(case.case_id, duty.id), incident_id=case.case_id,
                school_id=case.school_id, action_id=duty.id, kind="task", role=owing_role(duty, directory),
                student_ref=None, notification_id=None, ack_required=False, state="pending", due_at=due_at,
                period=period, step=0, escalate_to=escalate_to, label_zh=label(campaign, duty)))
    cases = [*schools.values(), level]
    notices = [n for case in schools.values() if (n := _start_notice(case, obligations, directory))]
    return Start(cases, obligations, notices, unknown)


def _start_notice(case: CampaignCase, obligations: list[Obligation], directory: Directory
                  ) -> NotificationRequested | None:
    """The school's own duties and deadlines (what the bureau owes about it is the bureau's business)."""
    recipient = directory.recipient("school", case.school_id, RecipientRole.school)
    own = sorted((o for o in obligations if o.incident_id == case.case_id and o.role == RecipientRole.school.value),
                 key=lambda o: (o.due_at, o.action_id))
    if recipient is None or not own:
        return None
    notification_id = derive_id("notification", case.case_id, CAMPAIGN_STARTED)
    return NotificationRequested(
        event_id=notification_id, incident_id=case.case_id, notification_id=notification_id,
        purpose=CAMPAIGN_STARTED, recipient=recipient,
        facts=case.facts.model_copy(update={"tasks": [NoticeTask(zh=o.label_zh or o.action_id, due_at=o.due_at)
                                                      for o in own]}))


def settled_by(campaign: Campaign, case_id: uuid.UUID, kind: str, phase_id: str) -> list[uuid.UUID]:
    """The obligations on a school's campaign case that a record of this kind and phase fulfils (a duty owed
    once per campaign is not a school's record to settle: an official discharges it)."""
    return [duty_obligation_id(case_id, d.id) for d in campaign.duties
            if d.per is Per.school and d.fulfilled_by is not None and d.fulfilled_by.value == kind
            and d.phase == phase_id]


OWNER_ZH = {RecipientRole.school.value: "学校", RecipientRole.bureau.value: "教育局"}


def for_campaign(purpose: str, facts: NoticeFacts, role: str) -> tuple[str, NoticeFacts]:
    """A missed campaign duty reads as the campaign's (notify's campaign_* templates), not as a case's, and
    says who owes it (a school's case holds the bureau's duty about the school too)."""
    if facts.case_kind_zh != CAMPAIGN_KIND_ZH:
        return purpose, facts
    return f"campaign_{purpose}", facts.model_copy(update={"update_zh": OWNER_ZH.get(role, role)})

"""The bureau duty room's daily digest of overdue duties (pure).

A duty whose escalation chain and reminders are used up is no longer chased with a notice per period:
once a day at `timing.digest_at` (Asia/Shanghai) the duty room (the directory's `officials.bureau`)
gets ONE notice per jurisdiction listing every such duty still open, oldest first, at most
`DIGEST_LIMIT` lines and the count of the rest. A case reference and a school, never a name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from services.escalation.duties import label_zh
from services.escalation.policy import Policy
from shared.contracts import NoticeFacts, NotificationRequested, RecipientRole
from shared.contracts.base import derive_id
from shared.contracts.notification import DigestItem
from shared.directory import Directory

OVERDUE_DIGEST = "overdue_digest"
DIGEST_LIMIT = 50
SHANGHAI = ZoneInfo("Asia/Shanghai")
# a notice these readers never got is the school's to make good (in person, by phone)
_TOLD_BY_SCHOOL = {RecipientRole.victim_guardian.value, RecipientRole.perpetrator_guardian.value,
                   RecipientRole.counsellor.value, RecipientRole.legal_vice_principal.value,
                   RecipientRole.safety_officer.value}


@dataclass(frozen=True)
class InDigest:
    """One open duty in the digest, as escalation keeps it."""

    case_id: uuid.UUID
    case_ref: str | None  # None when the case's facts are not kept
    school_id: str
    school_name: str | None
    action_id: str
    kind: str  # notice | task
    role: str  # a task's owner; a notice's reader
    first_due_at: datetime
    missed: int
    label_zh: str | None = None  # the duty's own wording (a campaign's), else the policy's


@dataclass(frozen=True)
class Digest:
    jurisdiction: str
    duties: int  # how many are overdue (all of them, listed or not)
    request: NotificationRequested | None  # None: nothing overdue, nothing is sent


def digest_day(now: datetime, digest_at: str) -> date | None:
    """The Shanghai day whose digest is due at `now`; None before that day's `digest_at`. A digest not
    sent at `digest_at` (everything was down) goes out at the first look later that day."""
    local = now.astimezone(SHANGHAI)
    hour, minute = (int(p) for p in digest_at.split(":"))
    return local.date() if local.time() >= time(hour, minute) else None


def owed_by(duty: InDigest) -> str:
    """Who must act now: a task's owner or an official who must confirm a notice; a notice a family or
    the school's own people (counsellor, legal vice-principal, safety officers) never got is the school's (it
    tells them in person)."""
    if duty.kind == "notice" and duty.role in _TOLD_BY_SCHOOL:
        return RecipientRole.school.value
    return duty.role


def digests(duties: list[InDigest], day: date, now: datetime, directory: Directory, policy: Policy,
            limit: int = DIGEST_LIMIT) -> list[Digest]:
    """One digest per jurisdiction the directory knows (and any a duty's school names), even when empty,
    so that the day is decided for each of them: a duty that lands in the digest later that day waits
    for tomorrow's."""
    by_jurisdiction: dict[str, list[InDigest]] = {directory.jurisdiction: []}
    for school in directory.schools.values():
        by_jurisdiction.setdefault(school.jurisdiction or directory.jurisdiction, [])
    for duty in duties:
        by_jurisdiction.setdefault(directory.jurisdiction_of(duty.school_id), []).append(duty)
    return [Digest(j, len(items), _request(j, items, day, now, directory, policy, limit) if items else None)
            for j, items in sorted(by_jurisdiction.items())]


def _request(jurisdiction: str, duties: list[InDigest], day: date, now: datetime, directory: Directory,
             policy: Policy, limit: int) -> NotificationRequested:
    oldest = sorted(duties, key=lambda d: (d.first_due_at, d.case_ref or "", d.action_id))[:limit]
    items = [DigestItem(case_ref=d.case_ref or d.case_id.hex[:8].upper(),
                        school_name=d.school_name or _school_name(directory, d.school_id),
                        zh=label_zh(d.action_id, policy, d.label_zh), role=owed_by(d), first_due_at=d.first_due_at,
                        missed=d.missed) for d in oldest]
    notification_id = derive_id("overdue-digest-notice", jurisdiction, day)
    facts = NoticeFacts(
        case_ref=f"DG-{day:%Y%m%d}-{jurisdiction.upper()}", school_id="", school_name="",  # about no one school
        reasons_zh=[], case_kind_zh="逾期未办汇总", occurred_at=now, digest=items,
        digest_more=len(duties) - len(items))
    return NotificationRequested(
        event_id=notification_id, incident_id=derive_id("overdue-digest", jurisdiction, day),
        notification_id=notification_id, purpose=OVERDUE_DIGEST,
        recipient=directory.officials.bureau.recipient(RecipientRole.bureau, "bureau"), facts=facts)


def _school_name(directory: Directory, school_id: str) -> str:
    school = directory.schools.get(school_id)
    return school.name if school else school_id

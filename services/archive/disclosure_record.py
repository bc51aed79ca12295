"""What a case's opened record gives a disclosure (pure): the terms the rule refuses and the draft's facts."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.archive.disclosure_draft import DraftFacts, anonymous_place
from services.archive.disclosure_rule import Sensitive, school_places
from services.archive.personal import Personal
from shared.contracts import IncidentReported
from shared.contracts.base import Event
from shared.contracts.follow_up import FollowUpReported
from shared.directory import Directory

SHANGHAI = ZoneInfo("Asia/Shanghai")


def sensitive_terms(personal: Personal, opened: list[tuple[int, Event | None]], directory: Directory,
                    school_id: str) -> Sensitive:
    """Every name, ref and contact of the personal section (follow-ups' students and corrected guardians
    included), the reporter, the report's location, and the school's name and address."""
    names: set[str] = set()
    refs: set[str] = set()
    contacts: set[str] = set()
    places: set[str] = set()
    for s in personal.students:
        names.add(s.name)
        refs.add(s.ref)
        for g in s.guardians:
            names.add(g.name)
            contacts.update(c for c in (g.phone, g.email) if c)
    if personal.reporter:
        names.add(personal.reporter.name)
    if (requester := personal.requester) is not None:
        names.update(n for n in (requester.name,) if n)
        contacts.update(c for c in (requester.phone, requester.email) if c)
    for _, event in opened:
        match event:
            case IncidentReported(report=report) if report is not None:
                places.add(report.location)
                for st in report.students:  # guardians as first reported, before any correction
                    for g in st.guardians:
                        names.add(g.name)
                        contacts.update(c for c in (g.phone, g.email) if c)
            case FollowUpReported(follow_up=f) if f is not None:
                # guardians as a follow-up first named them, and as it corrected them
                added = [g for st in f.students_added for g in st.guardians]
                for g in added + [g for c in f.guardians_corrected for g in c.guardians]:
                    names.add(g.name)
                    contacts.update(x for x in (g.phone, g.email) if x)
    school = directory.schools.get(school_id)
    if school is not None:
        places |= school_places(school.name, school.address, directory.public_name())
    return Sensitive(names=frozenset(names), refs=frozenset(refs), contacts=frozenset(contacts),
                     places=frozenset(p for p in places if p), students=school.students if school else None)


def incident_month(opened: list[tuple[int, Event | None]], fallback: datetime) -> tuple[int, int]:
    """The month the incident happened (Asia/Shanghai), else the month it was reported."""
    at = next((e.report.occurred_at for _, e in opened
               if isinstance(e, IncidentReported) and e.report is not None), fallback)
    local = at.astimezone(SHANGHAI)
    return local.year, local.month


def draft_facts(level: str, opened: list[tuple[int, Event | None]], reported_at: datetime, directory: Directory,
                school_id: str, acts: list[str], duties: list[dict[str, Any]],
                rectification: dict[str, int]) -> DraftFacts:
    year, month = incident_month(opened, reported_at)
    school = directory.schools.get(school_id)
    sanctions: list[str] = []
    counselling = 0
    for _, event in opened:
        if isinstance(event, FollowUpReported) and event.follow_up is not None:
            sanctions += [s.measure for s in event.follow_up.sanctions]
            counselling += len(event.follow_up.counselling)
    tasks = tuple(d["label_zh"] for d in duties if d.get("kind") == "task" and d.get("state") == "done")
    return DraftFacts(
        level=level, year=year, month=month,
        place=anonymous_place(directory.public_name(), school.name if school else ""),
        sanctions=tuple(sanctions), counselling=counselling, tasks_done=tasks, acts=tuple(acts),
        lookbacks=rectification.get("lookbacks", 0), lookbacks_done=rectification.get("lookbacks_done", 0),
        hazards=rectification.get("hazards", 0), hazards_rectified=rectification.get("hazards_rectified", 0))

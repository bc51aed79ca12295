"""The priority rule (pure): police and stability office, urgent help and deadlines within the hour go
on the urgent lane; the rest standard; bulk stays bulk."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.escalation.domain import decide
from services.escalation.notices import plan
from services.escalation.priority import prioritised, priority_of
from services.intake.reports import reported_event
from shared.config import Settings
from shared.contracts import IncidentReport, NotificationRequested, RecipientRole
from shared.contracts.notification import Priority
from shared.directory import load_directory
from tests.helpers import default_policy, report

pytestmark = pytest.mark.pure


def _requests() -> list[NotificationRequested]:
    event = reported_event(IncidentReport.model_validate(report()), "priority")
    return plan(event, decide(event.facts, default_policy(), event.occurred_at),
                load_directory(Settings().directory_file))[1]


def _one(role: RecipientRole) -> NotificationRequested:
    return next(r for r in _requests() if r.recipient.role == role)


def test_police_is_urgent_whatever_its_deadline() -> None:
    police = _one(RecipientRole.police)
    later = police.facts.occurred_at + timedelta(days=3)
    assert priority_of(police.model_copy(update={"facts": police.facts.model_copy(update={"due_at": None})}),
                       later) == Priority.urgent


def test_a_deadline_within_the_hour_is_urgent_and_a_later_one_standard() -> None:
    school = _one(RecipientRole.school)
    now = school.facts.occurred_at
    soon = school.model_copy(update={"facts": school.facts.model_copy(update={"due_at": now + timedelta(minutes=59)})})
    later = school.model_copy(update={"facts": school.facts.model_copy(update={"due_at": now + timedelta(hours=5)})})
    none = school.model_copy(update={"facts": school.facts.model_copy(update={"due_at": None})})
    assert [priority_of(r, now) for r in (soon, later, none)] == [Priority.urgent, Priority.standard,
                                                                  Priority.standard]


def test_urgent_help_is_urgent_and_bulk_stays_bulk() -> None:
    school = _one(RecipientRole.school)
    calm = school.model_copy(update={"facts": school.facts.model_copy(update={"due_at": None})})
    now = school.facts.occurred_at
    assert priority_of(calm.model_copy(update={"purpose": "help_urgent"}), now) == Priority.urgent
    police_letter = _one(RecipientRole.police).model_copy(update={"priority": Priority.bulk})
    assert priority_of(police_letter, now) == Priority.bulk


def test_prioritised_sets_the_lane_and_the_subject() -> None:
    requests = _requests()
    now = requests[0].facts.occurred_at + timedelta(days=2)  # every deadline passed long ago or far away
    out = prioritised(requests, now)
    assert len(out) == len(requests)
    for before, after in zip(requests, out, strict=True):
        assert isinstance(after, NotificationRequested)
        assert after.notification_id == before.notification_id
        assert after.routing_subject == f"ab.notify.requested.{after.priority.value}"
    roles = {a.recipient.role: a.priority for a in out if isinstance(a, NotificationRequested)}
    assert roles[RecipientRole.police] == Priority.urgent

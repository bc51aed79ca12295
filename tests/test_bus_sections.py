"""The readers' side of sealed events (pure): the archive opens a report's personal section into the copy it
records, notify opens a guardian's box; a box moved to another case opens for neither."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidTag

from services.archive.bus_sections import BusSections
from services.escalation.domain import decide
from services.escalation.notices import plan
from services.intake.reports import reported_event
from services.notify.contacts import ContactBook
from shared.config import ROOT
from shared.contracts import IncidentReport, IncidentReported, RecipientRole
from shared.directory import load_directory
from tests.helpers import default_policy, report

pytestmark = pytest.mark.pure

DIRECTORY = load_directory(ROOT / "deploy" / "directory.toml")
ARCHIVE = BusSections(os.environ["ARCHIVE_BUS_PRIVATE_KEY"])
NOTIFY = ContactBook(ROOT / "deploy" / "directory.toml")


def _reported(key: str) -> IncidentReported:
    return reported_event(IncidentReport.model_validate(report()), key)


def test_the_archive_records_the_report_as_the_school_sent_it() -> None:
    event = _reported("sections-1")
    kept = ARCHIVE.for_record(event)
    assert isinstance(kept, IncidentReported) and kept.personal is None and kept.report is not None
    assert kept.report == IncidentReport.model_validate(report())
    assert kept.facts == event.facts  # the rules' view survives in the copy


def test_a_personal_section_moved_to_another_case_does_not_open() -> None:
    one, other = _reported("sections-2"), _reported("sections-3")
    forged = other.model_copy(update={"personal": one.personal})
    with pytest.raises(InvalidTag):
        ARCHIVE.for_record(forged)


def test_notify_addresses_a_parent_and_a_moved_box_leaves_no_address() -> None:
    from shared.bus_seal import Opening
    from shared.contracts.sealed import NOTIFY as READER

    book = ContactBook(ROOT / "deploy" / "directory.toml", Opening(READER, os.environ["NOTIFY_BUS_PRIVATE_KEY"]))
    one, other = _reported("sections-4"), _reported("sections-5")
    _, requests = plan(one, decide(one.facts, default_policy(), one.occurred_at), DIRECTORY)
    [victim] = [r for r in requests if r.recipient.role is RecipientRole.victim_guardian]
    opened = book.addressed(victim)
    assert opened.recipient.display_name == "李建国（父亲）" and opened.facts.child_name == "李小明"
    assert [a.to for a in opened.recipient.routes()] == ["13800000001", "li.parent@example.cn"]
    moved = victim.model_copy(update={"incident_id": other.incident_id})
    assert book.addressed(moved).recipient.routes() == []
    # without notify's key (the archive, escalation, anyone on the bus) the box names nobody
    assert NOTIFY.addressed(victim).recipient.routes() == []

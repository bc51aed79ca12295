"""archive's pure rules without I/O: who sees which case, how much personal data, the list cursor,
the access log's chain, and summaries that never hold a help request's words."""

from __future__ import annotations

import copy
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from services.archive.audit import Access, first_broken_access, next_access
from services.archive.chain import GENESIS
from services.archive.listing import CaseFilter, Cursor
from services.archive.personal import personal_section
from services.archive.scopes import CaseFacts, PersonalView, in_scope, may_read_access_log, personal_view, scope_for
from services.archive.summary import summarise
from services.intake.examples import SEVERE_EXAMPLE
from shared.contracts import IncidentReport, IncidentReported
from shared.contracts.help import HelpMessageAdded, HelpRequested, Requester
from shared.identity import Official, OfficialRole

pytestmark = pytest.mark.pure


def official(role: str, jurisdiction: str = "lechang", school: str | None = None) -> Official:
    return Official(account_id=f"{role}-1", display_name=role, role=OfficialRole(role), jurisdiction=jurisdiction,
                    school_id=school)


SCHOOL_A = official("school", school="school-a")
BUREAU = official("bureau")
POLICE = official("police")
STABILITY = official("stability_office")
OTHER_BUREAU = official("bureau", jurisdiction="renhua")

PLAIN = CaseFacts("incident", "school-a", "lechang", referred_to_police=False, public_attention_wide=False)
REFERRED = replace(PLAIN, referred_to_police=True)
WIDE = replace(PLAIN, public_attention_wide=True)
OTHER_SCHOOL = replace(PLAIN, school_id="school-b")
FAR = replace(REFERRED, school_id="school-far", jurisdiction="renhua", public_attention_wide=True)
HAZARD = replace(PLAIN, kind="hazard")
HAZARD_REFERRED_FLAGS = replace(HAZARD, referred_to_police=True, public_attention_wide=True)  # cannot happen; still no
UNREPORTED = replace(PLAIN, kind=None)


@pytest.mark.parametrize(("who", "case", "visible"), [
    (SCHOOL_A, PLAIN, True), (SCHOOL_A, HAZARD, True), (SCHOOL_A, OTHER_SCHOOL, False), (SCHOOL_A, FAR, False),
    (BUREAU, PLAIN, True), (BUREAU, OTHER_SCHOOL, True), (BUREAU, HAZARD, True), (BUREAU, FAR, False),
    (OTHER_BUREAU, FAR, True), (OTHER_BUREAU, PLAIN, False),
    (POLICE, PLAIN, False), (POLICE, REFERRED, True), (POLICE, WIDE, False), (POLICE, FAR, False),
    (POLICE, HAZARD_REFERRED_FLAGS, False),
    (STABILITY, PLAIN, False), (STABILITY, WIDE, True), (STABILITY, REFERRED, False), (STABILITY, FAR, False),
    (STABILITY, HAZARD_REFERRED_FLAGS, False),
    (BUREAU, UNREPORTED, False), (SCHOOL_A, UNREPORTED, False),
])
def test_scope_follows_management_authority(who: Official, case: CaseFacts, visible: bool) -> None:
    assert in_scope(scope_for(who), case) is visible


def test_personal_views_and_access_log_by_role() -> None:
    assert [personal_view(o) for o in (SCHOOL_A, BUREAU, POLICE, STABILITY)] == [
        PersonalView.all, PersonalView.all, PersonalView.involved, PersonalView.none]
    assert [may_read_access_log(o) for o in (SCHOOL_A, BUREAU, POLICE, STABILITY)] == [False, True, False, False]


def _reported_with_bystander() -> IncidentReported:
    body = copy.deepcopy(SEVERE_EXAMPLE)
    body["students"].append({"ref": "S-9001", "role": "bystander", "name": "孙旁观", "grade": "初一",
                             "guardians": [{"name": "孙家长", "relation": "父亲", "phone": "13900000009"}]})
    report = IncidentReport.model_validate(body)
    return IncidentReported(event_id=uuid.uuid4(), incident_id=uuid.uuid4(), school_id=report.school_id,
                            report=report)


def test_police_see_only_involved_students_and_the_stability_office_none() -> None:
    opened = [(1, _reported_with_bystander())]
    everyone = personal_section(PersonalView.all, opened)
    involved = personal_section(PersonalView.involved, opened)
    assert everyone is not None and involved is not None
    assert "孙旁观" in {s.name for s in everyone.students}
    assert {s.role for s in involved.students} == {"victim", "perpetrator"}
    assert "孙旁观" not in involved.model_dump_json() and "13900000009" not in involved.model_dump_json()
    assert personal_section(PersonalView.none, opened) is None
    shredded = personal_section(PersonalView.all, [(1, None)])
    assert shredded is not None and shredded.unavailable_seqs == [1] and shredded.students == []


def test_help_request_words_stay_out_of_summaries() -> None:
    help_id = uuid.uuid4()
    asked = HelpRequested(event_id=uuid.uuid4(), help_id=help_id, school_id="school-a", case_code="HABCDEFGHIJ",
                          requester=Requester(kind="parent", anonymous=False, name="求助家长", phone="13700000007"),
                          message="有人在宿舍勒索我的孩子", urgent=True)
    added = HelpMessageAdded(event_id=uuid.uuid4(), help_id=help_id, school_id="school-a", seq=2,
                             author="requester", text="今天又发生了")
    text = str(summarise(asked)) + str(summarise(added))
    for secret in ("勒索", "今天又发生了", "求助家长", "13700000007"):
        assert secret not in text
    assert summarise(asked)["urgent"] is True and summarise(added) == {"seq": 2, "author": "requester"}
    personal = personal_section(PersonalView.all, [(1, asked), (2, added)])
    assert personal is not None and [m.text for m in personal.messages] == ["有人在宿舍勒索我的孩子", "今天又发生了"]


def test_cursor_round_trips_and_refuses_anything_else() -> None:
    cursor = Cursor(datetime(2026, 11, 29, 4, 5, 6, 789, tzinfo=UTC), uuid.uuid4())
    assert Cursor.decode(cursor.encode()) == cursor
    assert Cursor.decode("9" * 19 + "_" + "0" * 32).reported_at.year == 9999  # far, not an error
    for bad in ("", "x", "bm90LWEtY3Vyc29y", f"-1_{uuid.uuid4().hex}", f"1_{uuid.uuid4()}"):
        with pytest.raises(ValueError):
            Cursor.decode(bad)


def test_days_are_shanghai_days() -> None:
    f = CaseFilter(reported_from=date(2026, 11, 29), reported_to=date(2026, 11, 29))
    assert f.since() == datetime(2026, 11, 28, 16, tzinfo=UTC)
    assert f.until() == datetime(2026, 11, 29, 16, tzinfo=UTC)
    assert f.stated() == {"reported_from": "2026-11-29", "reported_to": "2026-11-29"}


def test_access_log_chain_detects_a_changed_or_missing_entry() -> None:
    at = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
    entries = []
    head = GENESIS
    for i, purpose in enumerate(["核查迟报", "督办", "复查"]):
        e = next_access(i, head, at, Access(BUREAU, "detail", purpose, case_id=uuid.uuid4()))
        entries.append(e)
        head = e.hash
    assert first_broken_access(entries) is None
    assert first_broken_access([entries[0], replace(entries[1], purpose="别的目的"), entries[2]]) == 2
    assert first_broken_access([entries[0], entries[2]]) == 3


def test_archive_subscribes_to_every_event_type() -> None:
    """A new event in shared.contracts that archive does not record would be a gap in the record."""
    import shared.contracts.follow_up
    import shared.contracts.hazard
    import shared.contracts.help
    import shared.contracts.officials  # noqa: F401 - imported for their Event subclasses
    from services.archive.handlers import ARCHIVED_EVENTS
    from shared.contracts.base import Event

    def concrete(cls: type[Event]) -> set[type[Event]]:
        own = {cls} if "event_type" in cls.__dict__ else set()
        return own.union(*(concrete(sub) for sub in cls.__subclasses__()))

    assert concrete(Event) == set(ARCHIVED_EVENTS)

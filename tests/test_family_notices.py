"""Families kept informed, and persons changed by a follow-up (pure): who is told what, and no notice to a
family names another child (canary tests over every rendering of every new notice)."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest

from services.archive.bus_sections import BusSections
from services.escalation.domain import decide
from services.escalation.family_updates import FAMILY_UPDATE, News, family_update
from services.escalation.guardians import Family, FamilyBook, guardian_recipients
from services.escalation.notices import family_refs, plan
from services.escalation.obligations import CaseRef, obligations_for
from services.escalation.persons import CATCH_UP_ZH, plan_added_student, plan_resend, repeat_indicators
from services.escalation.policy import parse_policy
from services.escalation.repository import Obligation
from services.intake.examples import FOLLOW_UP_PERSONS_EXAMPLE_BODY
from services.intake.reports import reported_event
from services.notify.family_page import MAX_CHARS, clean, refusal
from services.notify.templates import render, render_short
from shared.config import ROOT
from shared.contracts import (
    IncidentReport,
    Indicators,
    Level,
    NotificationRequested,
    RecipientRole,
    Student,
    StudentRole,
)
from shared.contracts.follow_up import FollowUp
from shared.crypto import new_key_b64
from shared.directory import load_directory
from tests.helpers import default_policy, report

pytestmark = pytest.mark.pure

POLICY = default_policy()
DIRECTORY = load_directory(ROOT / "deploy" / "directory.toml")
REPORT = IncidentReport.model_validate(report())
EVENT = reported_event(REPORT, "family-key-1")  # severe
DECISION = decide(EVENT.facts, POLICY, EVENT.occurred_at)
_, FIRST = plan(EVENT, DECISION, DIRECTORY)
FACTS = FIRST[0].facts.model_copy(update={"child_name": None, "due_at": None, "ack_required": False, "tasks": []})
CASE = CaseRef(EVENT.incident_id, EVENT.school_id, EVENT.occurred_at)
ADDED = FollowUp.model_validate(FOLLOW_UP_PERSONS_EXAMPLE_BODY)
NEW_VICTIM = ADDED.students_added[0]
STUDENTS = [*REPORT.students, NEW_VICTIM]
FAMILIES = [Family(s.ref, s.role, s.name, tuple(s.guardians)) for s in STUDENTS]
CHILDREN = {s.name for s in STUDENTS}
GUARDIANS = {g.name for s in STUDENTS for g in s.guardians}
LINK = "https://antibully.example.cn/ack/TOKEN"


def _family_of(req: NotificationRequested) -> Student:
    return next(s for s in STUDENTS for g in s.guardians if req.recipient.display_name.startswith(g.name))


def _canary(req: NotificationRequested) -> None:
    """Every rendering a family may get names its own child and nobody else, and no reason of the case."""
    own = _family_of(req)
    assert req.facts.child_name == own.name and req.facts.reasons_zh == []
    for text in (render(req), render(req, LINK)):
        full = text.subject + text.body
        assert own.name in full and req.facts.case_ref in full
        assert not [n for n in (CHILDREN - {own.name}) | (GUARDIANS - {g.name for g in own.guardians}) if n in full]
    short = render_short(req, LINK)
    assert not [n for n in CHILDREN | GUARDIANS if n in short.text] and "@" not in short.text
    assert "给学校留言" in render(req, LINK).body and LINK in render(req, LINK).body  # the reply path


def test_every_family_update_names_only_its_own_child() -> None:
    seen = {}
    for news in News:
        requests, duties = family_update(CASE, FACTS, FAMILIES, news, POLICY, Level.criminal)
        assert requests and len(requests) == len(duties)
        for req in requests:
            assert req.purpose == "family_update" and req.facts.update_zh and not req.facts.ack_required
            _canary(req)
        seen[news] = {r.recipient.role for r in requests}
        assert {d.action_id for d in duties} == {FAMILY_UPDATE} and all(d.student_ref for d in duties)
        assert {d.notification_id for d in duties} == {r.notification_id for r in requests}
    both = {RecipientRole.victim_guardian, RecipientRole.perpetrator_guardian}
    assert seen == {News.level_raised: both, News.counselling: {RecipientRole.victim_guardian},
                    News.sanction: {RecipientRole.perpetrator_guardian}, News.closed: both}


def test_a_sanction_reaches_only_the_sanctioned_childs_family_without_detail() -> None:
    requests, _ = family_update(CASE, FACTS, FAMILIES, News.sanction, POLICY, only={"S-1077"})
    assert [r.facts.child_name for r in requests] == ["王强"]
    text = render(requests[0]).body
    assert "学校已对您的孩子采取教育惩戒措施" in text and "警告" not in text
    raised, _ = family_update(CASE, FACTS, FAMILIES, News.level_raised, POLICY, Level.criminal)
    assert "涉嫌违法犯罪" in render(raised[0]).body
    again, _ = family_update(CASE, FACTS, FAMILIES, News.sanction, POLICY, only={"S-1077"})
    assert [r.notification_id for r in again] == [r.notification_id for r in requests]  # told once


def test_the_policy_can_keep_an_update_from_families() -> None:
    text = (ROOT / "deploy" / "policy" / "default.toml").read_text("utf-8").replace("counselling = true ",
                                                                                    "counselling = false ")
    quiet = parse_policy(text)
    assert family_update(CASE, FACTS, FAMILIES, News.counselling, quiet) == ([], [])
    assert family_update(CASE, FACTS, FAMILIES, News.closed, quiet)[0]


def test_a_family_without_contacts_still_gets_a_visible_duty() -> None:
    [(key, nobody)] = guardian_recipients(RecipientRole.victim_guardian, "S-1", [])
    assert nobody.routes() == [] and key == "victim_guardian:S-1:none"
    lone = Family("S-1", NEW_VICTIM.role, "陈小华", ())
    requests, duties = family_update(CASE, FACTS, [lone], News.closed, POLICY)
    assert len(requests) == len(duties) == 1 and requests[0].facts.child_name is None


def test_a_new_victim_gets_counselling_and_the_family_notice_and_nothing_else() -> None:
    requests, duties = plan_added_student(CASE, uuid.uuid4(), NEW_VICTIM, Level.severe, (), FACTS, POLICY)
    assert {(d.action_id, d.kind, d.student_ref) for d in duties} == {
        ("counselling", "task", "S-1101"), ("notify_victim_family", "notice", "S-1101")}
    [req] = requests
    assert req.purpose == "first_notice" and req.recipient.role is RecipientRole.victim_guardian
    assert [a.kind.value for a in req.recipient.routes()] == ["sms", "email"]
    _canary(req)
    assert "遭受了一起欺凌事件" in render(req).body
    # the counselling duty is the one a report would have made for this victim: reported done the same way
    report_duties = obligations_for(CASE, DECISION, FIRST, POLICY)
    assert {d.obligation_id for d in duties if d.kind == "task"}.isdisjoint({d.obligation_id for d in report_duties})


def test_a_new_perpetrator_gets_only_the_family_notice() -> None:
    perpetrator = NEW_VICTIM.model_copy(update={"ref": "S-1102", "role": StudentRole.perpetrator})
    _, duties = plan_added_student(CASE, uuid.uuid4(), perpetrator, Level.minor, (), FACTS, POLICY)
    assert [(d.action_id, d.student_ref) for d in duties] == [("notify_perpetrator_family", "S-1102")]


def test_the_reports_family_notices_carry_their_students_ref() -> None:
    refs = family_refs(EVENT, DECISION, DIRECTORY)
    duties = obligations_for(CASE, DECISION, FIRST, POLICY, refs)
    families = {d.student_ref for d in duties if d.role in ("victim_guardian", "perpetrator_guardian")}
    assert families == {"S-1042", "S-1077", "S-1078"}
    assert all(d.student_ref is None for d in duties if d.kind == "notice" and d.role in ("school", "bureau", "police"))


def test_corrected_guardians_get_the_failed_notices_again() -> None:
    [failed] = [d for d in obligations_for(CASE, DECISION, FIRST, POLICY, family_refs(EVENT, DECISION, DIRECTORY))
                if d.student_ref == "S-1078"]
    update = Obligation(**{**failed.__dict__, "obligation_id": uuid.uuid4(), "notification_id": uuid.uuid4(),
                           "action_id": FAMILY_UPDATE})
    follow_up_id = uuid.uuid4()
    corrected = ADDED.guardians_corrected[0]
    later = CaseRef(CASE.incident_id, CASE.school_id, CASE.accepted_at + timedelta(days=1))
    superseded, requests, duties = plan_resend(later, follow_up_id, corrected, [failed, update], "赵磊", FACTS,
                                               Level.severe, POLICY)
    assert superseded == [failed.obligation_id, update.obligation_id]
    assert [(r.purpose, r.facts.update_zh) for r in requests] == [("first_notice", None),
                                                                   ("family_update", CATCH_UP_ZH)]
    assert {r.notification_id for r in requests}.isdisjoint({failed.notification_id, update.notification_id})
    assert [a.to for a in requests[0].recipient.routes()] == ["13800000003", "zhao.parent@example.cn"]
    assert [(d.action_id, d.student_ref, d.due_at - later.accepted_at) for d in duties] == [
        ("notify_perpetrator_family", "S-1078", timedelta(hours=2)),
        (FAMILY_UPDATE, "S-1078", POLICY.timing.family_update_within)]
    for req in requests:
        _canary(req)
    again = plan_resend(later, follow_up_id, corrected, [failed], "赵磊", FACTS, Level.severe, POLICY)[1]
    assert again[0].notification_id == requests[0].notification_id  # a redelivered follow-up sends nothing new


def test_a_newly_found_repeat_offender_makes_the_case_a_repeat() -> None:
    assert repeat_indicators(None, ()) is None
    assert repeat_indicators(None, ("AB-1",)) == Indicators(repeated_after_education=True)
    raised = repeat_indicators(Indicators(violence=True), ("AB-1",))
    assert raised is not None and raised.violence and raised.repeated_after_education


def test_families_are_sealed_and_bound_to_their_case() -> None:
    book = FamilyBook(new_key_b64())
    family = FAMILIES[0]
    blob = book.seal(CASE.incident_id, family)
    assert "李".encode() not in blob and b"13800000001" not in blob
    assert book.open(CASE.incident_id, family.ref, family.role, blob) == family
    with pytest.raises(Exception):  # noqa: B017 - AES-GCM refuses another case's associated data
        book.open(uuid.uuid4(), family.ref, family.role, blob)


def test_a_familys_message_is_cleaned_and_limited() -> None:
    assert clean("  老师您好\r\n\x00谢谢 ") == "老师您好\n谢谢"
    assert refusal("") and refusal("字" * (MAX_CHARS + 1)) and refusal("字" * MAX_CHARS) is None


def test_the_records_personal_section_has_the_students_found_and_the_familys_messages() -> None:
    from services.archive.personal import personal_section
    from services.archive.scopes import PersonalView
    from services.intake.reports import follow_up_event
    from shared.contracts.notification import FamilyMessageAdded

    archive = BusSections(os.environ["ARCHIVE_BUS_PRIVATE_KEY"])
    found = archive.for_record(follow_up_event(EVENT.incident_id, "demo-school", uuid.uuid4(), 1, ADDED))
    wrote = FamilyMessageAdded(event_id=uuid.uuid4(), incident_id=EVENT.incident_id, notification_id=uuid.uuid4(),
                               role=RecipientRole.victim_guardian, text="请学校多关注孩子。")
    kept = archive.for_record(EVENT)  # as the archive records them
    opened = [(1, found), (2, kept), (3, wrote)]  # a follow-up may reach the archive before its report
    school = personal_section(PersonalView.all, opened)
    police = personal_section(PersonalView.involved, opened)
    assert school is not None and police is not None
    students = {s.ref: s for s in school.students}
    assert list(students) == ["S-1042", "S-1077", "S-1078", "S-1101"] and students["S-1101"].added_in_follow_up == 1
    assert [g.phone for g in students["S-1078"].guardians] == ["13800000003"]  # as corrected
    assert [m.text for m in school.family_messages] == ["请学校多关注孩子。"]
    assert police.family_messages == [] and "S-1101" in {s.ref for s in police.students}


def test_each_kind_of_news_reaches_a_family_once_and_each_raise_once_per_level() -> None:
    def ids(news: News, level: Level) -> set[uuid.UUID]:
        return {r.notification_id for r in family_update(CASE, FACTS.model_copy(update={"level": level}), FAMILIES,
                                                         news, POLICY, level)[0]}

    assert ids(News.counselling, Level.serious) == ids(News.counselling, Level.severe)
    assert ids(News.level_raised, Level.severe).isdisjoint(ids(News.level_raised, Level.criminal))

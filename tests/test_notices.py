"""What each recipient is told: the right people, and no other child's name (canary tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.escalation.domain import decide
from services.escalation.notices import plan
from services.intake.reports import reported_event
from services.notify.templates import render, render_short
from shared.config import ROOT
from shared.contracts import IncidentReport, RecipientRole
from shared.directory import load_directory
from tests.helpers import as_notify, default_policy, directory_with_more_schools, report

pytestmark = pytest.mark.pure

DIRECTORY = load_directory(ROOT / "deploy" / "directory.toml")
CHILDREN = {"李小明", "王强", "赵磊"}
GUARDIANS = {"李建国", "王芳", "赵军"}


def _plan(**changes: object) -> list:  # type: ignore[type-arg]
    event = reported_event(IncidentReport.model_validate(report(**changes)), "key-00000001")
    decided, requests = plan(event, decide(event.facts, default_policy(), event.occurred_at), DIRECTORY)
    assert [r.notification_id for r in decided.recipients] == [r.notification_id for r in requests]
    return [as_notify(r) for r in requests]  # as notify reads them: a guardian's sealed contact opened


def test_escalations_requests_carry_no_name_or_contact_of_a_family() -> None:
    event = reported_event(IncidentReport.model_validate(report()), "key-00000001")
    _, requests = plan(event, decide(event.facts, default_policy(), event.occurred_at), DIRECTORY)
    families = [r for r in requests if r.recipient.role in (RecipientRole.victim_guardian,
                                                            RecipientRole.perpetrator_guardian)]
    assert len(families) == 3 and all(r.recipient.sealed and r.facts.child_name is None for r in families)
    on_the_bus = "".join(r.model_dump_json() for r in requests) + event.model_dump_json()
    assert not [x for x in CHILDREN | GUARDIANS | {"13800000001", "li.parent@example.cn", "卫生间"}
                if x in on_the_bus]


def test_severe_incident_tells_families_school_bureau_and_police() -> None:
    requests = _plan()
    roles = [r.recipient.role for r in requests]
    assert roles.count(RecipientRole.victim_guardian) == 1
    assert roles.count(RecipientRole.perpetrator_guardian) == 2
    assert set(roles) == {RecipientRole.victim_guardian, RecipientRole.perpetrator_guardian, RecipientRole.school,
                          RecipientRole.counsellor, RecipientRole.bureau, RecipientRole.police}
    entries = {r.recipient.entry for r in requests}
    assert {"bureau", "police", "school:demo-school", "counsellor:demo-school"} <= entries
    assert "li.parent@example.cn" in {r.recipient.email for r in requests}
    # officials are named by their directory entry: no address, robot key or secret travels in the event
    assert not [r for r in requests if r.recipient.entry and r.recipient.routes()]


def test_wide_attention_adds_the_stability_office() -> None:
    roles = {r.recipient.role for r in _plan(public_attention="wide")}
    assert RecipientRole.stability_office in roles


def test_notification_ids_are_stable_and_distinct() -> None:
    first, second = _plan(), _plan()
    assert [r.notification_id for r in first] == [r.notification_id for r in second]
    assert len({r.notification_id for r in first}) == len(first)


def test_a_family_message_names_only_its_own_child() -> None:
    for req in _plan():
        text = render(req)
        full = text.subject + text.body
        if req.recipient.role in (RecipientRole.victim_guardian, RecipientRole.perpetrator_guardian):
            own = req.facts.child_name
            assert own in full
            assert not (CHILDREN - {own}) & {c for c in CHILDREN if c in full}
        else:
            assert not [c for c in CHILDREN | GUARDIANS if c in full], req.recipient.role
            assert req.facts.child_name is None
        assert req.facts.case_ref in full


def test_missing_contacts_still_produce_a_request_without_address() -> None:
    body = report(school_id="unknown-school")
    body["students"][0]["guardians"] = []
    event = reported_event(IncidentReport.model_validate(body), "key-00000002")
    _, requests = plan(event, decide(event.facts, default_policy(), event.occurred_at), DIRECTORY)
    no_address = {r.recipient.role for r in requests if not r.recipient.reachable}
    assert no_address == {RecipientRole.victim_guardian, RecipientRole.school, RecipientRole.counsellor}


def test_directory_errors_name_the_bad_entry(tmp_path: Path) -> None:
    bad = tmp_path / "directory.toml"
    bad.write_text('version = "x"\n[officials.bureau]\nname = "b"\nemail = "not-an-email"\n')
    try:
        load_directory(bad)
    except ValueError as exc:
        assert "officials.bureau.email" in str(exc)
        assert "officials.police" in str(exc)
    else:
        raise AssertionError("a bad directory was accepted")


PURPOSES = ["first_notice", "level_raised", "deadline_missed", "deadline_reminder", "help_requested", "help_urgent",
            "lookback_due", "change_resolved", "family_update"]


def test_sms_and_chat_carry_the_minimum_for_every_role_and_purpose() -> None:
    link = "https://antibully.example.cn/ack/TOKEN"
    for req in _plan():
        for purpose in PURPOSES:
            short = render_short(req.model_copy(update={"purpose": purpose}), link)
            assert not [n for n in CHILDREN | GUARDIANS if n in short.text], (req.recipient.role, purpose)
            assert req.facts.school_name in short.text and req.facts.case_ref in short.text
            assert short.text.endswith(link) and short.params["link"] == link
            assert "@" not in short.text  # no address of anyone
            assert set(short.params) == {"school", "kind", "level", "ask", "ref", "link"}


def test_every_role_and_purpose_renders_in_chinese_without_another_childs_name() -> None:
    for req in _plan():
        for purpose in PURPOSES:
            text = render(req.model_copy(update={"purpose": purpose}))
            full = text.subject + text.body
            assert req.facts.case_ref in full and req.recipient.display_name in full
            own = {req.facts.child_name} if purpose in ("first_notice", "level_raised", "family_update") else set()
            assert not [n for n in CHILDREN - own if n in full], (req.recipient.role, purpose)


def test_officials_and_the_school_are_linked_to_the_case_in_the_console() -> None:
    console = "https://antibully.edu.example.cn/"
    for req in _plan():
        text = render(req, console_url=console)
        if req.recipient.role in (RecipientRole.victim_guardian, RecipientRole.perpetrator_guardian):
            assert "antibully.edu.example.cn" not in text.body  # families have their own link page
        else:
            assert f"https://antibully.edu.example.cn/cases/{req.incident_id}" in text.body, req.recipient.role
            assert "专门档案系统中查阅" not in text.body
        assert render(req).body.count("antibully.edu.example.cn") == 0  # no console configured: no link
    [school] = [r for r in _plan() if r.recipient.role is RecipientRole.school]
    help_notice = render(school.model_copy(update={"purpose": "help_requested"}), console_url=console)
    assert f"（https://antibully.edu.example.cn/school/help/{school.facts.case_ref}）查看并答复" in help_notice.body


def test_a_suspected_crime_tells_the_plans_people_by_their_directory_entries() -> None:
    """The legal vice-principal and safety officers of the school, the procuratorate and the court: named by
    their entries (notify resolves the addresses), each told its own ask, no child's name."""
    requests = {r.recipient.role: r for r in _plan(suspected_crime=True)}
    entries = {role: requests[role].recipient.entry for role in (
        RecipientRole.legal_vice_principal, RecipientRole.safety_officer, RecipientRole.procuratorate,
        RecipientRole.court)}
    assert entries == {RecipientRole.legal_vice_principal: "legal_vice_principal:demo-school",
                       RecipientRole.safety_officer: "safety_officer:demo-school",
                       RecipientRole.procuratorate: "procuratorate", RecipientRole.court: "court"}
    vp = DIRECTORY.resolve("legal_vice_principal:demo-school")
    assert vp is not None and vp.email == "legal-vp@demo-school.example.cn"
    for role, ask in ((RecipientRole.legal_vice_principal, "法治副校长"), (RecipientRole.safety_officer, "安全防护"),
                      (RecipientRole.procuratorate, "依法处理"), (RecipientRole.court, "依法处理")):
        req = requests[role]
        text = render(req)
        full = text.subject + text.body + render_short(req, None).text
        assert ask in full and "涉嫌违法犯罪" in full and req.facts.child_name is None
        assert not [n for n in CHILDREN | GUARDIANS if n in full], role
        assert not req.facts.ack_required and req.facts.tasks == []  # a notice to know, not the school's tasks


def test_a_severe_report_keeps_its_seven_notices() -> None:
    roles = {r.recipient.role for r in _plan()}
    assert not roles & {RecipientRole.legal_vice_principal, RecipientRole.safety_officer,
                        RecipientRole.procuratorate, RecipientRole.court}


def test_a_school_without_the_plans_people_still_gets_requests_without_address(tmp_path: Path) -> None:
    """A policy role the directory lacks for the school is a request with no entry: notify fails it
    visibly (no_contact), and the duty is chased."""
    directory = load_directory(directory_with_more_schools(tmp_path))
    event = reported_event(IncidentReport.model_validate(report(school_id="second-school", suspected_crime=True)),
                           "key-00000003")
    _, requests = plan(event, decide(event.facts, default_policy(), event.occurred_at), directory)
    unreachable = {r.recipient.role: r.recipient for r in requests if not r.recipient.reachable}
    assert set(unreachable) == {RecipientRole.legal_vice_principal, RecipientRole.safety_officer,
                                RecipientRole.counsellor}
    assert unreachable[RecipientRole.legal_vice_principal].display_name == "学校法治副校长"
    assert directory.unknown_targets({"legal_vice_principal", "safety_officer", "nobody"}) == {"nobody"}

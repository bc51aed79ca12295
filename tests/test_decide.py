"""The default policy's ladder: a table over every rule, the actions and deadlines each level
requires, the flags for late and under-rated reports, and properties that must always hold."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.escalation.domain import classify
from shared.contracts import Indicators, Level, RecipientRole
from tests.helpers import decide_report, default_policy, report

pytestmark = pytest.mark.pure

POLICY = default_policy()
FAMILIES_AND_SCHOOL = {RecipientRole.victim_guardian, RecipientRole.perpetrator_guardian, RecipientRole.school,
                       RecipientRole.counsellor}
AUTHORITIES = {RecipientRole.bureau, RecipientRole.police}
# the plan's people, told of suspected crimes only by default (二(四): 公安机关、人民法院、人民检察院依法处置)
CRIMINAL_ONLY = {RecipientRole.legal_vice_principal, RecipientRole.safety_officer, RecipientRole.procuratorate,
                 RecipientRole.court}
QUIET = {"injury": "none", "violence": False, "weapon": False, "group": False, "repeated_after_education": False,
         "suspected_crime": False, "public_attention": "none"}

CASES: list[tuple[dict[str, Any], Level, set[str]]] = [
    ({}, Level.minor, {"no_aggravating_indicator"}),
    ({"injury": "minor"}, Level.serious, {"minor_injury"}),
    ({"group": True}, Level.serious, {"group"}),
    ({"public_attention": "local"}, Level.serious, {"public_attention"}),
    ({"public_attention": "wide"}, Level.serious, {"wide_public_attention"}),
    ({"violence": True}, Level.severe, {"violence"}),
    ({"weapon": True}, Level.severe, {"weapon"}),
    ({"repeated_after_education": True}, Level.severe, {"repeated_after_education"}),
    ({"injury": "serious"}, Level.severe, {"serious_injury"}),
    ({"suspected_crime": True}, Level.criminal, {"suspected_crime"}),
    ({"injury": "grave"}, Level.criminal, {"grave_injury"}),
    ({"violence": True, "group": True, "injury": "minor"}, Level.severe, {"violence", "group", "minor_injury"}),
    (
        {"suspected_crime": True, "weapon": True, "public_attention": "wide"},
        Level.criminal,
        {"suspected_crime", "weapon", "wide_public_attention"},
    ),
]
TASKS = {
    Level.minor: {"counselling", "criticism_and_warning_talk"},
    Level.serious: {"counselling", "criticism_and_warning_talk", "disciplinary_sanction"},
    Level.severe: {"counselling", "criticism_and_warning_talk", "disciplinary_sanction", "quality_evaluation_note",
                   "special_school_assessment"},
}
TASKS[Level.criminal] = TASKS[Level.severe]


def test_every_rule_of_the_policy_is_in_the_table() -> None:
    assert {r.id for r in POLICY.rules} <= {code for _, _, codes in CASES for code in codes}


@pytest.mark.parametrize(("indicators", "level", "reasons"), CASES)
def test_level_and_reasons(indicators: dict[str, Any], level: Level, reasons: set[str]) -> None:
    got, _, why = classify(Indicators(**indicators), POLICY)
    assert got == level
    assert {r.code for r in why} == reasons
    assert all(r.zh and r.en for r in why)


@pytest.mark.parametrize(("indicators", "level", "reasons"), CASES)
def test_required_actions(indicators: dict[str, Any], level: Level, reasons: set[str]) -> None:
    decision = decide_report(report(**{**QUIET, **indicators}))
    expected = set(FAMILIES_AND_SCHOOL)
    if level != Level.minor:
        expected |= AUTHORITIES
    if indicators.get("public_attention") == "wide":
        expected.add(RecipientRole.stability_office)
    if level == Level.criminal:
        expected |= CRIMINAL_ONLY
    assert set(decision.roles) == expected
    assert decision.public_attention_wide == (indicators.get("public_attention") == "wide")
    assert {a.action_id for a in decision.actions if a.kind == "task"} == TASKS[level]
    assert decision.policy_version == POLICY.version


def test_default_deadlines() -> None:
    due = {a.action_id: a.due_in for a in decide_report(report()).actions}  # the example is severe
    assert due["contact_police"] == timedelta(minutes=15)
    assert due["report_to_bureau"] == timedelta(hours=1)
    assert due["notify_victim_family"] == timedelta(hours=2)
    assert due["counselling"] == timedelta(hours=72)
    minor = {a.action_id: a.due_in for a in decide_report(report(**QUIET)).actions}
    assert minor["notify_victim_family"] == timedelta(hours=24) and "contact_police" not in minor
    acks = {a.action_id for a in decide_report(report()).actions if a.ack}
    assert acks == {"report_to_bureau", "contact_police"}


def test_counselling_for_every_victim() -> None:
    body = report()
    body["students"].append({**body["students"][0], "ref": "S-1099", "name": "张小红", "guardians": []})
    counselling = [a.student_ref for a in decide_report(body).actions if a.action_id == "counselling"]
    assert counselling == ["S-1042", "S-1099"]


def test_late_and_under_rated_reports_are_flagged() -> None:
    on_time = decide_report(report(proposed_level="severe"), hours_after_discovery=2)
    assert not {"late_report", "under_rated"} & set(on_time.flags)
    late = decide_report(report(proposed_level="minor"), hours_after_discovery=30)
    assert {"late_report", "under_rated"} <= set(late.flags)
    zh = {r.code: r.zh for r in late.reasons}
    assert "30" in zh["late_report"] and "情节轻微" in zh["under_rated"] and "情节严重" in zh["under_rated"]


indicators = st.builds(
    Indicators,
    injury=st.sampled_from(["none", "minor", "serious", "grave"]),
    violence=st.booleans(), weapon=st.booleans(), group=st.booleans(),
    repeated_after_education=st.booleans(), suspected_crime=st.booleans(),
    public_attention=st.sampled_from(["none", "local", "wide"]),
)
AGGRAVATE = [("violence", True), ("weapon", True), ("group", True), ("repeated_after_education", True),
             ("suspected_crime", True), ("injury", "serious"), ("injury", "grave"), ("public_attention", "wide")]
ORDER = {"injury": ["none", "minor", "serious", "grave"], "public_attention": ["none", "local", "wide"]}


@settings(max_examples=300, deadline=None)
@given(indicators, st.sampled_from(AGGRAVATE))
def test_an_aggravating_indicator_never_lowers_the_level(ind: Indicators, change: tuple[str, Any]) -> None:
    name, value = change
    current = getattr(ind, name)
    if name in ORDER and ORDER[name].index(str(current)) > ORDER[name].index(value):
        return  # that would be a mitigation, not an aggravation
    worse = Indicators.model_validate({**ind.model_dump(mode="json"), name: value})
    assert classify(worse, POLICY)[0].rank >= classify(ind, POLICY)[0].rank


@settings(max_examples=150, deadline=None)
@given(indicators)
def test_from_serious_up_bureau_and_police_and_every_victim_counselled(ind: Indicators) -> None:
    decision = decide_report(report(**ind.model_dump(mode="json")))
    if decision.level.rank >= Level.serious.rank:
        assert set(decision.roles) >= AUTHORITIES
    victims = [s["ref"] for s in report()["students"] if s["role"] == "victim"]
    assert [a.student_ref for a in decision.actions if a.action_id == "counselling"] == victims

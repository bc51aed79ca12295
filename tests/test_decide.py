"""Table tests of the severity ladder: every rule, the recipients each level requires."""

from __future__ import annotations

from typing import Any

import pytest

from services.escalation.domain import decide
from shared.contracts import Indicators, Level, RecipientRole

FAMILIES_AND_SCHOOL = {RecipientRole.victim_guardian, RecipientRole.perpetrator_guardian, RecipientRole.school}
AUTHORITIES = {RecipientRole.bureau, RecipientRole.police}

CASES: list[tuple[dict[str, Any], Level, set[str]]] = [
    ({}, Level.minor, {"no_aggravating_indicator"}),
    ({"injury": "minor"}, Level.serious, {"minor_injury"}),
    ({"group": True}, Level.serious, {"group"}),
    ({"public_attention": "local"}, Level.serious, {"public_attention"}),
    ({"public_attention": "wide"}, Level.serious, {"public_attention", "wide_public_attention"}),
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
        {"suspected_crime", "weapon", "public_attention", "wide_public_attention"},
    ),
]


@pytest.mark.parametrize(("indicators", "level", "reasons"), CASES)
def test_level_and_reasons(indicators: dict[str, Any], level: Level, reasons: set[str]) -> None:
    decision = decide(Indicators(**indicators))
    assert decision.level == level
    assert {r.code for r in decision.reasons} == reasons
    assert all(r.zh and r.en for r in decision.reasons)


@pytest.mark.parametrize(("indicators", "level", "reasons"), CASES)
def test_required_recipients(indicators: dict[str, Any], level: Level, reasons: set[str]) -> None:
    decision = decide(Indicators(**indicators))
    expected = set(FAMILIES_AND_SCHOOL)
    if level != Level.minor:
        expected |= AUTHORITIES
    if indicators.get("public_attention") == "wide":
        expected.add(RecipientRole.stability_office)
    assert set(decision.roles) == expected
    assert decision.public_attention_wide == (indicators.get("public_attention") == "wide")


def test_every_single_indicator_never_lowers_the_level() -> None:
    base = decide(Indicators()).level.rank
    for indicators, _, _ in CASES:
        assert decide(Indicators(**indicators)).level.rank >= base

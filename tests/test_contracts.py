"""The report contract refuses what a careful official would refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from shared.contracts import IncidentReport
from tests.helpers import report

pytestmark = pytest.mark.pure


def _errors(body: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        IncidentReport.model_validate(body)
    return [".".join(map(str, e["loc"])) + ": " + e["msg"] for e in caught.value.errors()]


def test_example_is_valid() -> None:
    assert IncidentReport.model_validate(report()).school_id == "demo-school"


def test_timestamps_need_a_time_zone() -> None:
    assert any(e.startswith("occurred_at") for e in _errors(report(occurred_at="2026-11-28T16:40:00")))


def test_occurred_after_discovered_is_refused() -> None:
    errors = _errors(report(occurred_at="2026-11-28T18:00:00+08:00"))
    assert any("occurred_at must not be later than discovered_at" in e for e in errors)


def test_discovery_in_the_future_is_refused() -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert any("future" in e for e in _errors(report(discovered_at=future)))


def test_unknown_fields_are_refused_by_name() -> None:
    assert any(e.startswith("colour") for e in _errors(report(colour="red")))


def test_student_refs_must_be_unique_and_pseudonymous() -> None:
    body = report()
    body["students"][1]["ref"] = body["students"][0]["ref"]
    assert any("unique" in e for e in _errors(body))
    body = report()
    body["students"][0]["ref"] = "李小明"
    assert any(e.startswith("students.0.ref") for e in _errors(body))


def test_enums_list_their_values() -> None:
    errors = _errors(report(category="fighting"))
    assert any(e.startswith("category") and "physical" in e and "cyber" in e for e in errors)

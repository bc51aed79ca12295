"""Duties without I/O: which duties a lower level withdraws, overdue now versus ever late, the archive's
projected row (no note in the clear), the list's filter and cursor, and intake's discharge body and event."""

from __future__ import annotations

import typing
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.archive.duties import STATE_CHOICES, DutyCursor, DutyFilter, duty_row, ever_late, overdue, view_of
from services.archive.routes.duties import DutyStateQuery
from services.escalation.lowering import no_longer_required, still_required
from services.intake.duties import Discharge, decode_cursor, discharged_event, is_family_notice, school_duty
from shared.contracts import Level
from shared.contracts.base import derive_id
from shared.contracts.duties import Duty, DutyState, DutyUpdated
from tests.helpers import default_policy

pytestmark = pytest.mark.pure

POLICY = default_policy()
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
SEVERE_TASKS = ("counselling", "criticism_and_warning_talk", "disciplinary_sanction", "quality_evaluation_note",
                "special_school_assessment")


def _open(*actions: str) -> list[tuple[uuid.UUID, str]]:
    return [(derive_id("duty", a), a) for a in actions]


def _withdrawn(actions: tuple[str, ...], level: Level, flags: tuple[str, ...] = ()) -> set[str]:
    ids = set(no_longer_required(_open(*actions), level, flags, POLICY))
    return {a for oid, a in _open(*actions) if oid in ids}


def test_a_lower_level_withdraws_what_it_no_longer_requires() -> None:
    assert _withdrawn(SEVERE_TASKS, Level.serious) == {"quality_evaluation_note", "special_school_assessment"}
    assert _withdrawn(SEVERE_TASKS, Level.minor) == {"disciplinary_sanction", "quality_evaluation_note",
                                                     "special_school_assessment"}
    notices = ("contact_police", "report_to_bureau", "notify_victim_family", "notify_school")
    assert _withdrawn(notices, Level.minor) == {"contact_police", "report_to_bureau"}
    assert _withdrawn(notices, Level.serious) == set()


def test_counselling_and_the_work_plans_own_duties_stay_at_every_level() -> None:
    for level in Level:
        assert _withdrawn(("counselling", "send_follow_up", "lookback_review", "answer_help_request"), level) == set()
    assert still_required(None, Level.minor, ())  # not a policy action


def test_a_flagged_action_stays_only_with_its_flag() -> None:
    stability = POLICY.action("report_to_stability_office")
    assert not still_required(stability, Level.serious, ())
    assert still_required(stability, Level.serious, ("wide_public_attention",))
    assert not still_required(stability, Level.minor, ("wide_public_attention",))  # no deadline at minor


def test_overdue_counts_from_the_original_deadline_and_ever_late_stays() -> None:
    first = T0 + timedelta(hours=2)
    assert not overdue("open", first, first - timedelta(seconds=1))
    assert overdue("open", first, first) and overdue("delivered", first, first + timedelta(days=3))
    assert overdue("failed", first, first + timedelta(hours=1))
    for settled in ("done", "acknowledged", "waived", "not_applicable"):
        assert not overdue(settled, first, first + timedelta(days=30))
    assert not ever_late(0, None, first) and not ever_late(0, first, first)
    assert ever_late(1, None, first) and ever_late(0, first + timedelta(minutes=1), first)


def _updated(note: str | None = "家长到校，班主任当面告知", state: DutyState = DutyState.acknowledged,
             missed: int = 0, version: int = 3) -> DutyUpdated:
    oid = derive_id("obligation", "x")
    duty = Duty(obligation_id=oid, action_id="notify_victim_family", label_zh="告知受害学生家长", kind="notice",
                role="victim_guardian", notification_id=oid, state=state, due_at=T0 + timedelta(hours=4),
                first_due_at=T0 + timedelta(hours=2), missed=missed, settled_at=T0 + timedelta(hours=1),
                settled_by="school:demo-school:班主任", how="in_person", note=note, evidence_ref="家校联系记录 12")
    return DutyUpdated(event_id=derive_id("duty-updated", oid, version), incident_id=derive_id("case"),
                       school_id="demo-school", version=version, duty=duty)


def test_the_archive_row_keeps_the_note_sealed() -> None:
    event = _updated()
    row = duty_row(event, "lechang")
    assert "家长到校" not in str(row) and row["note_event_id"] == event.event_id
    assert (row["jurisdiction"], row["version"], row["state"]) == ("lechang", 3, "acknowledged")
    assert duty_row(_updated(note=None), "lechang")["note_event_id"] is None
    view = view_of({**row, "case_ref": "AB-1", "updated_at": T0}, T0 + timedelta(days=1))
    assert view.has_note and not view.overdue and not view.ever_late and view.state is DutyState.acknowledged
    late = view_of({**duty_row(_updated(state=DutyState.failed, missed=1), "lechang"), "updated_at": T0},
                   T0 + timedelta(hours=3))
    assert late.overdue and late.ever_late


def test_the_list_filter_states_and_cursor() -> None:
    assert typing.get_args(DutyStateQuery) == STATE_CHOICES
    assert sorted(DutyFilter().states() or []) == ["delivered", "failed", "open"]
    assert DutyFilter(state="all").states() is None
    assert sorted(DutyFilter(state="settled").states() or []) == ["acknowledged", "done", "not_applicable", "waived"]
    assert DutyFilter(state="failed").states() == ["failed"]
    assert DutyFilter(role="school", overdue=True).stated() == {"role": "school", "state": "open", "overdue": True}
    c = DutyCursor(T0, derive_id("o"))
    assert DutyCursor.decode(c.encode()) == c
    for bad in ("x", "bm90IGEgY3Vyc29y", f"1_{derive_id('o').hex}x"):
        with pytest.raises(ValueError):
            DutyCursor.decode(bad)
    with pytest.raises(ValueError):  # a position's time without a zone is never given out
        DutyCursor(T0.replace(tzinfo=None), derive_id("o")).encode()
    with pytest.raises(ValueError):
        decode_cursor("bm90IGEgY3Vyc29y")


def test_intake_keeps_what_the_school_needs_and_marks_a_family_told() -> None:
    duty = school_duty(_updated(state=DutyState.failed))
    assert is_family_notice(duty) and duty.state == "failed" and duty.version == 3
    assert not is_family_notice(school_duty(_updated().model_copy(update={"duty": _updated().duty.model_copy(
        update={"role": "police", "action_id": "contact_police"})})))
    body = Discharge.model_validate({"how": "phone", "by": "班主任", "done_at": "2026-11-28T11:00:00+08:00"})
    event = discharged_event(duty, "demo-school", body, "idem-tell-0001")
    assert (event.by, event.how.value, event.obligation_id, event.notification_id) == (
        "school:demo-school:班主任", "phone", duty.obligation_id, duty.notification_id)
    assert event.event_id == discharged_event(duty, "demo-school", body, "idem-tell-0001").event_id
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    for wrong in ({"how": "link", "by": "班主任", "done_at": "2026-11-28T11:00:00+08:00"},
                  {"how": "phone", "by": "班主任", "done_at": future},
                  {"how": "phone", "by": "班主任", "done_at": "2026-11-28T11:00:00"},
                  {"how": "phone", "by": "x" * 25, "done_at": "2026-11-28T11:00:00+08:00"},
                  {"how": "phone", "by": "班主任", "done_at": "2026-11-28T11:00:00+08:00", "name": "王"}):
        with pytest.raises(ValidationError):
            Discharge.model_validate(wrong)

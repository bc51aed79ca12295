"""The archive's rules for officials' acts, without I/O: fields, roles, event ids, and how the record shows
an act (its words only in the personal section)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.archive.act_rules import act_event_id, field_problems, may_act
from services.archive.act_views import act_entries
from services.archive.chain import Entry
from services.archive.personal import personal_section
from services.archive.scopes import PersonalView
from services.archive.summary import summarise
from shared.contracts.acts import RULES, Act, OfficialActed
from shared.identity import Official, OfficialRole

pytestmark = pytest.mark.pure

NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)
CASE = uuid.UUID(int=11)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def official(role: str) -> Official:
    return Official(account_id=f"{role}-1", display_name=role, role=OfficialRole(role), jurisdiction="lechang",
                    school_id="demo-school" if role == "school" else None)


def test_each_act_needs_its_own_field_and_no_other() -> None:
    def fields(act: Act, **given: object) -> list[str]:
        return [e.field for e in field_problems(act, given, NOW)]

    assert fields(Act.raise_level) == ["level"]
    assert fields(Act.raise_level, level="severe") == []
    assert fields(Act.order_follow_up, due_at=NOW - timedelta(minutes=1)) == ["due_at"]
    assert fields(Act.order_follow_up, due_at=NOW + timedelta(days=1)) == []
    assert fields(Act.waive_duty) == ["obligation_id"]
    assert fields(Act.police_case_number) == ["police_case_number"]
    assert fields(Act.police_outcome, outcome="x", level="severe") == ["level"]
    assert fields(Act.add_note, due_at=NOW, obligation_id=uuid.uuid4()) == ["due_at", "obligation_id"]
    for act in Act:
        needs = {name: "x" for name in RULES[act].needs}
        if act is Act.order_follow_up:
            needs = {"due_at": NOW + timedelta(hours=1)}
        assert fields(act, **needs) == [], act
        assert all(e.reason_zh for e in field_problems(act, {"outcome": "x", "level": "x"}, NOW))


def test_only_the_bureau_steers_and_only_the_police_record_their_part() -> None:
    for act in Act:
        allowed = {role for role in OfficialRole if may_act(official(role.value), act)}
        assert allowed == ({OfficialRole.police} if act.by_police else {OfficialRole.bureau}), act


def test_the_same_act_twice_is_one_event_and_another_is_another() -> None:
    def eid(act: Act, who: str = "wang", **kw: object) -> uuid.UUID:
        return act_event_id(CASE, who, act, **kw)  # type: ignore[arg-type]

    duty = uuid.uuid4()
    assert eid(Act.waive_duty, obligation_id=duty, reason="a") == eid(Act.waive_duty, obligation_id=duty, reason="b")
    assert eid(Act.waive_duty, obligation_id=duty) != eid(Act.waive_duty, "li", obligation_id=duty)
    assert eid(Act.waive_duty, obligation_id=duty) != eid(Act.waive_duty, obligation_id=uuid.uuid4())
    assert eid(Act.close_case, round_=0) == eid(Act.close_case, round_=0) != eid(Act.close_case, round_=1)
    note = eid(Act.add_note, reason="已督促")
    assert note == eid(Act.add_note, reason="已督促") != eid(Act.add_note, reason="已约谈")
    assert eid(Act.police_outcome, outcome="甲") != eid(Act.police_outcome, outcome="乙")
    assert eid(Act.raise_level, level="severe") != eid(Act.raise_level, level="criminal")
    due = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    assert eid(Act.order_follow_up, due_at=due) == eid(Act.order_follow_up, due_at=due.astimezone(SHANGHAI))
    assert eid(Act.refer_to_police, reason="a") == eid(Act.refer_to_police, reason="b")


def test_the_record_shows_an_act_to_all_and_its_words_only_in_the_personal_section() -> None:
    event = OfficialActed(event_id=uuid.uuid4(), incident_id=CASE, school_id="demo-school", act=Act.police_outcome,
                          official="police-1", official_role="police", jurisdiction="lechang",
                          reason="对王强予以训诫", outcome="王强已被训诫", police_case_number="乐公2026-1")
    summary = summarise(event)
    assert "王强" not in str(summary) and summary["police_case_number"] == "乐公2026-1"
    entry = Entry(incident_id=CASE, seq=4, event_id=event.event_id, event_type="OfficialActed", recorded_at=NOW,
                  summary=summary, payload_sha256="0" * 64, prev_hash="0" * 64, hash="1" * 64)
    [shown] = act_entries([entry])
    assert (shown.seq, shown.act, shown.official, shown.recorded_at) == (4, "police_outcome", "police-1", NOW)
    for view in (PersonalView.all, PersonalView.involved):
        personal = personal_section(view, [(4, event)])
        assert personal is not None and [(a.reason, a.outcome) for a in personal.acts] == [
            ("对王强予以训诫", "王强已被训诫")]
    assert personal_section(PersonalView.none, [(4, event)]) is None

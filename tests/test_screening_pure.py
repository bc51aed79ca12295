"""Screening's pure rules (issue 16 item 2): a return's findings or "nothing found", the seven aspects, ids
derived from the body, the hazards a screening files, coverage's states and order, the console's form bodies."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from services.archive.coverage import ReturnState, build_coverage, coverage_csv, screening_phases
from services.archive.ledger import SchoolInfo
from services.archive.screening import (
    SchoolScreening,
    StudentScreeningReturn,
    check_return,
    check_screening,
    record_id_for,
    screening_facts,
    screening_hazards,
    unknown_hazards,
)
from services.console import screening_forms
from shared.campaign_plan import parse_campaign
from shared.config import ROOT
from shared.contracts.campaign import Aspect, RecordKind
from shared.errors import ApiError

pytestmark = pytest.mark.pure
TODAY = date(2026, 3, 1)
NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
CAMPAIGN = parse_campaign((ROOT / "deploy" / "campaigns" / "2027-zhuanxiang.toml").read_text(encoding="utf-8"))


def _fields(exc: pytest.ExceptionInfo[ApiError]) -> list[str]:
    return [e.field for e in exc.value.errors]


def _screening(problems: tuple[Aspect, ...] = ()) -> SchoolScreening:
    return SchoolScreening.model_validate({"aspects": [
        {"aspect": a.value, "finding": "已查阅", **({"problem": "有问题", "rectification": {
            "plan": "整改", "due_date": "2026-03-20", "responsible": "德育处"}} if a in problems else {})}
        for a in Aspect]})


def test_a_return_says_what_it_found_or_that_nothing_was_found() -> None:
    h = uuid.uuid4()
    check_return(StudentScreeningReturn(students_screened=1, parent_talks=0, nothing_found=True))
    check_return(StudentScreeningReturn(students_screened=1, parent_talks=0, hazard_ids=[h]))
    for body in (StudentScreeningReturn(students_screened=1, parent_talks=0),
                 StudentScreeningReturn(students_screened=1, parent_talks=0, nothing_found=True, hazard_ids=[h])):
        with pytest.raises(ApiError) as exc:
            check_return(body)
        assert _fields(exc) == ["nothing_found"]
    with pytest.raises(ApiError) as exc:
        check_return(StudentScreeningReturn(students_screened=1, parent_talks=0, hazard_ids=[h, h]))
    assert _fields(exc) == ["hazard_ids.1"]
    with pytest.raises(ApiError) as exc:
        unknown_hazards(StudentScreeningReturn(students_screened=1, parent_talks=0, hazard_ids=[h, uuid.uuid4()]),
                        {h})
    assert _fields(exc) == ["hazard_ids.1"]


def test_the_seven_aspects_each_once_and_a_problem_needs_a_rectification() -> None:
    check_screening(_screening((Aspect.rules,)), TODAY)
    body = _screening().model_dump(mode="json")
    body["aspects"][3]["aspect"] = "mechanism"
    with pytest.raises(ApiError) as exc:
        check_screening(SchoolScreening.model_validate(body), TODAY)
    assert _fields(exc) == ["aspects.3.aspect"]
    body = _screening().model_dump(mode="json")
    body["aspects"][2]["problem"] = "缺专职人员"
    body["aspects"][4]["rectification"] = {"plan": "x", "due_date": "2026-03-02", "responsible": "y"}
    with pytest.raises(ApiError) as exc:
        check_screening(SchoolScreening.model_validate(body), TODAY)
    assert _fields(exc) == ["aspects.2.rectification", "aspects.4.problem"]
    with pytest.raises(ApiError) as exc:
        check_screening(_screening((Aspect.rules,)), date(2026, 3, 21))
    assert _fields(exc) == ["aspects.1.rectification.due_date"]


def test_ids_derive_from_the_body_and_the_record_superseded() -> None:
    body = _screening((Aspect.facilities,))
    args = (RecordKind.school_screening, "c", "p1", "s", "bureau-wang", body)
    first = record_id_for(*args, None)
    assert record_id_for(*args, None) == first
    assert record_id_for(*args, first) != first
    assert record_id_for(RecordKind.school_screening, "c", "p1", "s", "bureau-li", body, None) != first
    hazards = screening_hazards(body, first, "s", NOW)
    assert [(a, h) for a, h, _ in hazards] == [(a, h) for a, h, _ in screening_hazards(body, first, "s", NOW)]
    [(aspect, _, finding)] = hazards
    assert aspect is Aspect.facilities and finding.kind.value == "hazard_point" and finding.students == []
    assert finding.rectification.due_date == date(2026, 3, 20) and "硬件条件" in finding.observed
    assert screening_facts(body).aspects_with_problems == screening_facts(body).hazards_filed == 1


def test_coverage_tells_nothing_found_from_not_filed_and_lists_the_uncovered_first() -> None:
    schools = {s: SchoolInfo(f"学校{s}", "lechang") for s in ("a", "b", "c")}
    returns = [{"phase_id": "p1", "school_id": "a", "record_id": uuid.uuid4(), "filed_at": NOW, "students_screened": 5,
                "parent_talks": 1, "nothing_found": True, "hazard_ids": []},
               {"phase_id": "p1", "school_id": "b", "record_id": uuid.uuid4(), "filed_at": NOW, "students_screened": 9,
                "parent_talks": 2, "nothing_found": False, "hazard_ids": [uuid.uuid4()]}]
    screenings = [{"phase_id": "p1", "school_id": "a", "record_id": uuid.uuid4(), "filed_at": NOW,
                   "aspects_with_problems": 0, "problem_aspects": [], "hazard_ids": []}]
    c = build_coverage(CAMPAIGN, "p1", schools, returns, screenings, NOW)
    assert [s.school_id for s in c.schools] == ["b", "c", "a"] and [s.school_id for s in c.uncovered] == ["b", "c"]
    assert [s.student_return.state for s in c.schools] == [ReturnState.findings, ReturnState.not_filed,
                                                           ReturnState.nothing_found]
    assert c.totals.covered == 1 and c.totals.returns_missing == 1 and c.phase_due == date(2027, 3, 31)
    text = coverage_csv(c).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("管辖区域,学校代码,学校名称,覆盖情况")
    assert "已报送·无发现" in text and "未报送" in text and "已报送·有发现" in text
    assert screening_phases(CAMPAIGN) == ["p1"]


def test_the_console_sends_what_was_filled(tmp_path: Path) -> None:
    body = screening_forms.return_body({"students_screened": "12", "parent_talks": "x", "nothing_found": "on"}, [])
    assert body == {"nothing_found": True, "hazard_ids": [], "students_screened": 12, "parent_talks": "x"}
    values = {f"aspects.{i}.finding": "好" for i in range(7)} | {
        "aspects.6.problem": "盲区", "aspects.6.rectification.plan": "加装", "aspects.6.risk_level": "high"}
    sent = screening_forms.screening_body(values)
    assert [a["aspect"] for a in sent["aspects"]] == [a.value for a in Aspect]
    assert sent["aspects"][6] == {"aspect": "facilities", "finding": "好", "problem": "盲区", "risk_level": "high",
                                  "rectification": {"plan": "加装"}}
    assert "rectification" not in sent["aspects"][0]
    assert screening_forms.form_errors({"hazard_ids.2": "x", "hazard_ids.3": "y"}) == {"hazard_ids": "x"}
    found = screening_forms.campaigns(ROOT / "deploy" / "campaigns")
    assert screening_forms.chosen(found, None, None) == (found["2027-zhuanxiang"], "p1")
    assert screening_forms.chosen(found, "2027-zhuanxiang", "p9") is None
    assert screening_forms.chosen(screening_forms.campaigns(tmp_path), None, None) is None

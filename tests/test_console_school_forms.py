"""The school's report forms turned into the API's JSON (pure): the body the API validates, and its errors
mapped back to the inputs the user filled in."""

from __future__ import annotations

import json

import pytest

from services.console import report_forms
from services.console.formjson import build, value
from shared.config import ROOT
from shared.contracts import IncidentReport
from shared.contracts.follow_up import FollowUp

pytestmark = pytest.mark.pure


def _incident_form() -> dict[str, str]:
    example = json.loads((ROOT / "services/intake/example-severe-incident.json").read_text(encoding="utf-8"))
    form = {"occurred_at": "2026-11-28T16:40", "discovered_at": "2026-11-28T17:05",
            "location": example["location"], "category": "physical", "cause": example["cause"],
            "course": example["course"], "reporter.name": "陈老师", "reporter.role": "值日教师",
            "indicators.injury": "minor", "indicators.public_attention": "none", "indicators.violence": "on",
            "indicators.group": "on", "proposed_level": "", "measures_taken.0": "", "measures_taken.2": "当场制止"}
    # the students in rows 0, 2 and 3; row 1 left empty
    for row, student in zip((0, 2, 3), example["students"], strict=True):
        for name in ("ref", "role", "name", "grade"):
            form[f"students.{row}.{name}"] = student[name]
        for name, got in student["guardians"][0].items():
            form[f"students.{row}.guardians.1.{name}"] = got
    return form


def test_an_incident_form_is_the_examples_body() -> None:
    built = report_forms.incident(_incident_form(), "demo-school")
    body = built.body
    assert body["school_id"] == "demo-school"
    assert body["occurred_at"] == "2026-11-28T16:40:00+08:00"
    assert [s["ref"] for s in body["students"]] == ["S-1042", "S-1077", "S-1078"]
    assert body["students"][0]["guardians"] == [{"name": "李建国", "relation": "父亲", "phone": "13800000001",
                                                 "email": "li.parent@example.cn"}]
    assert body["measures_taken"] == ["当场制止"]
    assert body["indicators"]["violence"] is True and body["indicators"]["weapon"] is False
    assert "proposed_level" not in body
    IncidentReport.model_validate(body)  # exactly what the API accepts


def test_errors_go_back_to_the_rows_the_user_filled() -> None:
    built = report_forms.incident(_incident_form(), "demo-school")
    errors = {"students.1.guardians.0.phone": "格式不正确", "measures_taken.0": "长度不得少于 1 个字符",
              "location": "缺少必填字段", "students": "至少需要 1 项"}
    assert built.form_errors(errors) == {"students.2.guardians.1.phone": "格式不正确",
                                         "measures_taken.2": "长度不得少于 1 个字符", "location": "缺少必填字段",
                                         "students": "至少需要 1 项"}


def test_empty_inputs_are_left_for_the_api_to_name() -> None:
    body = report_forms.incident({}, "demo-school").body
    assert body["students"] == [] and body["reporter"] == {} and body["measures_taken"] == []
    assert "location" not in body and body["indicators"]["violence"] is False


def test_a_follow_up_sends_only_what_was_filled() -> None:
    form = {"completed.1.action": "counselling", "completed.1.student_ref": "S-1042",
            "completed.1.done_at": "2026-11-29T09:00", "measures_taken.1": "已约谈双方家长"}
    built = report_forms.follow_up(form)
    assert built.body == {"measures_taken": ["已约谈双方家长"], "counselling": [], "sanctions": [],
                          "completed": [{"action": "counselling", "student_ref": "S-1042",
                                         "done_at": "2026-11-29T09:00:00+08:00"}], "propose_closure": False}
    FollowUp.model_validate(built.body)
    assert built.form_path("completed.0.done_at") == "completed.1.done_at"


def test_an_error_on_a_whole_object_goes_to_its_input() -> None:
    built = report_forms.hazard({"rectification.students.0.ref": "x"}, "demo-school")
    assert built.form_errors({"rectification": "整改期限不得早于发现日期", "rectification.plan": "缺少必填字段"}) == {
        "rectification.due_date": "整改期限不得早于发现日期", "rectification.plan": "缺少必填字段"}


def test_values() -> None:
    assert value("  ", "text") is None
    assert value("2026-11-28T16:40:30", "time") == "2026-11-28T16:40:30+08:00"
    assert value("2026-11-28T16:40:00+00:00", "time") == "2026-11-28T16:40:00+00:00"  # typed with a zone: as is
    assert value("", "bool") is False and value("on", "bool") is True
    assert build({"a.0.b": "x"}, {"a.0.b": "text", "a.1.b": "text"}).body == {"a": [{"b": "x"}]}

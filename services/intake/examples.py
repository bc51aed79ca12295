"""OpenAPI examples: the same JSON files the README's curl commands send."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Body


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(__file__).with_name(name).read_text("utf-8"))
    return data


SEVERE_EXAMPLE = _load("example-severe-incident.json")
FOLLOW_UP_EXAMPLE_BODY = _load("example-follow-up.json")
FOLLOW_UP_PERSONS_EXAMPLE_BODY = _load("example-follow-up-persons.json")

INCIDENT_EXAMPLE = Body(openapi_examples={"severe": {"summary": "A group assault (severe)", "value": SEVERE_EXAMPLE}})
FOLLOW_UP_EXAMPLE = Body(openapi_examples={
    "repeated": {"summary": "Found to be repeated; sanction and counselling", "value": FOLLOW_UP_EXAMPLE_BODY},
    "persons": {"summary": "A second victim found; a family's contacts corrected",
                "value": FOLLOW_UP_PERSONS_EXAMPLE_BODY}})

# --- hazards ---
HAZARD_EXAMPLE_BODY = _load("example-hazard.json")
HAZARD_PROGRESS_EXAMPLE_BODY: dict[str, Any] = {
    "at": "2026-11-27T16:00:00+08:00", "step": "已召开同伴尊重主题班会，该生本周按时到校、情绪好转。",
    "completed": False}
HAZARDS_CSV_EXAMPLE = Path(__file__).with_name("example-hazards.csv").read_text("utf-8")

HAZARD_EXAMPLE = Body(openapi_examples={
    "early_sign": {"summary": "An early sign: name-calling and taking snacks", "value": HAZARD_EXAMPLE_BODY}})
HAZARD_PROGRESS_EXAMPLE = Body(openapi_examples={
    "step": {"summary": "A rectification step, not yet complete", "value": HAZARD_PROGRESS_EXAMPLE_BODY}})
HAZARD_BATCH_EXAMPLE = Body(openapi_examples={"sheet": {"summary": "Two rows of a screening sheet", "value": [
    HAZARD_EXAMPLE_BODY,
    {**HAZARD_EXAMPLE_BODY, "client_ref": "PC-2026-015", "kind": "hazard_point", "students": [],
     "observed": "教学楼北侧楼梯间课间无人值守，监控存在盲区。", "risk_level": "high",
     "intervention": "已临时安排值日教师课间巡查。",
     "rectification": {"plan": "加装监控并纳入课间巡查路线。", "due_date": "2026-12-31", "responsible": "总务处"}},
]}})

# --- help requests ---
HELP_REQUEST_EXAMPLE = Body(openapi_examples={
    "anonymous": {"summary": "An anonymous student, urgent", "value": {
        "access_code": "K7MP3QXA", "requester": {"kind": "student", "anonymous": True},
        "message": "我在宿舍经常被同学勒索零花钱，不敢告诉老师。", "urgent": True}},
    "named_parent": {"summary": "A parent, by name", "value": {
        "access_code": "K7MP3QXA",
        "requester": {"kind": "parent", "anonymous": False, "name": "王芳", "phone": "13800000002"},
        "message": "孩子这周回家情绪低落，说有同学在班级群里辱骂他。", "urgent": False}},
})
HELP_MESSAGE_EXAMPLE = Body(openapi_examples={"message": {"summary": "A message", "value": {
    "text": "老师已收到，今天下午会单独找你谈，别担心。"}}})

# --- duties ---
DISCHARGE_EXAMPLE = Body(openapi_examples={"in_person": {"summary": "The head teacher told the family at school",
                                                         "value": {"how": "in_person", "by": "班主任",
                                                                   "done_at": "2026-11-28T11:00:00+08:00",
                                                                   "note": "家长到校，班主任当面告知处理情况。"}}})

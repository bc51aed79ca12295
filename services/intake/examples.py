"""The OpenAPI example for a report: the same one the README's curl sends."""

from __future__ import annotations

from typing import Any

from fastapi import Body

SEVERE_EXAMPLE: dict[str, Any] = {
    "school_id": "demo-school",
    "occurred_at": "2026-11-28T16:40:00+08:00",
    "discovered_at": "2026-11-28T17:05:00+08:00",
    "location": "教学楼三楼东侧卫生间",
    "category": "physical",
    "cause": "课间因座位问题发生口角。",
    "course": "两名学生将一名学生堵在卫生间内推搡踢打，值日教师发现后制止。",
    "students": [
        {"ref": "S-1042", "role": "victim", "name": "李小明", "grade": "初二(3)班",
         "guardians": [{"name": "李建国", "relation": "父亲", "phone": "13800000001",
                        "email": "li.parent@example.cn"}]},
        {"ref": "S-1077", "role": "perpetrator", "name": "王强", "grade": "初二(5)班",
         "guardians": [{"name": "王芳", "relation": "母亲", "phone": "13800000002",
                        "email": "wang.parent@example.cn"}]},
        {"ref": "S-1078", "role": "perpetrator", "name": "赵磊", "grade": "初二(5)班",
         "guardians": [{"name": "赵军", "relation": "父亲", "email": "zhao.parent@example.cn"}]},
    ],
    "reporter": {"name": "陈老师", "role": "值日教师"},
    "measures_taken": ["当场制止并隔离双方", "校医检查受害学生伤情"],
    "indicators": {"injury": "minor", "violence": True, "weapon": False, "group": True,
                   "repeated_after_education": False, "suspected_crime": False, "public_attention": "none"},
}

INCIDENT_EXAMPLE = Body(openapi_examples={"severe": {"summary": "A group assault (severe)", "value": SEVERE_EXAMPLE}})

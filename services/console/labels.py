"""The words the pages show for the API's codes (Simplified Chinese), as Jinja filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment

SHANGHAI = ZoneInfo("Asia/Shanghai")

ZH: dict[str, dict[str, str]] = {
    "kind": {"incident": "欺凌事件", "hazard": "隐患线索", "help": "紧急求助", "lookback": "回头看"},
    "level": {"general": "一般", "minor": "较轻", "moderate": "较重", "severe": "严重", "criminal": "涉嫌犯罪",
              "low": "低", "medium": "中", "high": "高"},
    "status": {"open": "办理中", "closed": "已结案", "answered": "已答复", "converted": "已转为事件",
               "resolved": "已办结", "delivered": "已送达", "failed": "发送失败", "pending": "待发送",
               "sent": "已发出", "acknowledged": "已确认", "overdue": "已逾期", "done": "已完成",
               "waived": "已免除", "queued": "排队中", "sending": "发送中", "undeliverable": "无法送达"},
    "role": {"school": "学校", "bureau": "教育局", "police": "公安", "stability_office": "维稳办",
             "parent": "家长", "guardian": "监护人", "counsellor": "心理辅导老师", "security_office": "保卫部门",
             "principal": "校长", "school_principal": "校长", "bureau_duty": "教育局值班室",
             "police_liaison": "公安联络员", "victim_guardian": "受害学生家长",
             "perpetrator_guardian": "实施欺凌学生家长"},
    "title": {"head": "校长", "head_teacher": "班主任", "counsellor": "心理辅导老师"},
    "author": {"requester": "求助人", "school": "学校"},
    # the school's forms and pages (issue 13, school staff)
    "category": {"physical": "肢体欺凌", "verbal": "言语欺凌", "relational": "关系欺凌", "cyber": "网络欺凌",
                 "property": "财物侵害", "other": "其他"},
    "student_role": {"victim": "受害学生", "perpetrator": "实施欺凌学生", "bystander": "旁观学生"},
    "injury": {"none": "无伤害", "minor": "轻微伤", "serious": "较重伤害", "grave": "严重伤害"},
    "public_attention": {"none": "无", "local": "局部关注", "wide": "广泛关注（舆情）"},
    "proposed_level": {"general": "一般", "minor": "较轻", "moderate": "较重", "severe": "严重",
                       "criminal": "涉嫌犯罪"},
    "hazard_kind": {"early_sign": "苗头迹象", "hazard_point": "隐患点"},
    "hazard_role": {"at_risk": "可能受害学生", "involved": "涉及学生"},
    "risk_level": {"low": "低", "medium": "中", "high": "高"},
    "resolution": {"no_bullying": "经核实不属于欺凌", "handled_otherwise": "已妥善处理，无需上报事件"},
    "told_how": {"in_person": "当面告知", "phone": "电话告知"},
    "duty_state": {"open": "待办", "delivered": "已送达待确认", "failed": "发送失败", "done": "已完成",
                   "acknowledged": "已确认", "waived": "已免除", "not_applicable": "无需办理"},
    "help_status": {"open": "待答复", "answered": "已答复", "converted": "已转为事件", "resolved": "已办结"},
    "indicator": {"violence": "有暴力行为", "weapon": "使用器械", "group": "多人参与",
                  "repeated_after_education": "教育后仍反复发生", "suspected_crime": "涉嫌违法犯罪"},
}


def zh(value: Any, group: str) -> str:
    """The Chinese word for a code, or the code itself where there is none yet."""
    if value is None:
        return "—"
    return ZH.get(group, {}).get(str(value), str(value))


def local_time(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """API times are UTC; officials read Beijing time."""
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        return moment.strftime(fmt)
    return moment.astimezone(SHANGHAI).strftime(fmt)


def install(env: Environment) -> None:
    env.filters["zh"] = zh
    env.filters["local"] = local_time

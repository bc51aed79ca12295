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
              "serious": "较重", "low": "低", "medium": "中", "high": "高"},
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
    # the ledger's columns (the archive's COLUMNS_ZH) and the access log's words
    "ledger": {"incidents": "欺凌事件数", "minor": "情节轻微", "serious": "情节较重", "severe": "情节严重",
               "criminal": "涉嫌违法犯罪", "undecided": "等级待认定", "hazards": "苗头隐患数",
               "hazards_open": "隐患未整改", "hazards_rectified": "隐患已整改", "late_reports": "迟报",
               "overdue_now": "逾期未办（当前）", "overdue": "曾逾期", "help_requests": "求助数",
               "help_unanswered": "求助未回复", "repeat_cases": "屡教不改（重复涉事）", "lookbacks": "回头看",
               "lookbacks_due": "待回头看", "unconverted_tips": "求助未转为事件"},
    "attention": {"overdue_now": "逾期未办（当前）", "overdue": "曾逾期", "late_report": "迟报",
                  "repeat": "屡教不改（重复涉事）", "hazard_open": "隐患未整改", "help_unanswered": "求助未回复",
                  "lookback_due": "待回头看"},
    "action": {"list": "浏览案件列表", "detail": "查阅案件", "duties": "查看待办", "access_log": "查阅访问日志",
               "ledger": "查看台账", "export": "导出台账"},
    "outcome": {"ok": "成功", "not_found": "未找到或无权查阅"},
    "filter": {"from": "起", "to": "止", "school": "学校", "format": "格式", "kind": "类型", "level": "等级",
               "status": "状态", "account": "账号", "case_id": "案件", "cursor": "翻页",
               "limit": "每页条数", "overdue": "逾期", "q": "检索"},
    "format": {"json": "网页", "csv": "CSV", "xlsx": "Excel", "summary": "汇总"},
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

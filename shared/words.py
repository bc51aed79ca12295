"""Words every page, export and notice uses for the same codes (Simplified Chinese), kept once.

The ledger's columns are the work plan's own terms (brief 2(2)); the archive's exports, the
console's pages and notify's messages must not drift apart.
"""

from __future__ import annotations

from shared.contracts import Category

CATEGORY_ZH: dict[Category, str] = {
    Category.physical: "肢体欺凌",
    Category.verbal: "言语欺凌",
    Category.relational: "关系欺凌",
    Category.cyber: "网络欺凌",
    Category.property: "财物侵害",
    Category.other: "其他",
}

# the ledger's counted columns, in the order of the exports (repository.LEDGER_FIELDS and overdue_now)
LEDGER_COLUMNS_ZH: dict[str, str] = {
    "incidents": "欺凌事件数",
    "minor": "情节轻微",
    "serious": "情节较重",
    "severe": "情节严重",
    "criminal": "涉嫌违法犯罪",
    "undecided": "等级待认定",
    "hazards": "苗头隐患数",
    "hazards_open": "隐患未整改",
    "hazards_rectified": "隐患已整改",
    "late_reports": "迟报",
    "overdue_now": "逾期未办（当前）",
    "overdue": "曾逾期",
    "help_requests": "求助数",
    "help_unanswered": "求助未回复",
    "repeat_cases": "屡教不改（重复涉事）",
    "lookbacks": "回头看",
    "lookbacks_due": "待回头看",
    "unconverted_tips": "求助未转为事件",
    "training_sessions": "培训场次",
    "training_hours": "培训学时",
}

# why a school's summary lists a case
LEDGER_ATTENTION_ZH: dict[str, str] = {
    "overdue_now": "逾期未办（当前）",
    "overdue": "曾逾期",
    "late_report": "迟报",
    "repeat": "屡教不改（重复涉事）",
    "hazard_open": "隐患未整改",
    "help_unanswered": "求助未回复",
    "lookback_due": "待回头看",
}

"""The words the pages show for the API's codes (Simplified Chinese), as Jinja filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment

from shared.contracts.acts import RULES
from shared.words import CATEGORY_ZH, LEDGER_ATTENTION_ZH, LEDGER_COLUMNS_ZH

SHANGHAI = ZoneInfo("Asia/Shanghai")

ZH: dict[str, dict[str, str]] = {
    "kind": {"incident": "欺凌事件", "hazard": "隐患线索", "help": "紧急求助", "lookback": "回头看",
             "campaign": "专项整治"},
    "level": {"general": "一般", "minor": "较轻", "moderate": "较重", "serious": "较重", "severe": "严重",
              "criminal": "涉嫌犯罪",
              "low": "低", "medium": "中", "high": "高"},
    "status": {"open": "办理中", "closed": "已结案", "answered": "已答复", "converted": "已转为事件",
               "resolved": "已办结", "delivered": "已送达", "failed": "发送失败", "pending": "待发送",
               "sent": "已发出", "acknowledged": "已确认", "overdue": "已逾期", "done": "已完成",
               "waived": "已免除", "queued": "排队中", "sending": "发送中", "undeliverable": "无法送达",
               "not_applicable": "不再需要", "settled": "已办结", "all": "全部", "requested": "发送中",
               "drafted": "草稿", "approved": "一人已审核", "published": "已公开", "withdrawn": "已撤回"},
    "how": {"follow_up": "学校续报", "in_person": "当面告知", "phone": "电话告知",
            "official_account": "本人账号确认",
            "police_received": "公安登记接收", "link": "通知链接确认", "delivered": "通知送达", "task_done": "报告办结",
            "answered": "已答复", "superseded": "等级调整后不再需要", "closed": "结案",
            "waived": "两名工作人员同意免除",
            "converted": "转为事件", "resolved": "已处理"},
    "settled_by": {"system": "系统", "link": "通知链接"},
    "role": {"school": "学校", "bureau": "教育局", "police": "公安", "stability_office": "维稳办",
             "parent": "家长", "guardian": "监护人", "counsellor": "心理辅导老师", "security_office": "保卫部门",
             "principal": "校长", "school_principal": "校长", "bureau_duty": "教育局值班室",
             "police_liaison": "公安联络员", "victim_guardian": "受害学生家长",
             "perpetrator_guardian": "实施欺凌学生家长", "official": "上级联系人", "procuratorate": "检察院",
             "court": "法院", "legal_vice_principal": "法治副校长", "safety_officer": "安全员",
             "victim": "受害学生", "perpetrator": "实施欺凌学生", "bystander": "旁观学生",
             "witness": "证人"},
    "title": {"head": "校长", "head_teacher": "班主任", "counsellor": "心理辅导老师"},
    "author": {"requester": "求助人", "school": "学校"},
    # the case pages (officials)
    "act": {act.value: rule.zh for act, rule in RULES.items()},
    "duty_kind": {"notice": "通知", "task": "事项"},
    "personal_data": {"sealed": "已加密封存", "destroyed": "保存期满已销毁", "none": "无个人信息"},
    "change": {"lower": "降低认定等级", "closure": "结案"},
    "event": {"IncidentReported": "学校上报事件", "EscalationDecided": "系统认定等级",
              "NotificationRequested": "发出通知",
              "NotificationDelivered": "通知已送达", "NotificationFailed": "通知发送失败",
              "NotificationAcknowledged": "通知已确认收到", "NotificationReceived": "通知已收到",
              "FollowUpReported": "学校续报", "ChangeProposed": "学校申请变更", "ChangeApproved": "教育局审批",
              "ChangeResolved": "变更已办结", "DeadlineMissed": "逾期未办", "DutyUpdated": "事项状态更新",
              "DutyDischarged": "事项已办结", "OfficialActed": "工作人员办理", "HazardReported": "上报隐患线索",
              "HazardProgressed": "隐患整改进展", "HelpRequested": "收到求助", "HelpMessageAdded": "求助留言",
              "HelpResolved": "求助已处理", "HelpConverted": "求助转为事件", "FamilyMessageAdded": "家长留言",
              "LookBackRequested": "要求回头看", "LookBackScheduled": "安排回头看", "LookBackCompleted": "回头看已完成",
              "LetterApproved": "告家长书已审批", "LetterBatchRequested": "告家长书发送中",
              "LetterBatchSent": "告家长书已发送", "LetterFannedOut": "告家长书已分发", "LetterRead": "告家长书已阅读",
              "LetterReceipts": "告家长书回执", "LetterWrongNumberReported": "告家长书号码有误",
              "DisclosureChanged": "公开通报"},
    "flag": {"late_report": "迟报", "under_rated": "学校定级偏低", "wide_public_attention": "社会关注度高",
             "earlier_cases": "涉事学生曾涉案"},
    "yesno": {"true": "是", "false": "否"},
    "fact": {"location": "地点", "cause": "起因", "course": "经过", "measures_taken": "已采取措施",
             "facts_changed": "新查明情况", "outcome": "处理结果", "observed": "发现情况", "intervention": "干预措施",
             "rectification": "整改", "plan": "计划", "due_date": "期限", "responsible": "责任部门", "step": "进展",
             "reason": "事由"},
    # the ledger's columns (the archive's COLUMNS_ZH) and the access log's words
    "ledger": LEDGER_COLUMNS_ZH,
    "attention": LEDGER_ATTENTION_ZH,
    "action": {"list": "浏览案件列表", "detail": "查阅案件", "duties": "查看待办", "access_log": "查阅访问日志",
               "ledger": "查看台账", "export": "导出台账", "disclosure": "查阅公开通报",
               "campaign": "查阅专项整治",
               "summaries": "查看总结报送情况",
               "summary": "查阅阶段总结"},
    "outcome": {"ok": "成功", "not_found": "未找到或无权查阅"},
    "filter": {"from": "起", "to": "止", "school": "学校", "format": "格式", "kind": "类型", "level": "等级",
               "status": "状态", "account": "账号", "case_id": "案件", "cursor": "翻页",
               "limit": "每页条数", "overdue": "逾期", "q": "检索", "campaign": "专项整治", "phase": "阶段"},
    "format": {"json": "网页", "csv": "CSV", "xlsx": "Excel", "summary": "汇总", "docx": "Word（全市总结汇总）",
               "summary_figures": "阶段总结附带数据"},
    # the school's forms and pages (issue 13, school staff)
    "category": {c.value: word for c, word in CATEGORY_ZH.items()},
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


DURATION_UNITS_ZH = {"s": "秒", "m": "分钟", "h": "小时", "d": "天"}


def duration_zh(value: str | None) -> str:
    """A campaign file's relative deadline ("10m") in Chinese ("10 分钟")."""
    text = (value or "").strip()
    if not text or text[-1] not in DURATION_UNITS_ZH:
        return text or "—"
    return f"{text[:-1].strip()} {DURATION_UNITS_ZH[text[-1]]}"


def install(env: Environment) -> None:
    env.filters["zh"] = zh
    env.filters["duration_zh"] = duration_zh
    env.filters["local"] = local_time

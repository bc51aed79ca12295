"""Hazard rectification must be finished by its due date (pure): past the end of that day in
Asia/Shanghai, the bureau is told, and again each week it stays unfinished."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.escalation.repository import Obligation
from shared.contracts import NoticeFacts, RecipientRole
from shared.contracts.base import derive_id
from shared.contracts.hazard import HazardReported
from shared.directory import Directory

RECTIFY = "rectify_hazard"
SHANGHAI = ZoneInfo("Asia/Shanghai")
RISK_ZH = {"low": "低", "medium": "中", "high": "高"}


def rectify_obligation(event: HazardReported, directory: Directory) -> tuple[Obligation, NoticeFacts]:
    finding = event.facts
    due_at = datetime.combine(finding.due_date + timedelta(days=1), time(0), SHANGHAI)
    school = directory.schools.get(event.school_id)
    facts = NoticeFacts(
        case_ref="HZ-" + event.hazard_id.hex[:8].upper(), school_id=event.school_id,
        school_name=school.name if school else event.school_id, case_kind_zh="隐患整改",
        reasons_zh=[f"风险等级：{RISK_ZH.get(finding.risk_level.value, finding.risk_level.value)}"],
        occurred_at=finding.found_at)
    obligation = Obligation(
        obligation_id=derive_id("obligation", event.hazard_id, RECTIFY), incident_id=event.hazard_id,
        school_id=event.school_id, action_id=RECTIFY, kind="task", role=RecipientRole.school.value, student_ref=None,
        notification_id=None, ack_required=False, state="pending", due_at=due_at, period=timedelta(days=7), step=0,
        escalate_to=["bureau"])
    return obligation, facts

"""Which acts a case page offers to whom (pure), mirroring the archive's rules (services/archive/act_rules.py):
the archive decides in the end; the page only leaves out buttons that could never succeed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.console.session import Session

SETTLED = ("done", "acknowledged", "waived", "not_applicable")
LEVELS = ("minor", "serious", "severe", "criminal")


@dataclass(frozen=True)
class ActForm:
    """An act of POST /v1/cases/{id}/acts: who does it, on which kinds of case, with which extra field."""

    role: str
    needs: str | None = None            # level | due_at | obligation_id | police_case_number | outcome
    kinds: tuple[str, ...] = ("incident",)
    while_open: bool = True
    hint: str = ""


ANY_KIND = ("incident", "hazard", "help", "lookback")
ACTS: dict[str, ActForm] = {
    "raise_level": ActForm("bureau", "level", hint="提升后按新等级发出通知并增加规定事项。"),
    "refer_to_police": ActForm("bureau", hint="公安机关将收到通知，并须确认接收。"),
    "flag_public_attention": ActForm("bureau", hint="维稳办将收到通知并可查阅本案。"),
    "order_follow_up": ActForm("bureau", "due_at", hint="学校须在期限前续报。"),
    "add_note": ActForm("bureau", kinds=ANY_KIND, while_open=False, hint="备注记入案件档案。"),
    "waive_duty": ActForm("bureau", "obligation_id", kinds=ANY_KIND, hint="须两名不同的教育局工作人员同意后生效。"),
    "close_case": ActForm("bureau", hint="须两名不同的教育局工作人员同意，且规定事项均已办结后结案。"),
    "contest_help_resolution": ActForm("bureau", kinds=("help",), while_open=False,
                                       hint="学校须重新答复该求助。"),
    "police_received": ActForm("police", while_open=False, hint="确认公安机关已接收本案。"),
    "police_case_number": ActForm("police", "police_case_number", while_open=False),
    "police_warning_given": ActForm("police", while_open=False),
    "police_transferred": ActForm("police", while_open=False, hint="如目录中有检察院联系人，将通知检察院。"),
    "police_outcome": ActForm("police", "outcome", while_open=False),
}


def case_acts(session: Session, case: dict[str, Any]) -> list[str]:
    """The acts on the whole case (not on one duty) this official may do now."""
    is_open = case.get("status") == "open"
    return [name for name, rule in ACTS.items()
            if rule.role == session.role and case.get("kind") in rule.kinds and rule.needs != "obligation_id"
            and (is_open or not rule.while_open)
            and not (name == "refer_to_police" and case.get("referred_to_police"))
            and not (name == "flag_public_attention" and case.get("public_attention_wide"))]


def higher_levels(current: str | None) -> list[str]:
    rank = LEVELS.index(current) if current in LEVELS else -1
    return list(LEVELS[rank + 1:])


def may_acknowledge(session: Session, duty: dict[str, Any]) -> bool:
    return (duty.get("kind") == "notice" and duty.get("role") == session.role and not session.is_school
            and duty.get("notification_id") is not None and duty.get("state") not in SETTLED)


def may_report_done(session: Session, duty: dict[str, Any]) -> bool:
    return duty.get("kind") == "task" and duty.get("role") == session.role and not session.is_school \
        and duty.get("state") not in SETTLED


def may_waive(session: Session, case: dict[str, Any], duty: dict[str, Any]) -> bool:
    return session.is_bureau and case.get("status") == "open" and duty.get("state") not in SETTLED


def offered_acts(session: Session, case: dict[str, Any]) -> dict[str, Any]:
    """Everything the case page offers this official: per duty (acknowledge, report done, waive) and per case."""
    duties = case.get("duties") or []
    return {
        "case": case_acts(session, case),
        "ack": {d["obligation_id"] for d in duties if may_acknowledge(session, d)},
        "task": {d["obligation_id"] for d in duties if may_report_done(session, d)},
        "waive": {d["obligation_id"] for d in duties if may_waive(session, case, d)},
        "approve": session.is_bureau,
        "lookback": session.is_bureau and case.get("kind") == "lookback" and case.get("status") == "open",
    }

"""Which acts a case page offers to whom (pure), by the rules the archive enforces (shared.contracts.acts.RULES):
the archive decides in the end; the page only leaves out buttons that could never succeed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.console.session import Session
from shared.contracts.acts import RULES, Act

SETTLED = ("done", "acknowledged", "waived", "not_applicable")
LEVELS = ("minor", "serious", "severe", "criminal")


@dataclass(frozen=True)
class ActForm:
    """An act of POST /v1/cases/{id}/acts as the page offers it: the archive's rule and a word for the reader."""

    role: str
    needs: str | None                   # level | due_at | obligation_id | police_case_number | outcome
    kinds: frozenset[str]
    while_open: bool
    hint: str = ""


HINTS = {
    Act.raise_level: "提升后按新等级发出通知并增加规定事项。",
    Act.refer_to_police: "公安机关将收到通知，并须确认接收。",
    Act.flag_public_attention: "维稳办将收到通知并可查阅本案。",
    Act.order_follow_up: "学校须在期限前续报。",
    Act.add_note: "备注记入案件档案。",
    Act.waive_duty: "须两名不同的教育局工作人员同意后生效。",
    Act.close_case: "须两名不同的教育局工作人员同意，且规定事项均已办结后结案。",
    Act.contest_help_resolution: "学校须重新答复该求助。",
    Act.police_received: "确认公安机关已接收本案。",
    Act.police_transferred: "如目录中有检察院联系人，将通知检察院。",
}
ACTS: dict[str, ActForm] = {
    act.value: ActForm("police" if act.by_police else "bureau", rule.needs[0] if rule.needs else None, rule.kinds,
                       rule.while_open, HINTS.get(act, ""))
    for act, rule in RULES.items()
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

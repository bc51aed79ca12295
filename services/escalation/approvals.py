"""When a proposed lower level or closure applies (pure).

The plan asks that a school cannot talk a case down on its own: the change waits for
`approvals_required` different bureau officials, and a closure also for every required
action done. Until then the decision in force stands.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.escalation.policy import Policy
from shared.contracts import Level, NoticeFacts, NotificationRequested, RecipientRole
from shared.contracts.base import derive_id
from shared.contracts.notification import Recipient
from shared.contracts.officials import ChangeResolved
from shared.directory import Directory


@dataclass(frozen=True)
class Proposal:
    change: str                   # lower | closure
    level_in_force: Level
    proposed_level: Level | None  # for "lower"


@dataclass(frozen=True)
class Resolution:
    outcome: str                  # applied | refused
    level_after: Level
    open_actions: tuple[str, ...] = ()


def resolve(proposal: Proposal, current: Level, approvers: list[str], open_actions: list[str],
            required: int) -> Resolution | None:
    """None while approvals are missing; otherwise the change applied, or a closure refused for open actions."""
    if len(set(approvers)) < required:
        return None
    if proposal.change == "closure":
        if open_actions:
            return Resolution("refused", current, tuple(open_actions))
        return Resolution("applied", current)
    target = proposal.proposed_level or current
    # a level raised since the proposal is not undone by approving an older, lower one
    if target.rank >= current.rank or current != proposal.level_in_force:
        return Resolution("refused", current)
    return Resolution("applied", target)


def outcome_zh(change: str, outcome: str, before: Level, after: Level, open_actions: list[str],
               policy: Policy) -> str:
    """One sentence for the school and the bureau: what was decided, and for a refusal why."""
    if outcome == "applied" and change == "lower":
        return (f"经教育局两名工作人员审批，认定等级由“{policy.level(before).zh}”"
                f"调整为“{policy.level(after).zh}”")
    if outcome == "applied":
        return "经教育局两名工作人员审批，同意结案"
    if change == "closure":
        names = "、".join((a.zh if (a := policy.action(i)) else i) for i in open_actions)
        return f"结案申请未获通过：尚有规定事项未完成（{names}）"
    return "降级申请未获通过：认定等级已因续报提升，原申请不再适用"


def resolution_notices(resolved: ChangeResolved, facts: NoticeFacts, policy: Policy,
                       directory: Directory) -> list[NotificationRequested]:
    """The school and the bureau are told the outcome (no family: it changes nothing they must do)."""
    text = outcome_zh(resolved.change, resolved.outcome, resolved.level_before, resolved.level_after,
                      resolved.open_actions, policy)
    told = facts.model_copy(update={"level": resolved.level_after, "reasons_zh": [text], "due_at": None,
                                    "ack_required": False, "tasks": [], "missed": None, "child_name": None})
    out = []
    for role in (RecipientRole.school, RecipientRole.bureau):
        recipient = (directory.recipient(role.value, facts.school_id, role)
                     or Recipient(role=role, display_name=role.value))
        nid = derive_id("notification", resolved.event_id, role.value)
        out.append(NotificationRequested(event_id=nid, incident_id=resolved.incident_id, notification_id=nid,
                                         purpose="change_resolved", recipient=recipient, facts=told))
    return out

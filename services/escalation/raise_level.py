"""A follow-up with worse indicators raises the level at once (pure).

Only what the higher level adds is required: actions already required (and recipients
already told) are not repeated. A lower level never applies here: lowering or closing a
case is a proposal that waits for different bureau officials' approval (approvals.py).
"""

from __future__ import annotations

from services.escalation.domain import Decision, RequiredAction, classify
from services.escalation.policy import Policy
from shared.contracts import Indicators, Level, Reason


def raise_on_follow_up(
    current: Level, indicators: Indicators, policy: Policy, victims: list[str],
    existing: set[tuple[str, str | None]], flags_before: tuple[str, ...] = (),
) -> Decision | None:
    """The raised decision carrying only the newly required actions, or None when the level does not rise."""
    level, flags, reasons = classify(indicators, policy)
    if level.rank <= current.rank:
        return None
    raised = Reason(code="raised_by_follow_up",
                    zh=f"续报后认定等级由“{policy.level(current).zh}”提升为“{policy.level(level).zh}”",
                    en=f"raised by a follow-up from {current.value} to {level.value}")
    all_flags = tuple(dict.fromkeys(flags_before + flags))
    actions: list[RequiredAction] = []
    for action in policy.actions:
        due_in = action.deadline.get(level)
        if due_in is None or (action.only_with_flag and action.only_with_flag not in all_flags):
            continue
        for ref in (victims if action.per_victim else [None]):
            if (action.id, ref) not in existing:
                actions.append(RequiredAction(action.id, action.kind, action.role, action.zh, due_in, action.ack, ref))
    return Decision(level, all_flags, (*reasons, raised), tuple(actions), policy.version)


def proposed_changes(current: Level, indicators: Indicators | None, closure: bool, policy: Policy
                     ) -> list[tuple[str, Level | None]]:
    """What a follow-up asks for that needs a second official's approval: ("lower", level), ("closure", None)."""
    out: list[tuple[str, Level | None]] = []
    if indicators is not None:
        level = classify(indicators, policy)[0]
        if level.rank < current.rank:
            out.append(("lower", level))
    if closure:
        out.append(("closure", None))
    return out

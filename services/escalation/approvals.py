"""When a proposed lower level or closure applies (pure).

The plan asks that a school cannot talk a case down on its own: the change waits for
`approvals_required` different bureau officials, and a closure also for every required
action done. Until then the decision in force stands.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.contracts import Level


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

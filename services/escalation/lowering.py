"""Which duties a lower level no longer requires (pure).

A duty comes from a policy action that applies at the levels it has a deadline for (and, with
`only_with_flag`, only while the case carries that flag). Once two bureau officials apply a lower
level, an open duty whose action no longer applies is not owed any more: it becomes
`not_applicable`, visibly, instead of being chased by the watchdog for a level the case no longer
has. Duties the work plan itself creates (follow-ups, look-backs, help answers, rectification) are
no policy action and stay; so does per-victim counselling, which applies at every level.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from services.escalation.policy import Policy, PolicyAction
from shared.contracts import Level


def still_required(action: PolicyAction | None, level: Level, flags: Iterable[str]) -> bool:
    """Whether a duty from `action` (None: not a policy action) is still owed at `level` with `flags`."""
    if action is None:
        return True
    if level not in action.deadline:
        return False
    return action.only_with_flag is None or action.only_with_flag in set(flags)


def no_longer_required(open_duties: Iterable[tuple[uuid.UUID, str]], level: Level, flags: Iterable[str],
                       policy: Policy) -> list[uuid.UUID]:
    """`open_duties`: (obligation id, action id) of the case's unsettled duties; the ids to withdraw."""
    kept_flags = tuple(flags)
    return [oid for oid, action_id in open_duties
            if not still_required(policy.action(action_id), level, kept_flags)]

"""What the home page shows first: the duties due soonest (overdue marked) and, for a school, the help
requests still waiting — what an official on a phone must see without searching."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.console.backend import Unavailable
from services.console.session import Session
from services.console.web import ConsoleDeps

SHOWN = 5
PURPOSE = "首页待办概览"


@dataclass
class Glance:
    duties: list[dict[str, Any]] = field(default_factory=list)
    more_duties: bool = False
    waiting_help: list[dict[str, Any]] | None = None  # a school's open help requests; None for officials
    failed: bool = False


async def at_a_glance(deps: ConsoleDeps, session: Session) -> Glance:
    """Best effort: the home page still opens (with a note) when a service does not answer."""
    glance = Glance()
    try:
        if session.is_school:
            duties = await deps.backend.intake_as(session, "GET", "/v1/duties", params={"limit": SHOWN + 1})
            helps = await deps.backend.intake_as(session, "GET", "/v1/help-requests", params={"status": "open"})
            glance.waiting_help = helps.body if helps.ok and isinstance(helps.body, list) else []
            glance.failed = not (duties.ok and helps.ok)
        else:
            duties = await deps.backend.archive(session, "GET", "/v1/duties", purpose=PURPOSE,
                                                params={"role": session.role, "limit": SHOWN + 1})
            glance.failed = not duties.ok
    except Unavailable:
        return Glance(failed=True)
    items = duties.body.get("items", []) if duties.ok and isinstance(duties.body, dict) else []
    glance.duties, glance.more_duties = items[:SHOWN], len(items) > SHOWN
    return glance

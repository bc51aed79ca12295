"""“My duties” for officials: what is open or overdue now for my office (or everything within my authority),
by deadline, each linking to its case. School staff have their own page (/school/duties)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.web import ConsoleDeps, page_doc

PURPOSE = "查看待办事项"
STATES = ("open", "settled", "all")


def router(deps: ConsoleDeps) -> APIRouter:
    r = APIRouter()

    @r.get("/duties", **page_doc())
    async def my_duties(request: Request) -> Response:
        session = deps.require(request)
        if session.is_school:
            return deps.redirect("/school/duties")
        q = request.query_params
        state = str(q.get("state")) if q.get("state") in STATES else "open"
        whose = "all" if q.get("whose") == "all" else "mine"
        overdue = q.get("overdue") == "true"
        params: dict[str, str] = {"state": state}
        if whose == "mine":
            params["role"] = session.role
        if overdue:
            params["overdue"] = "true"
        if cursor := q.get("cursor"):
            params["cursor"] = cursor
        answer = await deps.backend.archive(session, "GET", "/v1/duties", purpose=PURPOSE, params=params)
        items = answer.body["items"] if answer.ok else []
        next_cursor = answer.body.get("next_cursor") if answer.ok else None
        chosen = {"state": state, "whose": whose, **({"overdue": "true"} if overdue else {})}
        return deps.render(request, "duties.html", 200 if answer.ok else answer.status, items=items, chosen=chosen,
                           states=STATES, failed=None if answer.ok else answer.message_zh(),
                           next_query={**chosen, "cursor": next_cursor} if next_cursor else None)

    return r

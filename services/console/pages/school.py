"""The school's duties (intake's copy of what its cases owe), and a family marked told in person or by phone.

Tasks (counselling, a talk, a sanction …) are reported done by a follow-up (`school_forms.py`); a notice to a
family the school gave itself is discharged here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.formjson import value
from services.console.labels import SHANGHAI, zh
from services.console.pages.school_help import fields, new_idem
from services.console.session import Session
from services.console.web import ConsoleDeps, form_doc, page_doc

FAMILY_ROLES = ("victim_guardian", "perpetrator_guardian")
SETTLED = ("acknowledged", "waived", "not_applicable")  # a delivered notice ("done") may still be confirmed as told


def tellable(duty: dict[str, Any]) -> bool:
    """A notice to a family, not yet confirmed: the school may say it told them itself."""
    return duty["kind"] == "notice" and duty["role"] in FAMILY_ROLES and duty["state"] not in SETTLED


def router(deps: ConsoleDeps) -> APIRouter:
    r = APIRouter()

    async def page(request: Request, session: Session, state: str, status: int = 200,
                   errors: dict[str, dict[str, str]] | None = None, values: dict[str, str] | None = None,
                   notice: str | None = None) -> Response:
        params: dict[str, Any] = {"state": "all" if state == "all" else "open"}
        answer = await deps.backend.intake_as(session, "GET", "/v1/duties", params=params)
        if not answer.ok:
            return deps.message(request, "暂时无法读取", answer.message_zh(), 502, back="/")
        now = datetime.now(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
        return deps.render(request, "school_duties.html", status, items=answer.body["items"], state=state,
                           tellable=tellable, errors=errors or {}, values=values or {}, notice=notice,
                           now=now, by=zh(session.title or "head", "title"), idem=new_idem())

    @r.get("/school/duties", **page_doc())
    async def duties(request: Request, state: str = "open") -> Response:
        session = deps.require(request, "school")
        return await page(request, session, state)

    @r.post("/school/duties/{obligation_id}/discharge", **form_doc())
    async def discharge(request: Request, obligation_id: uuid.UUID) -> Response:
        session = deps.require(request, "school")
        values = fields(await deps.form(request))
        body: dict[str, Any] = {k: values[k] for k in ("how", "by", "note") if values.get(k)}
        if done_at := value(values.get("done_at", ""), "time"):
            body["done_at"] = done_at
        idem = values.get("idem", "")
        answer = await deps.backend.intake_as(session, "POST", f"/v1/duties/{obligation_id}/discharge", json=body,
                                              headers={"Idempotency-Key": idem} if len(idem) >= 8 else {})
        if answer.ok:
            return deps.redirect("/school/duties?state=all")
        key = str(obligation_id)
        if answer.status == 422:
            return await page(request, session, "open", 422, {key: answer.field_errors()}, {**values, "row": key})
        return await page(request, session, "open", answer.status, notice=answer.message_zh())

    return r

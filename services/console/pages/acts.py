"""Officials' acts on a case: each button leads to a confirmation page (GET) whose form does the act (POST),
then back to the case (POST-redirect-GET) with a short notice.

`what` is `ack` (confirm a notice), `approve` (a school's proposal), `task` (a task our office owes, done),
`lookback` (a look-back review done) or one act of POST /v1/cases/{id}/acts. The ids an act needs (notice,
duty, proposal) travel in the query: they are ids, not personal data."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from services.console.pages.case_acts import ACTS, higher_levels
from services.console.pages.cases import NOT_FOUND_ZH, OFFICIALS, case_id_or_none
from services.console.session import Session
from services.console.web import ConsoleDeps, form_doc, page_doc

TITLES = {"ack": "确认收到通知", "approve": "审批学校的变更申请", "task": "报告本单位事项已办结",
          "lookback": "报告“回头看”复查完成"}
IDS = ("notification_id", "obligation_id", "follow_up_id", "change")
LOCAL_MINUTE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")


def _ids(source: Any) -> dict[str, str]:
    """The ids an act needs, from the query (GET) or the form (POST); only well-formed ones."""
    out = {}
    for name in IDS:
        value = str(source.get(name) or "")
        if name == "change":
            if value in ("lower", "closure"):
                out[name] = value
        elif case_id_or_none(value) is not None:
            out[name] = value
    return out


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


def beijing(value: str) -> str:
    """A datetime-local value (Beijing time, no zone) as the API wants it; anything else as typed."""
    return f"{value}:00+08:00" if LOCAL_MINUTE.match(value) else value


def request_for(what: str, ids: dict[str, str], form: FormData) -> tuple[str, dict[str, Any]] | None:
    """The API path (under the case) and body for an act; None when an id it needs is missing."""
    match what:
        case "ack":
            return ("/acknowledgements", {"notification_id": ids["notification_id"]}) \
                if "notification_id" in ids else None
        case "approve":
            if "follow_up_id" not in ids or "change" not in ids:
                return None
            return ("/approvals", {"follow_up_id": ids["follow_up_id"], "change": ids["change"],
                                   "comment": _text(form, "comment")})
        case "task":
            if "obligation_id" not in ids:
                return None
            return (f"/duties/{ids['obligation_id']}/completion",
                    {"note": _text(form, "note") or None, "evidence_ref": _text(form, "evidence_ref") or None})
        case "lookback":
            return ("/completion", {"findings": _text(form, "findings")})
    rule = ACTS[what]
    body: dict[str, Any] = {"act": what, "reason": _text(form, "reason")}
    if rule.needs == "obligation_id":
        if "obligation_id" not in ids:
            return None
        body["obligation_id"] = ids["obligation_id"]
    elif rule.needs == "due_at":
        body["due_at"] = beijing(_text(form, "due_at")) or None
    elif rule.needs is not None:
        body[rule.needs] = _text(form, rule.needs) or None
    return ("/acts", body)


def router(deps: ConsoleDeps) -> APIRouter:
    r = APIRouter()

    async def the_case(session: Session, case_id: str) -> dict[str, Any] | None:
        answer = await deps.backend.archive(session, "GET", f"/v1/cases/{case_id}",
                                            purpose=session.purposes[case_id])
        return answer.body if answer.ok else None

    def confirm(request: Request, case: dict[str, Any], what: str, ids: dict[str, str], *, status: int = 200,
                errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                failed: str | None = None) -> Response:
        duty = next((d for d in case.get("duties") or [] if d["obligation_id"] == ids.get("obligation_id")
                     or (what == "ack" and d.get("notification_id") == ids.get("notification_id"))), None)
        return deps.render(request, "case_act.html", status, case=case, what=what, ids=ids, duty=duty,
                           rule=ACTS.get(what), title=TITLES.get(what), levels=higher_levels(case.get("level")),
                           errors=errors or {}, values=values or {}, failed=failed, idem=str(uuid.uuid4()))

    async def prepared(request: Request, case_id: str, what: str) -> tuple[Session, dict[str, Any]] | Response:
        session = deps.require(request, *OFFICIALS)
        if what not in TITLES and what not in ACTS:
            return deps.message(request, "页面不存在", "未找到您要访问的页面。", 404, back=f"/cases/{case_id}")
        if case_id_or_none(case_id) is None:
            return deps.message(request, "未找到", NOT_FOUND_ZH, 404, back="/cases")
        if case_id not in session.purposes:
            return deps.redirect(f"/cases/{case_id}/purpose")
        case = await the_case(session, case_id)
        if case is None:
            return deps.message(request, "未找到", NOT_FOUND_ZH, 404, back="/cases")
        return session, case

    @r.get("/cases/{case_id}/do/{what}", **page_doc())
    async def confirm_page(request: Request, case_id: str, what: str) -> Response:
        got = await prepared(request, case_id, what)
        if isinstance(got, Response):
            return got
        _, case = got
        return confirm(request, case, what, _ids(request.query_params))

    @r.post("/cases/{case_id}/do/{what}", **form_doc())
    async def do(request: Request, case_id: str, what: str) -> Response:
        form = await deps.form(request)
        got = await prepared(request, case_id, what)
        if isinstance(got, Response):
            return got
        session, case = got
        ids = _ids(form)
        call = request_for(what, ids, form)
        if call is None:
            return deps.message(request, "无法处理", "缺少必要的编号，请从案件页面的按钮进入。", 422,
                                back=f"/cases/{case_id}")
        path, body = call
        idem = _text(form, "idem") or str(uuid.uuid4())
        answer = await deps.backend.archive(session, "POST", f"/v1/cases/{case_id}{path}", json=body,
                                            headers={"Idempotency-Key": idem})
        if answer.ok:
            done = "act" if what in ACTS else what
            if what in ("waive_duty", "close_case"):
                done = "four_eyes"
            return deps.redirect(f"/cases/{case_id}?done={done}")
        values = {k: str(v) for k, v in form.items() if k not in ("csrf", "idem")}
        errors = answer.field_errors() if answer.status == 422 else {}
        return confirm(request, case, what, ids, status=answer.status, errors=errors, values=values,
                       failed=answer.message_zh())

    return r

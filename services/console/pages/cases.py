"""The officials' case pages: the case list with the API's filters, the purpose asked before a case opens,
and the case's record (level, duties, recipients, timeline, acts, personal section, chain)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.pages.case_acts import offered_acts
from services.console.session import Session
from services.console.web import ConsoleDeps, form_doc, page_doc

OFFICIALS = ("bureau", "police", "stability_office", "school")
LIST_PURPOSE = "浏览案件列表"
# The filters of GET /v1/cases, named as the API names them (so its field errors map back to the form).
FILTERS = ("kind", "school", "level", "status", "from", "to", "overdue", "flag", "referred_to_police",
           "public_attention_wide")
PRESET_PURPOSES = ("依职责办理本案", "督办检查", "复核回访", "公安调查处置", "舆情应对")
OTHER = "其他"
NOT_FOUND_ZH = "未找到该案件或无权查看。"
DONE_ZH = {"ack": "已确认收到该通知。", "approve": "已记录您的审批意见；需两名不同的教育局工作人员审批后生效。",
           "act": "已记录。", "task": "已记录该事项办结。", "lookback": "已记录“回头看”复查完成。",
           "four_eyes": "已记录您的意见；需两名不同的教育局工作人员同意后生效。"}


def case_id_or_none(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def open_proposals(timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The school's proposals (lower the level, close) not yet decided, from the timeline's summaries."""
    resolved = {(e["summary"].get("follow_up_id"), e["summary"].get("change"))
                for e in timeline if e["event_type"] == "ChangeResolved"}
    return [e["summary"] | {"seq": e["seq"]} for e in timeline if e["event_type"] == "ChangeProposed"
            and (e["summary"].get("follow_up_id"), e["summary"].get("change")) not in resolved]


def router(deps: ConsoleDeps) -> APIRouter:
    r = APIRouter()

    @r.get("/cases", **page_doc())
    async def case_list(request: Request) -> Response:
        session = deps.require(request, *OFFICIALS)
        chosen = {k: v for k in FILTERS if (v := request.query_params.get(k, "").strip())}
        params = dict(chosen)
        if cursor := request.query_params.get("cursor"):
            params["cursor"] = cursor
        answer = await deps.backend.archive(session, "GET", "/v1/cases", purpose=LIST_PURPOSE, params=params)
        errors = answer.field_errors() if answer.status == 422 else {}
        items = answer.body["items"] if answer.ok else []
        next_cursor = answer.body.get("next_cursor") if answer.ok else None
        failed = None if answer.ok or errors else answer.message_zh()
        return deps.render(request, "cases.html", 200 if answer.ok else answer.status, items=items,
                           chosen=chosen, errors=errors, failed=failed, next_cursor=next_cursor,
                           next_query={**chosen, "cursor": next_cursor} if next_cursor else None,
                           paged="cursor" in params)

    @r.get("/cases/{case_id}/purpose", **page_doc())
    async def purpose_page(request: Request, case_id: str) -> Response:
        session = deps.require(request, *OFFICIALS)
        if case_id_or_none(case_id) is None:
            return deps.message(request, "未找到", NOT_FOUND_ZH, 404, back="/cases")
        return _purpose_form(request, session, case_id, {}, session.purposes.get(case_id, ""))

    @r.post("/cases/{case_id}/purpose", **form_doc("preset", "other"))
    async def purpose_given(request: Request, case_id: str) -> Response:
        session = deps.require(request, *OFFICIALS)
        form = await deps.form(request)
        if case_id_or_none(case_id) is None:
            return deps.message(request, "未找到", NOT_FOUND_ZH, 404, back="/cases")
        choice = str(form.get("preset") or "")
        other = str(form.get("other") or "").strip()
        text = other if choice == OTHER or (not choice and other) else choice
        if choice and choice != OTHER and choice not in PRESET_PURPOSES:
            text = ""
        if not 2 <= len(text) <= 200:
            field = "other" if choice == OTHER else "preset"
            reason = "请填写查阅事由（2–200 个字符）。" if choice == OTHER else "请选择或填写查阅事由。"
            return _purpose_form(request, session, case_id, {field: reason}, text, choice, 422)
        session.remember_purpose(case_id, text)
        return deps.redirect(f"/cases/{case_id}")

    def _purpose_form(request: Request, session: Session, case_id: str, errors: dict[str, str], current: str,
                      choice: str | None = None, status: int = 200) -> Response:
        if choice is None:
            choice = current if current in PRESET_PURPOSES else (OTHER if current else "")
        other = current if choice == OTHER else ""
        return deps.render(request, "case_purpose.html", status, case_id=case_id, presets=PRESET_PURPOSES,
                           other_label=OTHER, choice=choice, other=other, errors=errors)

    @r.get("/cases/{case_id}", **page_doc())
    async def case_page(request: Request, case_id: str) -> Response:
        session = deps.require(request, *OFFICIALS)
        if case_id_or_none(case_id) is None:
            return deps.message(request, "未找到", NOT_FOUND_ZH, 404, back="/cases")
        purpose = session.purposes.get(case_id)
        if purpose is None:
            return _purpose_form(request, session, case_id, {}, "")
        answer = await deps.backend.archive(session, "GET", f"/v1/cases/{case_id}", purpose=purpose)
        if answer.status == 404:
            return deps.message(request, "未找到", NOT_FOUND_ZH, 404, back="/cases")
        if not answer.ok:
            return deps.message(request, "无法查看", answer.message_zh(), answer.status, back="/cases")
        case = answer.body
        done = request.query_params.get("done")
        return deps.render(request, "case.html", case=case, purpose=purpose, done=DONE_ZH.get(done or ""),
                           acts=offered_acts(session, case), proposals=open_proposals(case["timeline"]))

    return r

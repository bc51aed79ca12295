"""Public disclosure of grave cases' handling: the public's pages and Atom feed (no login), and the bureau's
pages — draft from a closed case, edit with the rule's findings shown, approve (two officials), withdraw."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.disclosure_feed import atom_feed
from services.console.pages.cases import case_id_or_none
from services.console.web import ConsoleDeps, form_doc, page_doc

PURPOSE = "办理公开通报"
NOT_FOUND_ZH = "未找到该通报，或该通报已撤回。"
SPAN = re.compile(r"^text\[(\d+):(\d+)\]$")
DONE_ZH = {"saved": "已保存新版本；此前的审核意见已清空，需重新审核。", "approved": "已记录您的审核。",
           "published": "已由两名工作人员审核，通报已公开。", "withdrawn": "通报已撤回，公开页面和订阅中不再显示。",
           "drafted": "已根据案件记录生成通报草稿，请补全“问责情况”后提交审核。"}


def marked(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """The text in pieces, each marked when a finding covers it (the page highlights them)."""
    flags = [False] * len(text)
    for start, end in spans:
        for i in range(max(start, 0), min(end, len(text))):
            flags[i] = True
    pieces: list[tuple[str, bool]] = []
    for ch, flag in zip(text, flags, strict=True):
        if pieces and pieces[-1][1] == flag:
            pieces[-1] = (pieces[-1][0] + ch, flag)
        else:
            pieces.append((ch, flag))
    return pieces


def findings_of(answer_errors: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The archive's 422 findings (`text[start:end]`) as the page lists them, with the fragment they point at."""
    out = []
    for e in answer_errors:
        m = SPAN.match(str(e.get("field", "")))
        if m:
            start, end = int(m.group(1)), int(m.group(2))
            out.append({"start": start, "end": end, "match": text[start:end], "reason_zh": e.get("reason_zh", "")})
    return out


def router(deps: ConsoleDeps) -> APIRouter:
    r = APIRouter()

    # -- the public: no login ----------------------------------------------------------------------

    @r.get("/public/disclosures", **page_doc())
    async def public_list(request: Request) -> Response:
        answer = await deps.backend.archive_public("GET", "/v1/public/disclosures")
        if not answer.ok:
            return deps.message(request, "暂不可用", answer.message_zh(), 503)
        return deps.render(request, "public_disclosures.html", notices=answer.body)

    @r.get("/public/disclosures/feed.xml", **page_doc(download="application/atom+xml"))
    async def feed(request: Request) -> Response:
        answer = await deps.backend.archive_public("GET", "/v1/public/disclosures")
        if not answer.ok:
            return deps.message(request, "暂不可用", answer.message_zh(), 503)
        base = (deps.settings.console_public_url or str(request.base_url)).rstrip("/")
        return Response(atom_feed(answer.body, base, deps.clock()), media_type="application/atom+xml")

    @r.get("/public/disclosures/{disclosure_id}", **page_doc())
    async def public_one(request: Request, disclosure_id: str) -> Response:
        if case_id_or_none(disclosure_id) is None:
            return deps.message(request, "未找到", NOT_FOUND_ZH, 404, back="/public/disclosures")
        answer = await deps.backend.archive_public("GET", f"/v1/public/disclosures/{disclosure_id}")
        if answer.status == 404:
            return deps.message(request, "未找到", NOT_FOUND_ZH, 404, back="/public/disclosures")
        if not answer.ok:
            return deps.message(request, "暂不可用", answer.message_zh(), 503)
        return deps.render(request, "public_disclosure.html", notice=answer.body)

    # -- the bureau ----------------------------------------------------------------------------------

    @r.get("/disclosures", **page_doc())
    async def bureau_list(request: Request) -> Response:
        session = deps.require(request, "bureau")
        answer = await deps.backend.archive(session, "GET", "/v1/disclosures")
        return deps.render(request, "disclosures.html", 200 if answer.ok else answer.status,
                           items=answer.body if answer.ok else [], failed=None if answer.ok else answer.message_zh())

    @r.post("/cases/{case_id}/disclose", **form_doc())
    async def draft(request: Request, case_id: str) -> Response:
        session = deps.require(request, "bureau")
        await deps.form(request)
        if case_id_or_none(case_id) is None:
            return deps.message(request, "未找到", "未找到该案件或无权查看。", 404, back="/cases")
        answer = await deps.backend.archive(session, "POST", f"/v1/cases/{case_id}/disclosures")
        if answer.ok:
            return deps.redirect(f"/disclosures/{answer.body['disclosure_id']}?done=drafted")
        back = "/disclosures" if answer.status == 409 else f"/cases/{case_id}"
        return deps.message(request, "无法起草公开通报", answer.message_zh(), answer.status, back=back)

    async def show(request: Request, disclosure_id: str, *, status: int = 200, text: str | None = None,
                   findings: list[dict[str, Any]] | None = None, failed: str | None = None) -> Response:
        session = deps.require(request, "bureau")
        if case_id_or_none(disclosure_id) is None:
            return deps.message(request, "未找到", NOT_FOUND_ZH, 404, back="/disclosures")
        answer = await deps.backend.archive(session, "GET", f"/v1/disclosures/{disclosure_id}", purpose=PURPOSE)
        if not answer.ok:
            return deps.message(request, "未找到" if answer.status == 404 else "无法查看", answer.message_zh(),
                                answer.status, back="/disclosures")
        d = answer.body
        shown = d["text"] if text is None else text
        found = d["findings"] if findings is None else findings
        return deps.render(request, "disclosure.html", status, d=d, text=shown, findings=found, failed=failed,
                           pieces=marked(shown, [(f["start"], f["end"]) for f in found]),
                           done=DONE_ZH.get(request.query_params.get("done") or ""),
                           mine=session.account_id in d["approvals"])

    @r.get("/disclosures/{disclosure_id}", **page_doc())
    async def bureau_one(request: Request, disclosure_id: str) -> Response:
        return await show(request, disclosure_id)

    async def act(request: Request, disclosure_id: str, what: str) -> Response:
        session = deps.require(request, "bureau")
        form = await deps.form(request)
        if case_id_or_none(disclosure_id) is None:
            return deps.message(request, "未找到", NOT_FOUND_ZH, 404, back="/disclosures")
        version = str(form.get("version") or "")
        # as the archive keeps it (browsers send CRLF): the findings' offsets then point into this very text
        text = str(form.get("text") or "").replace("\r\n", "\n").strip()
        path = f"/v1/disclosures/{disclosure_id}"
        if what == "save":
            answer = await deps.backend.archive(session, "PUT", path, json={
                "version": int(version) if version.isdigit() else 0, "text": text})
        elif what == "approve":
            answer = await deps.backend.archive(session, "POST", f"{path}/approve", json={
                "version": int(version) if version.isdigit() else 0})
        else:
            answer = await deps.backend.archive(session, "POST", f"{path}/withdraw", json={
                "reason": str(form.get("reason") or "").strip()})
        if answer.ok:
            done = {"save": "saved", "withdraw": "withdrawn"}.get(what) or str(answer.body["state"])
            return deps.redirect(f"/disclosures/{disclosure_id}?done={done}")
        errors = answer.body.get("errors", []) if isinstance(answer.body, dict) else []
        if answer.status == 422 and what == "save":
            return await show(request, disclosure_id, status=422, text=text, findings=findings_of(errors, text),
                              failed=answer.message_zh())
        if answer.status == 422 and what == "withdraw":
            return await show(request, disclosure_id, status=422, failed="请填写撤回理由。")
        return await show(request, disclosure_id, status=answer.status, failed=answer.message_zh())

    @r.post("/disclosures/{disclosure_id}", **form_doc("version", "text"))
    async def save(request: Request, disclosure_id: str) -> Response:
        return await act(request, disclosure_id, "save")

    @r.post("/disclosures/{disclosure_id}/approve", **form_doc("version"))
    async def approve(request: Request, disclosure_id: str) -> Response:
        return await act(request, disclosure_id, "approve")

    @r.post("/disclosures/{disclosure_id}/withdraw", **form_doc("reason"))
    async def withdraw(request: Request, disclosure_id: str) -> Response:
        return await act(request, disclosure_id, "withdraw")

    return r

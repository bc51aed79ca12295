"""专项整治 (issue 16): the campaigns for schools and the bureau; the bureau starts one (a confirmation page,
then a form with the CSRF token); a campaign's page shows its phases, a matrix school × phase (done of total,
overdue highlighted) and, for a school's staff, their own duties with deadlines; the progress CSV."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from services.console.backend import Answer
from services.console.pages.ledger import attachment
from services.console.schools import schools_for
from services.console.web import ConsoleDeps, form_doc, page_doc
from shared.campaign_plan import ID

READ_PURPOSE = "查看专项整治进度"
EXPORT_PURPOSE = "下载专项整治进度"
ROLES = ("school", "bureau")
CampaignId = Annotated[str, Path(pattern=ID, max_length=64)]
DONE = {"started": "已启动。辖区内各校的各阶段事项将按期限督办，进度见下表。",
        "already": "该专项整治此前已在本辖区启动，无需重复启动。"}


def matrix(progress: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per school: per phase done/total and overdue, in the phases' order."""
    return [{"school_id": s["school_id"], "school_name": s["school_name"] or s["school_id"],
             "cells": [{"phase_id": p["phase_id"], "done": p["done"], "total": p["total"], "overdue": p["overdue"]}
                       for p in s["phases"]], "done": s["done"], "total": s["total"], "overdue": s["overdue"]}
            for s in progress.get("schools", [])]


def own_duties(progress: dict[str, Any]) -> list[dict[str, Any]]:
    """A school's duties, phase by phase, with the phase's name."""
    names = {p["phase_id"]: p["zh"] for p in progress["phases"]}
    return [{**d, "phase_zh": names.get(d["phase_id"], d["phase_id"])}
            for s in progress.get("schools", []) for p in s["phases"] for d in p["duties"]]


def router(deps: ConsoleDeps) -> APIRouter:
    r = APIRouter()

    def refused(request: Request, answer: Answer, back: str = "/campaigns") -> Response:
        status = answer.status if answer.status in (403, 404, 422, 429) else 502
        return deps.message(request, "无法查阅", answer.message_zh(), status, back=back)

    @r.get("/campaigns", **page_doc())
    async def campaigns(request: Request) -> Response:
        session = deps.require(request, *ROLES)
        answer = await deps.backend.archive(session, "GET", "/v1/campaigns", purpose=READ_PURPOSE)
        if not answer.ok:
            return refused(request, answer, back="/")
        return deps.render(request, "campaigns.html", campaigns=answer.body)

    @r.get("/campaigns/{campaign_id}", **page_doc())
    async def campaign(request: Request, campaign_id: CampaignId) -> Response:
        session = deps.require(request, *ROLES)
        answer = await deps.backend.archive(session, "GET", f"/v1/campaigns/{campaign_id}", purpose=READ_PURPOSE)
        if not answer.ok:
            return refused(request, answer)
        body = answer.body
        return deps.render(request, "campaign.html", campaign=body, rows=matrix(body),
                           duties=own_duties(body) if session.is_school else [],
                           notice=DONE.get(request.query_params.get("done", "")))

    @r.get("/campaigns/{campaign_id}/progress.csv", **page_doc(download="text/csv"))
    async def progress_csv(request: Request, campaign_id: CampaignId) -> Response:
        session = deps.require(request, *ROLES)
        answer = await deps.backend.archive(session, "GET", f"/v1/campaigns/{campaign_id}/progress.csv",
                                            purpose=EXPORT_PURPOSE)
        if not answer.ok:
            return refused(request, answer, back=f"/campaigns/{campaign_id}")
        suffix = f"-{session.school_id}" if session.school_id else ""
        return Response(answer.content, media_type=answer.headers.get("content-type"), headers={
            "Content-Disposition": attachment(f"campaign-{campaign_id}{suffix}.csv",
                                              f"专项整治进度-{campaign_id}{suffix}.csv")})

    @r.get("/campaigns/{campaign_id}/start", **page_doc())
    async def confirm_start(request: Request, campaign_id: CampaignId) -> Response:
        """The confirmation page (nothing started yet): what starting does, for which schools."""
        session = deps.require(request, "bureau")
        answer = await deps.backend.archive(session, "GET", f"/v1/campaigns/{campaign_id}", purpose=READ_PURPOSE)
        if not answer.ok:
            return refused(request, answer)
        if answer.body.get("started"):
            return deps.redirect(f"/campaigns/{campaign_id}?done=already")
        return deps.render(request, "campaign_start.html", campaign=answer.body,
                           schools=schools_for(deps.settings.directory_file, session))

    @r.post("/campaigns/{campaign_id}/start", **form_doc())
    async def start(request: Request, campaign_id: CampaignId) -> Response:
        session = deps.require(request, "bureau")
        await deps.form(request)
        answer = await deps.backend.archive(session, "POST", f"/v1/campaigns/{campaign_id}/start")
        if not answer.ok:
            status = answer.status if answer.status in (403, 404, 429) else 502
            return deps.message(request, "未能启动", answer.message_zh(), status, back="/campaigns")
        return deps.redirect(f"/campaigns/{campaign_id}?done={'started' if answer.status == 202 else 'already'}")

    return r


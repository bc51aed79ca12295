"""Campaigns (专项整治, issue 16): the bureau starts one in its jurisdiction; schools and the bureau follow its
progress per school and phase (JSON, CSV)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from services.archive import campaign_start
from services.archive.campaign_exports import progress_csv
from services.archive.campaign_progress import CampaignProgress, CampaignView
from services.archive.deps import ERRORS, ArchiveDeps, stated_purpose
from shared.campaign_plan import ID
from shared.directory import load_directory
from shared.errors import ErrorBody
from shared.identity import Official


class CampaignStartAnswer(BaseModel):
    campaign_id: str
    event_id: uuid.UUID = Field(description="The start (CampaignStarted); the same on a second start.")
    status: str = Field(description="accepted (started now) | already_started")
    schools: list[str] = Field(description="The jurisdiction's schools at the start, each with its duties.")
    note_zh: str


_READ_ERRORS = {**ERRORS, 403: {"model": ErrorBody, "description": "Not a school or bureau account."},
                404: {"model": ErrorBody, "description": "No such campaign."}}
_START_ERRORS = {**ERRORS, 403: {"model": ErrorBody, "description": "Not a bureau official."},
                 404: {"model": ErrorBody, "description": "No such campaign."}}


def router(deps: ArchiveDeps) -> APIRouter:
    r = APIRouter(tags=["campaigns"])
    directory = load_directory(deps.settings.directory_file)
    campaigns = deps.campaigns or {}
    Reader = Annotated[Official, Depends(deps.official)]  # noqa: N806 - type aliases
    Purpose = Annotated[str, Depends(stated_purpose)]  # noqa: N806
    CampaignId = Annotated[str, Path(pattern=ID, max_length=64, examples=["2027-zhuanxiang"])]  # noqa: N806

    @r.post("/v1/campaigns/{campaign_id}/start", status_code=202, response_model=CampaignStartAnswer,
            responses={**_START_ERRORS, 200: {"model": CampaignStartAnswer, "description": "Started before: the "
                                                "first start's event."}},
            summary="Start a campaign in your jurisdiction (bureau)")
    async def start(campaign_id: CampaignId, official: Reader) -> Response:
        """Every school of the jurisdiction (the directory's, now) gets the campaign's duties with their
        deadlines (escalation); their progress shows at GET /v1/campaigns/{id}. Starting again changes nothing:
        200 with the first start's event."""
        event, new = await campaign_start.start(deps.pool, campaigns, directory, official, campaign_id,
                                                deps.clock())
        if new:
            deps.kick()
        answer = CampaignStartAnswer(
            campaign_id=event.campaign_id, event_id=event.event_id,
            status="accepted" if new else "already_started", schools=event.school_ids,
            note_zh=f"已启动专项整治，辖区内 {len(event.school_ids)} 所学校的各阶段事项将按期限督办。" if new
            else "该专项整治已在本辖区启动，无需重复启动。")
        return JSONResponse(answer.model_dump(mode="json"), status_code=202 if new else 200)

    @r.get("/v1/campaigns", response_model=list[CampaignView], responses=_READ_ERRORS,
           summary="The campaigns, started or not in your jurisdiction")
    async def list_campaigns(official: Reader, purpose: Purpose) -> list[CampaignView]:
        """Each campaign file with its phases and deadlines, and whether (when, by whom) it was started in your
        jurisdiction. Schools and the bureau (others 403)."""
        return await campaign_start.views(deps.pool, campaigns, official, purpose, deps.clock())

    @r.get("/v1/campaigns/{campaign_id}", response_model=CampaignProgress | CampaignView, responses=_READ_ERRORS,
           summary="A campaign's progress per school and phase")
    async def get_campaign(campaign_id: CampaignId, official: Reader, purpose: Purpose
                           ) -> CampaignProgress | CampaignView:
        """Per school and phase: its duties with their state, done of total, overdue (open past the original
        deadline now); the bureau also sees its once-per-campaign duties. A school's staff see their own
        school's row only. Not started in your jurisdiction: the campaign's phases, `started` false."""
        return await campaign_start.read_progress(deps.pool, campaigns, directory, official, campaign_id, purpose,
                                                  "json", deps.clock())

    @r.get("/v1/campaigns/{campaign_id}/progress.csv", response_class=Response,
           responses={**_READ_ERRORS, 200: {"content": {"text/csv": {}}}},
           summary="A campaign's progress as CSV (UTF-8 with BOM, Chinese headers)")
    async def get_progress_csv(campaign_id: CampaignId, official: Reader, purpose: Purpose) -> Response:
        """One row per school, phase and duty: 学校代码, 学校, 阶段, 事项, 状态, 截止, 完成时间, 逾期; then the
        bureau's once-per-campaign duties (学校代码 全部). Not started in your jurisdiction: 404."""
        found = await campaign_start.read_progress(deps.pool, campaigns, directory, official, campaign_id, purpose,
                                                   "csv", deps.clock())
        if not isinstance(found, CampaignProgress):
            raise campaign_start.NOT_STARTED
        return Response(progress_csv(found), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"'})

    return r

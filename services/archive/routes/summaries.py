"""Phase summaries of a campaign (issue 16): a school submits its own, the school and the bureau read them,
the bureau exports the city summary (DOCX) for the higher authority."""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from services.archive import summary_reads
from services.archive.campaign_files import campaign_of
from services.archive.campaign_summaries import (
    Figures,
    SchoolPhaseSummary,
    SummaryFiled,
    SummaryList,
    SummaryText,
)
from services.archive.city_summary import city_summary_docx
from services.archive.deps import ERRORS, NOT_STARTED_DOC, ArchiveDeps, stated_purpose
from services.archive.scopes import may_read_ledger
from shared.campaign_plan import ID
from shared.directory import load_directory
from shared.errors import ApiError, ErrorBody
from shared.identity import Official, OfficialRole

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FORBIDDEN = ApiError(403, "forbidden", "Summaries are the schools' and the bureau's.", "阶段总结仅供学校和教育局使用。")
BUREAU_ONLY = ApiError(403, "forbidden", "The city summary is the bureau's.", "全市总结汇总仅供教育局导出。")


def router(deps: ArchiveDeps) -> APIRouter:
    r = APIRouter(tags=["campaign"])
    directory = load_directory(deps.settings.directory_file)
    campaigns = deps.campaigns or {}

    async def reader(official: Annotated[Official, Depends(deps.official)]) -> Official:
        if not may_read_ledger(official):
            raise FORBIDDEN
        return official

    Actor = Annotated[Official, Depends(deps.official)]  # noqa: N806 - type aliases
    Reader = Annotated[Official, Depends(reader)]  # noqa: N806
    Purpose = Annotated[str, Depends(stated_purpose)]  # noqa: N806
    CampaignId = Annotated[str, Path(pattern=ID, description="The campaign file's id.")]  # noqa: N806
    PhaseId = Annotated[str, Path(pattern=ID, description="One of the campaign's phases.")]  # noqa: N806
    PhaseQ = Annotated[str, Query(pattern=ID, description="One of the campaign's phases.")]  # noqa: N806
    SchoolId = Annotated[str, Path(min_length=1, max_length=64)]  # noqa: N806
    errors = {**ERRORS, 403: {"model": ErrorBody, "description": "Not a school or bureau account."},
              404: {"model": ErrorBody, "description": "No such campaign or phase, or school within your "
                                                         "authority (or, for one school, no summary yet)."}}

    @r.post("/v1/campaigns/{campaign_id}/phases/{phase_id}/summary", status_code=202, response_model=SummaryFiled,
            responses={**errors, **NOT_STARTED_DOC, 403: {"model": ErrorBody, "description": "Not a school's staff."}},
            summary="Submit the school's phase summary (成效, 问题, 原因, 下一步)")
    async def submit(campaign_id: CampaignId, phase_id: PhaseId, body: SummaryText, official: Actor) -> SummaryFiled:
        """The school's ledger totals for the campaign's period so far are attached and kept with the text. A later
        summary supersedes the earlier one in the views; both stay in the record. Settles the phase's summary duty."""
        event, figures = await summary_reads.submit(deps.pool, directory, campaign_of(campaigns, campaign_id),
                                                    phase_id, official, body, deps.clock())
        deps.kick()
        return SummaryFiled(record_id=event.record_id, event_id=event.event_id, school_id=event.school_id,
                            figures=figures, note_zh="阶段总结已提交，教育局可查阅；本校台账数据已随总结附上。")

    @r.get("/v1/campaigns/{campaign_id}/figures", response_model=Figures, responses=errors,
           summary="The figures a school's summary attaches now")
    async def figures(campaign_id: CampaignId, official: Reader, purpose: Purpose,
                      school: Annotated[str | None, Query(max_length=64, description="A school of the bureau's "
                                                          "jurisdiction; a school's staff may omit it.")] = None
                      ) -> Figures:
        """The school's ledger totals from the month the campaign was started in its jurisdiction to this month."""
        return await summary_reads.figures_for(deps.pool, directory, campaign_of(campaigns, campaign_id), official,
                                               school, purpose, deps.clock())

    @r.get("/v1/campaigns/{campaign_id}/summaries", response_model=SummaryList, responses=errors,
           summary="Who submitted the phase's summary, and who not")
    async def summaries(campaign_id: CampaignId, phase: PhaseQ, official: Reader, purpose: Purpose) -> SummaryList:
        """The bureau: every school of its jurisdiction (submitted when and by whom, or not); a school: its own."""
        return await summary_reads.listing(deps.pool, directory, campaign_of(campaigns, campaign_id), phase,
                                           official, purpose, deps.clock())

    @r.get("/v1/campaigns/{campaign_id}/summaries/{school_id}", response_model=SchoolPhaseSummary,
           responses=errors, summary="A school's phase summary: the text and the figures attached")
    async def one(campaign_id: CampaignId, school_id: SchoolId, phase: PhaseQ, official: Reader,
                  purpose: Purpose) -> SchoolPhaseSummary:
        return await summary_reads.one(deps.pool, directory, campaign_of(campaigns, campaign_id), phase, school_id,
                                       official, purpose, deps.clock())

    @r.get("/v1/campaigns/{campaign_id}/city-summary.docx", response_class=Response,
           responses={**errors, 403: {"model": ErrorBody, "description": "Not a bureau official."},
                      200: {"content": {DOCX: {}}}},
           summary="The city summary for the higher authority (Word, Chinese)")
    async def city(campaign_id: CampaignId, phase: PhaseQ, official: Actor, purpose: Purpose) -> Response:
        """The figures per school and the total from the ledger, the schools that have not submitted, and each
        school's summary under its name."""
        if official.role is not OfficialRole.bureau:
            raise BUREAU_ONLY
        data = await summary_reads.city(deps.pool, directory, campaign_of(campaigns, campaign_id), phase, official,
                                        purpose, deps.clock())
        name = f"city-summary-{campaign_id}-{phase}.docx"
        name_zh = f"总结汇总-{campaign_id}-{phase}.docx"
        return Response(city_summary_docx(data), media_type=DOCX, headers={
            "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name_zh)}"})

    return r

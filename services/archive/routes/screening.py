"""Screening in a campaign phase (issue 16): a school's student screening return, the bureau's screening of a
school on the seven aspects, and coverage — which schools are not yet screened (JSON and CSV)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from services.archive import coverage_reads
from services.archive.campaign_files import campaign_of
from services.archive.campaign_filing import NO_SUCH_CAMPAIGN
from services.archive.coverage import Coverage, coverage_csv, screening_phases
from services.archive.deps import ERRORS, NOT_STARTED_DOC, ArchiveDeps, stated_purpose
from services.archive.routes.ledger import FORBIDDEN
from services.archive.scopes import may_read_ledger
from services.archive.screening import RecordAccepted, SchoolScreening, StudentScreeningReturn
from services.archive.screening_filing import file_return, file_screening
from shared.campaign_plan import Campaign
from shared.directory import load_directory
from shared.errors import ErrorBody
from shared.identity import Official

_FILE_ERRORS = {**ERRORS, **NOT_STARTED_DOC,
                403: {"model": ErrorBody, "description": "Not the filer of this kind of record."},
                404: {"model": ErrorBody, "description": "No such campaign, phase, or school within your authority."}}
_READ_ERRORS = {**ERRORS, 403: {"model": ErrorBody, "description": "Not a school or bureau account."},
                404: {"model": ErrorBody, "description": "No such campaign or phase."}}
Id = Annotated[str, Path(max_length=64)]


def router(deps: ArchiveDeps) -> APIRouter:
    r = APIRouter(tags=["campaign"])
    directory = load_directory(deps.settings.directory_file)
    campaigns = deps.campaigns or {}
    Actor = Annotated[Official, Depends(deps.official)]  # noqa: N806 - type aliases
    Purpose = Annotated[str, Depends(stated_purpose)]  # noqa: N806
    Phase = Annotated[str | None, Query(max_length=64, description=(  # noqa: N806
        "The phase (default: the campaign's first phase with a screening duty)."))]

    @r.post("/v1/campaigns/{campaign_id}/phases/{phase_id}/student-screening", status_code=202,
            response_model=RecordAccepted, responses=_FILE_ERRORS,
            summary="A school's return on screening all its students (学生排查报告)")
    async def student_screening(campaign_id: Id, phase_id: Id, body: StudentScreeningReturn,
                                official: Actor) -> RecordAccepted:
        """School staff, for their own school. Either the hazards found — each already filed as a hazard of the
        school (intake's hazard API or the console's 上报隐患) — or `nothing_found: true`: saying nothing is
        refused (422), since "screened, nothing found" is not "not screened". A later return supersedes this
        one in the views; both stay in the record. The same request again is the same record (ids derive
        from the body: the archive takes no Idempotency-Key)."""
        campaign = campaign_of(campaigns, campaign_id)
        event = await file_return(deps.pool, directory, campaign, phase_id, official, body, deps.clock())
        deps.kick()
        return RecordAccepted(record_id=event.record_id, event_id=event.event_id, kind=event.kind,
                              hazard_ids=body.hazard_ids, note_zh="学生排查报告已报送。")

    @r.post("/v1/campaigns/{campaign_id}/phases/{phase_id}/schools/{school_id}/screening", status_code=202,
            response_model=RecordAccepted, responses=_FILE_ERRORS,
            summary="The bureau's screening of a school on the seven aspects (学校排查)")
    async def school_screening(campaign_id: Id, phase_id: Id, school_id: Id, body: SchoolScreening,
                               official: Actor) -> RecordAccepted:
        """The bureau, for a school of its jurisdiction: each of the seven aspects once; a problem needs a
        rectification (plan, due date, responsible), and each becomes a hazard of the school (`hazard_ids`):
        escalation holds the school to its due date, the school reports progress on it in intake. The same
        request again is the same record and the same hazards."""
        campaign = campaign_of(campaigns, campaign_id)
        event, hazards = await file_screening(deps.pool, directory, campaign, phase_id, school_id, official, body,
                                              deps.clock())
        deps.kick()
        return RecordAccepted(record_id=event.record_id, event_id=event.event_id, kind=event.kind,
                              hazard_ids=hazards,
                              note_zh=f"学校排查已记录，{len(hazards)} 项整改已作为隐患交学校办理。")

    async def reader(official: Actor) -> Official:
        if not may_read_ledger(official):
            raise FORBIDDEN
        return official

    Reader = Annotated[Official, Depends(reader)]  # noqa: N806

    def phase_of(campaign: Campaign, phase: str | None) -> str:
        chosen = phase or next(iter(screening_phases(campaign)), campaign.phases[0].id)
        if chosen not in {p.id for p in campaign.phases}:
            raise NO_SUCH_CAMPAIGN
        return chosen

    @r.get("/v1/campaigns/{campaign_id}/coverage", response_model=Coverage, responses=_READ_ERRORS,
           summary="Screening coverage of a phase: the schools not yet covered first")
    async def get_coverage(campaign_id: Id, official: Reader, purpose: Purpose, phase: Phase = None) -> Coverage:
        """Per school (the bureau: its jurisdiction's schools in the directory; a school: itself): the bureau's
        screening (when, aspects with problems, hazards) and the student return (未报送, 已报送·无发现, or
        已报送·有发现 with its counts). Covered = both filed. Logged with its purpose."""
        campaign = campaign_of(campaigns, campaign_id)
        return await coverage_reads.coverage(deps.pool, official, campaign, phase_of(campaign, phase), directory,
                                             "coverage", "json", purpose, deps.clock())

    @r.get("/v1/campaigns/{campaign_id}/coverage.csv", response_class=Response,
           responses={**_READ_ERRORS, 200: {"content": {"text/csv": {}}}},
           summary="Screening coverage as CSV (UTF-8 with BOM, Chinese headers)")
    async def get_coverage_csv(campaign_id: Id, official: Reader, purpose: Purpose, phase: Phase = None) -> Response:
        campaign = campaign_of(campaigns, campaign_id)
        found = await coverage_reads.coverage(deps.pool, official, campaign, phase_of(campaign, phase), directory,
                                              "export", "coverage.csv", purpose, deps.clock())
        return Response(coverage_csv(found), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="coverage-{found.campaign_id}-{found.phase_id}.csv"'})

    return r

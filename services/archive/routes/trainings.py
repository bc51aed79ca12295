"""Anti-bullying training sessions of schools' staff (issue 16): a school files one, schools and the bureau
list them. Counted in the ledger (培训场次, 培训学时)."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query

from services.archive.campaign_files import campaign_of
from services.archive.deps import ERRORS, NOT_STARTED_DOC, ArchiveDeps, stated_purpose
from services.archive.training_filing import file_training, list_trainings
from services.archive.trainings import TrainingFiled, TrainingList, TrainingRequest
from shared.directory import load_directory
from shared.errors import ErrorBody
from shared.identity import Official

_FILE_ERRORS = {**ERRORS, **NOT_STARTED_DOC, 403: {"model": ErrorBody, "description": "Not a school's staff account."},
                404: {"model": ErrorBody, "description": "No such campaign or phase."}}
_LIST_ERRORS = {**ERRORS, 403: {"model": ErrorBody, "description": "Not a school or bureau account."}}
Ref = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


def router(deps: ArchiveDeps) -> APIRouter:
    r = APIRouter(tags=["campaign"])
    directory = load_directory(deps.settings.directory_file)
    campaigns = deps.campaigns or {}
    Actor = Annotated[Official, Depends(deps.official)]  # noqa: N806 - type aliases
    Purpose = Annotated[str, Depends(stated_purpose)]  # noqa: N806

    @r.post("/v1/campaigns/{campaign_id}/phases/{phase_id}/trainings", status_code=202,
            response_model=TrainingFiled, responses=_FILE_ERRORS,
            summary="Record an anti-bullying training session held for your school's staff")
    async def file(campaign_id: Ref, phase_id: Ref, body: TrainingRequest, official: Actor,
                   idempotency_key: Annotated[str | None, Header(
                       min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$",
                       description="The same key and body again: the same record.")] = None,
                   ) -> TrainingFiled:
        """For a school's staff, for their own school: when, for which staff roles, how many attended, class
        hours, topic (kept sealed in the record). Each session is its own record; they add up in the ledger."""
        event = await file_training(deps.pool, directory, campaign_of(campaigns, campaign_id), phase_id, official,
                                    body, idempotency_key, deps.clock())
        deps.kick()
        return TrainingFiled(record_id=event.record_id, event_id=event.event_id, school_id=event.school_id,
                             note_zh="培训记录已提交，将计入台账的培训场次和培训学时。")

    @r.get("/v1/trainings", response_model=TrainingList, responses=_LIST_ERRORS,
           summary="Training sessions within your authority")
    async def trainings(official: Actor, purpose: Purpose,
                        school: Annotated[str | None, Query(max_length=64, description="One school (filters, never "
                                                            "widens).")] = None,
                        first: Annotated[date | None, Query(alias="from", description="Held on or after (a date).")]
                        = None,
                        last: Annotated[date | None, Query(alias="to", description="Held on or before.")] = None,
                        ) -> TrainingList:
        """Newest first: a school its own, the bureau its jurisdiction's schools'. Counts and roles only."""
        return await list_trainings(deps.pool, official, directory, school, first, last, purpose, deps.clock())

    return r

"""Incident reports and their follow-ups: authenticate, validate, publish, answer."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.intake import repository
from services.intake.auth import Principal
from services.intake.deps import ERRORS, IdempotencyKey, IntakeDeps, respond
from services.intake.examples import FOLLOW_UP_EXAMPLE, INCIDENT_EXAMPLE
from services.intake.person_keys import follow_up_without_national_ids, without_national_ids
from services.intake.persons import check_persons
from services.intake.reports import follow_up_event, follow_up_id_for, reported_event
from shared.contracts import IncidentReport
from shared.contracts.follow_up import FollowUp
from shared.errors import ApiError


class IncidentAccepted(BaseModel):
    incident_id: uuid.UUID


class FollowUpAccepted(BaseModel):
    incident_id: uuid.UUID
    follow_up_id: uuid.UUID
    seq: int


def router(deps: IntakeDeps) -> APIRouter:
    r = APIRouter(tags=["incidents"])
    School = Annotated[Principal, Depends(deps.auth)]  # noqa: N806 - a type alias

    @r.post("/v1/incidents", status_code=202, response_model=IncidentAccepted, responses=ERRORS,
            summary="Report a bullying incident")
    async def report_incident(
        report: Annotated[IncidentReport, INCIDENT_EXAMPLE], school: School, idempotency_key: IdempotencyKey
    ) -> JSONResponse:
        """202 means the report is on disk in JetStream and will reach every required recipient."""
        school.require_school(report.school_id)
        event = reported_event(without_national_ids(report, deps.settings.pseudonym_key), idempotency_key,
                               deps.sealing)

        async def accept() -> tuple[int, dict[str, object]]:
            await repository.register_incident_with_students(deps.pool, event.incident_id, school.school_id,
                                                             [s.ref for s in report.students])
            await deps.submissions.publish(event)
            return 202, {"incident_id": str(event.incident_id)}

        async def record(status: int, body: dict[str, object]) -> None:
            # Durable: follow-ups may name it now. A failure here is a 503, and the retry (same key)
            # publishes again (deduplicated) and records then.
            await repository.accept_incident(deps.pool, event.incident_id, school.school_id, idempotency_key,
                                             status, body)

        return respond(await deps.submissions.once(
            school.school_id, idempotency_key, "POST /v1/incidents", report, accept, record))

    @r.post("/v1/incidents/{incident_id}/follow-ups", status_code=202, response_model=FollowUpAccepted,
            responses={**ERRORS, 404: ERRORS[403] | {"description": "No such incident."}},
            summary="Send a follow-up report (续报)")
    async def report_follow_up(
        incident_id: uuid.UUID, follow_up: Annotated[FollowUp, FOLLOW_UP_EXAMPLE], school: School,
        idempotency_key: IdempotencyKey,
    ) -> JSONResponse:
        """Changed facts, indicators, measures, sanctions, counselling, tasks done, students newly found
        (under refs the incident does not have yet), corrected guardians, outcome or a proposed closure."""
        owner = await repository.incident_owner(deps.pool, incident_id)
        if owner is None:
            raise ApiError(404, "not_found", "No accepted incident has this id.", "未找到该事件。")
        school.require_school(owner)
        follow_up_id = follow_up_id_for(school.school_id, idempotency_key)
        if follow_up.students_added or follow_up.guardians_corrected:
            check_persons(follow_up, await repository.incident_students(deps.pool, incident_id), follow_up_id)
        travelling = follow_up_without_national_ids(follow_up, deps.settings.pseudonym_key)

        async def accept() -> tuple[int, dict[str, object]]:
            async with deps.pool.acquire() as conn:
                seq = await repository.allocate_seq(conn, "follow_up", follow_up_id, incident_id)
                await repository.register_students(conn, incident_id, [s.ref for s in follow_up.students_added],
                                                   follow_up_id)
            await deps.submissions.publish(follow_up_event(incident_id, school.school_id, follow_up_id, seq,
                                                           travelling))
            return 202, {"incident_id": str(incident_id), "follow_up_id": str(follow_up_id), "seq": seq}

        return respond(await deps.submissions.once(
            school.school_id, idempotency_key, f"POST /v1/incidents/{incident_id}/follow-ups", follow_up, accept))

    return r

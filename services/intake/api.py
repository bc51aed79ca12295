"""intake's HTTP edge: authenticate, validate, publish, answer. Nothing else."""


import logging
import uuid
from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse
from faststream.nats import NatsBroker
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel

from services.intake import keys, repository
from services.intake.examples import INCIDENT_EXAMPLE
from services.intake.reports import reported_event
from shared.bus import publish_event, safe_error
from shared.config import Settings
from shared.contracts import IncidentReport
from shared.http import ErrorBody, error, install_common

log = logging.getLogger("antibully.intake")


class IncidentAccepted(BaseModel):
    incident_id: uuid.UUID
    duplicate: bool


@dataclass
class IntakeDeps:
    settings: Settings
    pool: asyncpg.Pool
    broker: NatsBroker
    tracer_provider: TracerProvider
    registry: CollectorRegistry


class _Unavailable(Exception):
    pass


def create_app(deps: IntakeDeps) -> FastAPI:
    app = FastAPI(
        title="antibully intake",
        version="1",
        description="Schools report bullying incidents here. Every 202 means the report is durable.",
    )
    install_common(app, deps.tracer_provider, deps.registry, deps.settings.max_body_bytes)
    reports = Counter("antibully_intake_reports", "Incident reports by outcome", ["outcome"], registry=deps.registry)
    auth_failures = Counter(
        "antibully_intake_auth_failures", "Failed authentications", ["reason"], registry=deps.registry
    )
    retry_after = {"Retry-After": str(deps.settings.retry_after_s)}

    @app.exception_handler(_Unavailable)
    async def _unavailable(_: object, __: Exception) -> JSONResponse:
        return error(503, "unavailable", "The report could not be made durable; retry with the same Idempotency-Key.",
                     headers=retry_after)

    async def school_of_key(authorization: Annotated[str | None, Header()] = None) -> str:
        """The school the bearer key belongs to; 401 otherwise."""
        token = (authorization or "").removeprefix("Bearer ").strip()
        parsed = keys.parse(token)
        if parsed is None:
            auth_failures.labels("malformed").inc()
            raise HTTPException(401, "A valid 'Authorization: Bearer <key>' header is required.",
                                headers={"WWW-Authenticate": "Bearer"})
        key_id, secret = parsed
        try:
            found = await repository.active_key(deps.pool, key_id)
        except (OSError, asyncpg.PostgresError) as exc:
            log.error("key lookup failed: %s", safe_error(exc))
            raise _Unavailable from exc
        if found is None or not keys.matches(secret, found[1]):
            auth_failures.labels("unknown_or_revoked").inc()
            log.warning("authentication failed for key id %s", key_id)
            raise HTTPException(401, "Unknown or revoked API key.", headers={"WWW-Authenticate": "Bearer"})
        return found[0]

    @app.post(
        "/v1/incidents",
        status_code=202,
        response_model=IncidentAccepted,
        responses={
            401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 413: {"model": ErrorBody},
            422: {"model": ErrorBody}, 503: {"model": ErrorBody, "description": "Not durable; retry later."},
        },
        summary="Report a bullying incident",
    )
    async def report_incident(
        report: Annotated[IncidentReport, INCIDENT_EXAMPLE],
        school_id: Annotated[str, Depends(school_of_key)],
        idempotency_key: Annotated[
            str, Header(alias="Idempotency-Key", min_length=8, max_length=128, pattern=r"^[\x21-\x7e]+$")
        ],
    ) -> IncidentAccepted:
        if report.school_id != school_id:
            reports.labels("forbidden").inc()
            raise HTTPException(403, "This key may only report for its own school.")
        event = reported_event(report, idempotency_key)
        try:
            ack = await publish_event(deps.broker, event, deps.settings.publish_timeout_s)
        except Exception as exc:
            reports.labels("unavailable").inc()
            log.error("publish of %s failed: %s", event.event_id, safe_error(exc))
            raise _Unavailable from exc
        reports.labels("duplicate" if ack.duplicate else "accepted").inc()
        return IncidentAccepted(incident_id=event.incident_id, duplicate=bool(ack.duplicate))

    return app

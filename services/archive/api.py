"""Archive's read API: a case's level, reasons, recipients with delivery status, and timeline."""

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import Depends, FastAPI, Header, HTTPException
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from services.archive import repository
from services.archive.chain import first_broken
from shared.config import Settings
from shared.contracts import Reason
from shared.http import ErrorBody, install_common


class RecipientStatus(BaseModel):
    notification_id: uuid.UUID
    role: str
    status: str
    reason: str | None
    updated_at: datetime


class TimelineEntry(BaseModel):
    seq: int
    event_type: str
    recorded_at: datetime
    summary: dict[str, Any]
    hash: str


class ChainStatus(BaseModel):
    valid: bool
    length: int
    head: str
    first_broken_seq: int | None


class PersonalData(BaseModel):
    """Names, contacts and narratives are sealed under the case's own key until retention ends."""

    status: Literal["sealed", "destroyed", "none"]
    destroyed_at: datetime | None = None


class CaseRecord(BaseModel):
    incident_id: uuid.UUID
    case_ref: str
    school_id: str | None
    level: str | None
    public_attention_wide: bool | None
    reasons: list[Reason]
    policy_version: str | None
    recipients: list[RecipientStatus]
    timeline: list[TimelineEntry]
    chain: ChainStatus
    personal_data: PersonalData


@dataclass
class ArchiveDeps:
    settings: Settings
    pool: asyncpg.Pool
    tracer_provider: TracerProvider
    registry: CollectorRegistry


def create_app(deps: ArchiveDeps) -> FastAPI:
    app = FastAPI(title="antibully archive", version="1",
                  description="The special records of bullying incidents, for officials.")
    install_common(app, deps.tracer_provider, deps.registry, 16 * 1024)

    async def official(authorization: Annotated[str | None, Header()] = None) -> None:
        """A placeholder for officials' accounts (issue 6): one bearer token from configuration."""
        token = (authorization or "").removeprefix("Bearer ").strip()
        expected = deps.settings.archive_read_token
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            raise HTTPException(401, "A valid 'Authorization: Bearer <token>' header is required.",
                                headers={"WWW-Authenticate": "Bearer"})

    @app.get("/v1/incidents/{incident_id}", response_model=CaseRecord, dependencies=[Depends(official)],
             responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}}, summary="A case's record")
    async def get_incident(incident_id: uuid.UUID) -> CaseRecord:
        entries = await repository.entries(deps.pool, incident_id)
        if not entries:
            raise HTTPException(404, "No record for this incident.")
        case = await repository.case(deps.pool, incident_id) or {}
        broken = first_broken(entries)
        key = await repository.key_state(deps.pool, incident_id)
        personal = (PersonalData(status="none") if key is None else
                    PersonalData(status="destroyed", destroyed_at=key["shredded_at"]) if key["shredded_at"] else
                    PersonalData(status="sealed"))
        return CaseRecord(
            incident_id=incident_id,
            case_ref="AB-" + incident_id.hex[:8].upper(),
            school_id=case.get("school_id"),
            level=case.get("level"),
            public_attention_wide=case.get("public_attention_wide"),
            reasons=[Reason(**r) for r in case.get("reasons", [])],
            policy_version=case.get("policy_version"),
            recipients=[RecipientStatus(**r) for r in await repository.recipients(deps.pool, incident_id)],
            timeline=[TimelineEntry(seq=e.seq, event_type=e.event_type, recorded_at=e.recorded_at,
                                    summary=e.summary, hash=e.hash) for e in entries],
            chain=ChainStatus(valid=broken is None, length=len(entries), head=entries[-1].hash,
                              first_broken_seq=broken),
            personal_data=personal,
        )

    return app

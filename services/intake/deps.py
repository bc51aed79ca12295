"""What intake's routes share: the dependencies, the Idempotency-Key header, the answer."""

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Header
from fastapi.responses import JSONResponse
from faststream.nats import NatsBroker
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from services.intake.auth import SchoolAuth
from services.intake.ratelimit import RateLimiter
from services.intake.submissions import Answer, Submissions
from shared.bus_seal import Sealing
from shared.config import Settings
from shared.crypto import Sealer
from shared.errors import ErrorBody


@dataclass
class IntakeDeps:
    settings: Settings
    pool: asyncpg.Pool
    broker: NatsBroker
    tracer_provider: TracerProvider
    registry: CollectorRegistry
    auth: SchoolAuth
    submissions: Submissions
    code_limiter: RateLimiter  # per access code and per help case code
    help_sealer: Sealer | None  # None without INTAKE_DATA_KEY: help requests answer 503
    sealing: Sealing  # the archive's and notify's public keys: personal sections sealed for them
    address_limiter: RateLimiter | None = None  # per client address and access code, under code_limiter


IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key", min_length=8, max_length=128, pattern=r"^[\x21-\x7e]+$",
        description="Unique per report (e.g. a UUID). Retrying with the same key and body returns the "
        "original answer; the same key with another body is refused with 409.",
    ),
]

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        401: "No valid API key.", 403: "The key belongs to another school.",
        409: "Idempotency-Key reused for a different request.", 413: "Body too large.",
        422: "Invalid fields, each named with a reason in English and Chinese.",
        429: "Rate limit; see Retry-After.", 503: "Not made durable; retry later with the same key.",
    }.items()
}


def respond(answer: Answer) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)

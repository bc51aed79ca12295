"""Accepting a submission once: idempotency across processes and restarts, then a durable publish."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import BaseModel

from services.intake import repository
from services.intake.auth import unavailable
from shared.bus import safe_error
from shared.contracts.base import Event
from shared.errors import ApiError
from shared.jetstream import JetStreamPublisher

log = logging.getLogger("antibully.intake")


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool


def fingerprint(endpoint: str, body: BaseModel) -> bytes:
    return hashlib.sha256(endpoint.encode() + b"\n" + body.model_dump_json().encode()).digest()


class Submissions:
    def __init__(self, pool: asyncpg.Pool, publisher: JetStreamPublisher, publish_timeout_s: float,
                 retry_after_s: int, registry: CollectorRegistry) -> None:
        self.pool = pool
        self.publisher = publisher
        self.publish_timeout_s = publish_timeout_s
        self.retry_after_s = retry_after_s
        self.outcomes = Counter("antibully_intake_submissions", "Submissions by endpoint and outcome",
                                ["endpoint", "outcome"], registry=registry)
        # FastStream's publish metrics do not see intake's direct publishes (shared/jetstream.py)
        self.publish_seconds = Histogram("antibully_intake_publish_seconds", "Publish to PubAck, by subject",
                                         ["subject"], registry=registry,
                                         buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))

    async def once(
        self, school_id: str, key: str, endpoint: str, body: BaseModel,
        accept: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
        record: Callable[[int, dict[str, Any]], Awaitable[None]] | None = None,
    ) -> Answer:
        """Run `accept` for a new key, replay the stored answer for a repeated one, 409 for a reused one.

        `record` stores the answer together with what the endpoint must still write once the submission is
        durable (one round trip instead of two); its failure fails the request (503: retry with the key).
        """
        mark = fingerprint(endpoint, body)
        try:
            prior = await repository.claim_request(self.pool, school_id, key, endpoint, mark)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("idempotency store failed: %s", safe_error(exc))
            raise unavailable(self.retry_after_s) from exc
        if prior is not None and prior.fingerprint != mark:
            self.outcomes.labels(endpoint, "conflict").inc()
            raise ApiError(409, "idempotency_key_reused",
                           "This Idempotency-Key was already used for a different request.",
                           "该 Idempotency-Key 已用于另一个不同的请求，请为新请求使用新的密钥。")
        if prior is not None and prior.status_code is not None and prior.response is not None:
            self.outcomes.labels(endpoint, "replayed").inc()
            return Answer(prior.status_code, prior.response, replayed=True)
        status, response = await accept()
        if record is not None:
            await record(status, response)
            self.outcomes.labels(endpoint, "accepted").inc()
            return Answer(status, response, replayed=False)
        try:
            await repository.complete_request(self.pool, school_id, key, status, response)
        except (OSError, asyncpg.PostgresError) as exc:
            # Durable already; a retry re-publishes (deduplicated) and records the answer then.
            log.warning("could not record the answer for a durable submission: %s", safe_error(exc))
        self.outcomes.labels(endpoint, "accepted").inc()
        return Answer(status, response, replayed=False)

    async def publish(self, event: Event) -> None:
        """Return only once JetStream has the event on disk; 503 otherwise."""
        try:
            with self.publish_seconds.labels(event.routing_subject).time():
                await self.publisher.publish(event, self.publish_timeout_s)
        except Exception as exc:
            self.outcomes.labels(event.subject, "unavailable").inc()
            log.warning("publish of %s failed: %s", event.event_id, safe_error(exc))
            raise unavailable(self.retry_after_s) from exc

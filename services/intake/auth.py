"""Who is calling: a school's API key, checked against its hash, rate-limited per key."""

import logging
import math
from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Header
from prometheus_client import CollectorRegistry, Counter

from services.intake import keys, repository
from services.intake.ratelimit import RateLimiter
from shared.bus import safe_error
from shared.errors import ApiError

log = logging.getLogger("antibully.intake.auth")


def unavailable(retry_after_s: int) -> ApiError:
    return ApiError(503, "unavailable", "The report could not be made durable; retry with the same Idempotency-Key.",
                    "报告暂未能可靠保存，请使用相同的 Idempotency-Key 稍后重试。",
                    headers={"Retry-After": str(retry_after_s)})


def rate_limited(wait_s: float) -> ApiError:
    return ApiError(429, "rate_limited", "Too many requests; retry after the time given in Retry-After.",
                    "请求过于频繁，请按 Retry-After 指定的时间后重试。",
                    headers={"Retry-After": str(max(1, math.ceil(wait_s)))})


@dataclass(frozen=True)
class Principal:
    school_id: str
    key_id: str

    def require_school(self, school_id: str) -> None:
        if school_id != self.school_id:
            raise ApiError(403, "forbidden", "This key may only act for its own school.",
                           "该密钥只能用于本校的报告。")


class SchoolAuth:
    """FastAPI dependency: `Authorization: Bearer ab_<key id>_<secret>` → Principal, or 401/429/503."""

    def __init__(self, pool: asyncpg.Pool, limiter: RateLimiter, registry: CollectorRegistry,
                 retry_after_s: int) -> None:
        self.pool = pool
        self.limiter = limiter
        self.retry_after_s = retry_after_s
        self.failures = Counter("antibully_intake_auth_failures", "Failed authentications", ["reason"],
                                registry=registry)

    def _refuse(self, reason: str, key_id: str | None) -> ApiError:
        self.failures.labels(reason).inc()
        log.warning("authentication refused (%s) for key id %s", reason, key_id or "-")
        return ApiError(401, "unauthorized", "A valid 'Authorization: Bearer <API key>' header is required.",
                        "需要有效的 API 密钥（Authorization: Bearer <密钥>）。",
                        headers={"WWW-Authenticate": "Bearer"})

    async def __call__(self, authorization: Annotated[str | None, Header()] = None) -> Principal:
        token = (authorization or "").removeprefix("Bearer ").strip()
        parsed = keys.parse(token)
        if parsed is None:
            raise self._refuse("missing" if not token else "malformed", None)
        key_id, secret = parsed
        try:
            found = await repository.active_key(self.pool, key_id)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("key lookup failed: %s", safe_error(exc))
            raise unavailable(self.retry_after_s) from exc
        if found is None or not keys.matches(secret, found[1]):
            raise self._refuse("unknown_or_revoked", key_id)
        wait = self.limiter.acquire(key_id)
        if wait is not None:
            raise rate_limited(wait)
        return Principal(school_id=found[0], key_id=key_id)

"""Who is calling: a school's API key, checked against its hash, or a school staff member's identity assertion
signed by the archive (shared/assertions.py); rate-limited per key or per account."""

import logging
import math
from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Header
from prometheus_client import CollectorRegistry, Counter

from services.intake import keys, repository
from services.intake.ratelimit import RateLimiter
from shared import assertions
from shared.bus import safe_error
from shared.contracts.base import utcnow
from shared.errors import ApiError
from shared.identity import OfficialRole, StaffTitle
from shared.keyring import KeyRing

AUDIENCE = "intake"

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
    """A school acting by its API key, or one of its staff (`account_id`, `title`) by an identity assertion;
    `key_id` is then "staff:<account id>"."""

    school_id: str
    key_id: str
    account_id: str | None = None
    title: StaffTitle | None = None

    def require_school(self, school_id: str) -> None:
        if school_id != self.school_id:
            raise ApiError(403, "forbidden", "This key or account may only act for its own school.",
                           "该密钥或账号只能用于本校的事务。")


class SchoolAuth:
    """FastAPI dependency: `Authorization: Bearer ab_<key id>_<secret>` or `Bearer abi_<assertion>` → Principal,
    or 401/429/503. Assertions are accepted only with `public_key` (IDENTITY_PUBLIC_KEY) set."""

    def __init__(self, pool: asyncpg.Pool, limiter: RateLimiter, registry: CollectorRegistry,
                 retry_after_s: int, public_key: bytes | KeyRing | None = None) -> None:
        self.pool = pool
        self.limiter = limiter
        self.retry_after_s = retry_after_s
        self.public_key = public_key
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
        if token.startswith(assertions.PREFIX):
            return self._staff(token)
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

    def _staff(self, token: str) -> Principal:
        """A school's staff member, as the archive vouches for them: no database involved."""
        claims = assertions.verify(token, self.public_key, utcnow(), AUDIENCE) if self.public_key else None
        if claims is None:
            raise self._refuse("bad_assertion" if self.public_key else "assertions_off", None)
        if claims.role is not OfficialRole.school or claims.school_id is None:
            raise self._refuse("not_school_staff", None)
        key_id = f"staff:{claims.sub}"
        wait = self.limiter.acquire(key_id)
        if wait is not None:
            raise rate_limited(wait)
        return Principal(school_id=claims.school_id, key_id=key_id, account_id=claims.sub, title=claims.title)

"""What every archive route needs: the pool, a clock, the reader's identity and their stated purpose."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import unquote

import asyncpg
from fastapi import Header, Query
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from services.archive.accounts import Clock, LoginPolicy, Verifications, official_from_token
from shared.config import Settings
from shared.contracts.base import utcnow
from shared.errors import ApiError, ErrorBody, FieldError
from shared.identity import Official

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No valid bearer token."},
    422: {"model": ErrorBody, "description": "An invalid field, or no stated purpose."},
}
PURPOSE_MIN, PURPOSE_MAX = 2, 200


@dataclass
class ArchiveDeps:
    settings: Settings
    pool: asyncpg.Pool
    tracer_provider: TracerProvider
    registry: CollectorRegistry
    clock: Clock = field(default=utcnow)
    kick: Callable[[], None] = field(default=lambda: None)  # publish what an act enqueued, now
    verifications: Verifications | None = None  # made from the settings: one set of slots per process

    def __post_init__(self) -> None:
        if self.verifications is None:
            self.verifications = Verifications(self.settings.archive_login_verifications,
                                               self.settings.archive_login_busy_wait_s)

    def login_policy(self) -> LoginPolicy:
        s = self.settings
        return LoginPolicy(timedelta(seconds=s.archive_token_ttl_s), s.archive_login_max_failures,
                           timedelta(seconds=s.archive_login_lock_s), s.archive_login_per_address,
                           timedelta(seconds=s.archive_login_address_window_s), self.verifications)

    async def official(self, authorization: Annotated[str | None, Header()] = None) -> Official:
        """The reader behind `Authorization: Bearer <token>`; 401 otherwise. Each use extends the session."""
        token = bearer_token(authorization)
        found = await official_from_token(self.pool, token, self.clock(), self.login_policy().token_ttl) \
            if token else None
        if found is None:
            raise ApiError(401, "unauthorized", "A valid 'Authorization: Bearer <token>' header is required; "
                           "get a token from POST /v1/auth/token.", "需要有效的身份凭证，请先登录获取令牌。",
                           headers={"WWW-Authenticate": "Bearer"})
        return found


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header, or "" for any other header."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def stated_purpose(
    x_access_purpose: Annotated[str | None, Header(description="Why you read this (percent-encode non-ASCII).")]
    = None,
    purpose: Annotated[str | None, Query(description="The same, as a query parameter.")] = None,
) -> str:
    """Every read states its purpose, which the access log keeps with the reader's name."""
    text = (unquote(x_access_purpose) if x_access_purpose is not None else purpose or "").strip()
    if not PURPOSE_MIN <= len(text) <= PURPOSE_MAX:
        field_name = "header.X-Access-Purpose" if x_access_purpose is not None else "query.purpose"
        raise ApiError(422, "purpose_required", "Every read must state its purpose.", "每次查阅都必须说明查阅目的。",
                       errors=[FieldError(
                           field=field_name,
                           reason=f"State why you read this in the X-Access-Purpose header or the purpose query "
                                  f"parameter ({PURPOSE_MIN}–{PURPOSE_MAX} characters).",
                           reason_zh=f"请在 X-Access-Purpose 请求头或 purpose 参数中说明查阅目的"
                                     f"（{PURPOSE_MIN}–{PURPOSE_MAX} 个字符）。")])
    return text

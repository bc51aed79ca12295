"""Officials log in (an account and password, JSON or an HTML form) for a bearer token that ends when left
idle, log out, and get signed identity assertions other services (intake) accept for them."""

import json
import math
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from services.archive.accounts import Busy, Issued, login, logout
from services.archive.deps import ERRORS, ArchiveDeps, BearerCredentials, token_of
from services.archive.routes.accounts import EXISTING_ACCOUNT_ID
from services.archive.views import AssertionIssued, TokenIssued
from shared import assertions
from shared.addresses import limit_key
from shared.errors import ApiError, ErrorBody, FieldError, field_errors
from shared.identity import Official

ASSERTION_TTL = timedelta(seconds=120)
ASSERTION_AUDIENCE = "intake"


class Credentials(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OAuth2 password-grant forms also send grant_type, scope…
    username: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True,
                                               pattern=EXISTING_ACCOUNT_ID)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]


_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": Credentials.model_json_schema()},
    "application/x-www-form-urlencoded": {"schema": Credentials.model_json_schema()},
}}}


async def _credentials(request: Request) -> Credentials:
    raw = await request.body()
    try:
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            data: Any = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        else:
            data = json.loads(raw)
        return Credentials.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                       errors=field_errors(list(exc.errors()))) from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                       errors=[FieldError(field="body", reason="Send username and password as JSON or a form.",
                                          reason_zh="请以 JSON 或表单提交 username 和 password。")]) from None


def router(deps: ArchiveDeps) -> APIRouter:
    r = APIRouter(tags=["auth"])
    failures = Counter("antibully_archive_login_failures", "Refused logins to the archive", ["reason"],
                       registry=deps.registry)

    @r.post("/v1/auth/token", response_model=TokenIssued, openapi_extra=_BODY, summary="Log in (officials)",
            responses={401: {"model": ErrorBody}, 422: {"model": ErrorBody}, 429: {"model": ErrorBody},
                       503: {"model": ErrorBody}})
    async def token(request: Request) -> TokenIssued:
        """A bearer token for the archive's API. It ends after ARCHIVE_TOKEN_TTL_S (15 min by default) unused:
        each authenticated request extends it. Repeated failures lock the name for a while (429), whatever
        the password; so do too many attempts from one address. 503 while every verification slot is busy."""
        creds = await _credentials(request)
        now = deps.clock()
        # uvicorn puts X-Forwarded-For's client here when the peer is in FORWARDED_ALLOW_IPS (loopback by
        # default: the console on the same host, a local reverse proxy), and the peer's address otherwise.
        address = limit_key(request.client.host) if request.client else ""
        outcome = await login(deps.pool, creds.username, creds.password, deps.login_policy(), now, address)
        if isinstance(outcome, Issued):
            return TokenIssued(access_token=outcome.token, expires_in=deps.settings.archive_token_ttl_s,
                               expires_at=outcome.expires_at, official=outcome.official)
        if isinstance(outcome, Busy):
            failures.labels("busy").inc()
            raise ApiError(503, "login_busy", "Too many logins at once; try again in a moment.",
                           "同时登录的人数过多，请稍后再试。", headers={"Retry-After": str(outcome.retry_after_s)})
        if outcome.by_address and outcome.locked_until is not None:
            failures.labels("address").inc()
            wait = max(1, math.ceil((outcome.locked_until - now).total_seconds()))
            raise ApiError(429, "too_many_attempts", "Too many logins from this address; try again later.",
                           f"此地址登录尝试过多，请 {math.ceil(wait / 60)} 分钟后再试。",
                           headers={"Retry-After": str(wait)})
        if outcome.locked_until is not None:
            failures.labels("locked").inc()
            wait = max(1, math.ceil((outcome.locked_until - now).total_seconds()))
            raise ApiError(429, "login_locked", "Too many failed logins; try again later.",
                           f"登录失败次数过多，请 {math.ceil(wait / 60)} 分钟后再试。",
                           headers={"Retry-After": str(wait)})
        failures.labels("wrong_credentials").inc()
        raise ApiError(401, "invalid_credentials", "Wrong account or password.", "账号或密码错误。",
                       headers={"WWW-Authenticate": "Bearer"})

    seed = assertions.seed_from_b64(deps.settings.identity_signing_key) if deps.settings.identity_signing_key \
        else None
    Authenticated = Annotated[Official, Depends(deps.official)]  # noqa: N806 - a type alias

    @r.post("/v1/auth/logout", status_code=204, responses={401: ERRORS[401]}, summary="Log out (officials)")
    async def end(official: Authenticated, credentials: BearerCredentials = None) -> Response:
        """The bearer token stops working now."""
        await logout(deps.pool, token_of(credentials))
        return Response(status_code=204)

    @r.post("/v1/auth/assertion", response_model=AssertionIssued, summary="A signed identity assertion for intake",
            responses={401: ERRORS[401], 503: {"model": ErrorBody}})
    async def assertion(official: Authenticated) -> AssertionIssued:
        """Who the bearer is, signed with IDENTITY_SIGNING_KEY for intake (`Authorization: Bearer abi_…`),
        valid for 120 s: ask for a new one for each call, or when it is about to expire."""
        if seed is None:
            raise ApiError(503, "not_configured", "Identity assertions are not configured here "
                           "(IDENTITY_SIGNING_KEY).", "本服务尚未配置身份断言签名密钥。",
                           headers={"Retry-After": "3600"})
        now = deps.clock()
        expires_at = now + ASSERTION_TTL
        claims = assertions.Claims(
            sub=official.account_id, name=official.display_name, role=official.role, title=official.title,
            school_id=official.school_id, jurisdiction=official.jurisdiction, iat=int(now.timestamp()),
            exp=int(expires_at.timestamp()), aud=ASSERTION_AUDIENCE)
        return AssertionIssued(assertion=assertions.sign(claims, seed), expires_at=expires_at)

    return r

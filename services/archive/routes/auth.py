"""Officials log in: an account and password (JSON or an HTML form) for a short-lived bearer token."""

import json
import math
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from services.archive.accounts import Issued, login
from services.archive.deps import ArchiveDeps
from services.archive.views import TokenIssued
from shared.errors import ApiError, ErrorBody, FieldError, field_errors


class Credentials(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OAuth2 password-grant forms also send grant_type, scope…
    username: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
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
            responses={401: {"model": ErrorBody}, 422: {"model": ErrorBody}, 429: {"model": ErrorBody}})
    async def token(request: Request) -> TokenIssued:
        """A bearer token for the archive's read API, valid for ARCHIVE_TOKEN_TTL_S (15 min by default).
        Repeated failures lock the name for a while (429), whatever the password."""
        creds = await _credentials(request)
        now = deps.clock()
        outcome = await login(deps.pool, creds.username, creds.password, deps.login_policy(), now)
        if isinstance(outcome, Issued):
            return TokenIssued(access_token=outcome.token, expires_in=deps.settings.archive_token_ttl_s,
                               expires_at=outcome.expires_at, official=outcome.official)
        if outcome.locked_until is not None:
            failures.labels("locked").inc()
            wait = max(1, math.ceil((outcome.locked_until - now).total_seconds()))
            raise ApiError(429, "login_locked", "Too many failed logins; try again later.",
                           f"登录失败次数过多，请 {math.ceil(wait / 60)} 分钟后再试。",
                           headers={"Retry-After": str(wait)})
        failures.labels("wrong_credentials").inc()
        raise ApiError(401, "invalid_credentials", "Wrong account or password.", "账号或密码错误。",
                       headers={"WWW-Authenticate": "Bearer"})

    return r

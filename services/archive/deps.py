"""What every archive route needs: the pool, a clock, the reader's identity and their stated purpose."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import unquote

import asyncpg
from fastapi import Header, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from pydantic import BeforeValidator, WithJsonSchema

from services.archive.accounts import Clock, LoginPolicy, Verifications, official_from_token
from services.archive.campaign_files import checked_campaigns
from shared.campaign_plan import Campaign
from shared.config import Settings
from shared.contracts.base import utcnow
from shared.errors import ApiError, ErrorBody, FieldError
from shared.identity import Official

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No valid bearer token."},
    422: {"model": ErrorBody, "description": "An invalid field, or no stated purpose."},
}
# what every campaign record's filing may also answer (services/archive/campaign_filing.py enqueue_record)
NOT_STARTED_DOC: dict[int | str, dict[str, Any]] = {409: {"model": ErrorBody, "description": (
    "`campaign_not_started`: the campaign has not been started in the school's jurisdiction.")}}
PURPOSE_MIN, PURPOSE_MAX = 2, 200
# Text the archive keeps as it is: something besides blanks once stripped, and no NUL (PostgreSQL refuses it: a
# backend error, 503, before this was stated and checked)
TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"
# What the document says of a stated purpose: 2–200 characters once stripped (two non-blank ones at least).
PURPOSE_SCHEMA: dict[str, Any] = {"minLength": PURPOSE_MIN, "maxLength": PURPOSE_MAX, "pattern": r"\S[\s\S]*\S"}
DAY = r"^2\d{3}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"  # a day of this millennium (year 1 reached PostgreSQL as 503)
_ISO_DATE = re.compile(DAY)
_ISO_DATETIME = re.compile(r"2\d{3}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:\d{2})?")


def _iso_date_text(value: object) -> object:
    """A day as the document says (YYYY-MM-DD, 2000–2999), not whatever else pydantic would read as one (`0`, a
    timestamp)."""
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("a day as YYYY-MM-DD, from 2000 to 2999")
    return value


def _iso_datetime_text(value: object) -> object:
    """A time as ISO 8601 text (the zone may be left out; 2000–2999), not a number of seconds."""
    if isinstance(value, str) and not _ISO_DATETIME.fullmatch(value):
        raise ValueError("a time as YYYY-MM-DDTHH:MM[:SS][zone], from 2000 to 2999")
    return value


# The document's security scheme; the check (and its 401) is `ArchiveDeps.official`'s.
BEARER = HTTPBearer(auto_error=False, scheme_name="official",
                    description="An official's token from POST /v1/auth/token (ends when left idle).")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]


def token_of(credentials: HTTPAuthorizationCredentials | None) -> str:
    return credentials.credentials.strip() if credentials is not None else ""


IsoDate = Annotated[date, BeforeValidator(_iso_date_text), WithJsonSchema({"type": "string", "format": "date",
                                                                           "pattern": r"^2\d{3}-"})]
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime_text),
                        WithJsonSchema({"type": "string", "format": "date-time", "pattern": r"^2\d{3}-"})]


@dataclass
class ArchiveDeps:
    settings: Settings
    pool: asyncpg.Pool
    tracer_provider: TracerProvider
    registry: CollectorRegistry
    clock: Clock = field(default=utcnow)
    kick: Callable[[], None] = field(default=lambda: None)  # publish what an act enqueued, now
    verifications: Verifications | None = None  # made from the settings: one set of slots per process
    campaigns: dict[str, Campaign] | None = None  # CAMPAIGNS_DIR, read once (campaign_files.checked_campaigns)

    def __post_init__(self) -> None:
        if self.campaigns is None:
            self.campaigns = checked_campaigns(self.settings.campaigns_dir, self.settings.directory_file)
        if self.verifications is None:
            self.verifications = Verifications(self.settings.archive_login_verifications,
                                               self.settings.archive_login_busy_wait_s)

    def login_policy(self) -> LoginPolicy:
        s = self.settings
        return LoginPolicy(timedelta(seconds=s.archive_token_ttl_s), s.archive_login_max_failures,
                           timedelta(seconds=s.archive_login_lock_s), s.archive_login_per_address,
                           timedelta(seconds=s.archive_login_address_window_s), self.verifications)

    async def official(self, credentials: BearerCredentials = None) -> Official:
        """The reader behind `Authorization: Bearer <token>`; 401 otherwise. Each use extends the session."""
        token = token_of(credentials)
        found = await official_from_token(self.pool, token, self.clock(), self.login_policy().token_ttl) \
            if token else None
        if found is None:
            raise ApiError(401, "unauthorized", "A valid 'Authorization: Bearer <token>' header is required; "
                           "get a token from POST /v1/auth/token.", "需要有效的身份凭证，请先登录获取令牌。",
                           headers={"WWW-Authenticate": "Bearer"})
        return found


async def stated_purpose(
    request: Request,
    x_access_purpose: Annotated[str | None, Header(
        description=f"Why you read this, {PURPOSE_MIN}–{PURPOSE_MAX} characters once decoded and stripped "
                    "(percent-encode non-ASCII). This header or the `purpose` parameter is required (422).",
        json_schema_extra=PURPOSE_SCHEMA)] = None,
    purpose: Annotated[str | None, Query(description="The same, as a query parameter (the header wins).",
                                         json_schema_extra=PURPOSE_SCHEMA)] = None,
) -> str:
    """Every read states its purpose, which the access log keeps with the reader's name.

    The limits are checked here (not by FastAPI) since the header counts decoded characters; the document
    states them all the same."""
    given = {"header.X-Access-Purpose": unquote(x_access_purpose).strip() if x_access_purpose is not None
             else None, "query.purpose": purpose.strip() if purpose is not None else None}
    if len(request.query_params.getlist("purpose")) > 1:  # one purpose, not the last of several
        given["query.purpose"] = ""
    if given["header.X-Access-Purpose"] is None and given["query.purpose"] is None:
        given["query.purpose"] = ""
    # each purpose given must be one (an invalid parameter is refused even when the header states another)
    for field_name, text in given.items():
        if text is not None and not PURPOSE_MIN <= len(text) <= PURPOSE_MAX:
            raise ApiError(422, "purpose_required", "Every read must state its purpose.",
                           "每次查阅都必须说明查阅目的。", errors=[FieldError(
                               field=field_name,
                               reason=f"State why you read this in the X-Access-Purpose header or the purpose query "
                                      f"parameter ({PURPOSE_MIN}–{PURPOSE_MAX} characters).",
                               reason_zh=f"请在 X-Access-Purpose 请求头或 purpose 参数中说明查阅目的"
                                         f"（{PURPOSE_MIN}–{PURPOSE_MAX} 个字符）。")])
    text = given["header.X-Access-Purpose"] or given["query.purpose"] or ""
    return text

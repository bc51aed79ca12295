"""School staff's personal accounts (issue 13): the bureau and a school's head list, create and disable them
(services/archive/staff.py says who may manage whom)."""

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.archive import repository
from services.archive.accounts import MIN_PASSWORD, hash_password
from services.archive.deps import ERRORS, TEXT, ArchiveDeps
from services.archive.staff import lists_accounts, may_manage, may_see
from shared.directory import load_directory
from shared.errors import ApiError, ErrorBody, FieldError
from shared.identity import Official, OfficialRole, StaffTitle

log = logging.getLogger("antibully.archive.accounts")
ACCOUNT_ID = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$"
# Any account's id (the CLI's may be older or freer than ACCOUNT_ID): no control characters, which PostgreSQL
# would refuse (a NUL) as a backend error
EXISTING_ACCOUNT_ID = r"^[^\x00-\x1f\x7f]{1,100}$"


class AccountView(BaseModel):
    account_id: str
    display_name: str
    role: OfficialRole
    title: StaffTitle | None
    school_id: str | None
    disabled: bool


class NewAccount(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: Annotated[str, StringConstraints(pattern=ACCOUNT_ID)] = Field(
        description="The login name: letters, digits and . _ @ -, at most 100.")
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True,
                                                   pattern=TEXT)]
    title: StaffTitle
    school_id: str | None = Field(default=None, description="The bureau names the school; a head always "
                                  "creates accounts for its own school.")
    password: Annotated[str, StringConstraints(min_length=MIN_PASSWORD, max_length=200)]


FORBIDDEN = ApiError(403, "forbidden", "Only the bureau, for its jurisdiction's schools, and a school's head, "
                     "for its teachers and counsellors, manage accounts.",
                     "只有教育局（本辖区学校）和校长（本校班主任、心理辅导老师）可以管理账号。")
NOT_FOUND = ApiError(404, "not_found", "No account you manage has this id.", "未找到您可管理的该账号。")
_RESPONSES: dict[int | str, dict[str, object]] = {**ERRORS, 403: {"model": ErrorBody}}


def _invalid(field: str, reason: str, reason_zh: str) -> ApiError:
    return ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                    errors=[FieldError(field=field, reason=reason, reason_zh=reason_zh)])


def _view(row: dict[str, object]) -> AccountView:
    return AccountView.model_validate(row, from_attributes=False)


def router(deps: ArchiveDeps) -> APIRouter:
    r = APIRouter(tags=["accounts"])
    directory = load_directory(deps.settings.directory_file)
    Manager = Annotated[Official, Depends(deps.official)]  # noqa: N806 - a type alias

    def manager(actor: Official) -> Official:
        if not lists_accounts(actor):
            raise FORBIDDEN
        return actor

    @r.get("/v1/accounts", response_model=list[AccountView], responses=_RESPONSES, summary="Accounts you manage")
    async def list_accounts(actor: Manager) -> list[AccountView]:
        """The bureau: every account of its jurisdiction. A school's head: its school's staff."""
        manager(actor)
        rows = await repository.list_officials(deps.pool, actor.jurisdiction, None) \
            if actor.role is OfficialRole.bureau else await repository.list_officials(deps.pool, None, actor.school_id)
        return [_view(row) for row in rows]

    @r.post("/v1/accounts", status_code=201, response_model=AccountView,
            responses=_RESPONSES | {409: {"model": ErrorBody}}, summary="Create a school staff account")
    async def create(body: NewAccount, actor: Manager) -> AccountView:
        """The bureau creates staff of any title for a school of its jurisdiction; a head creates head
        teachers and counsellors for its own school."""
        manager(actor)
        if actor.role is OfficialRole.bureau:
            if body.school_id is None:
                raise _invalid("school_id", "Name the school the account belongs to.", "请填写账号所属学校。")
            if body.school_id not in directory.schools:
                raise _invalid("school_id", "Not a school in the directory.", "通讯录中没有该学校。")
            school_id = body.school_id
        else:
            assert actor.school_id is not None  # a school account always names its school
            if body.school_id not in (None, actor.school_id):
                raise FORBIDDEN
            school_id = actor.school_id
        jurisdiction = directory.jurisdiction_of(school_id) if school_id in directory.schools \
            else actor.jurisdiction
        if not may_manage(actor, jurisdiction, school_id, body.title):
            raise FORBIDDEN
        password_hash = await asyncio.to_thread(hash_password, body.password)
        if not await repository.add_official(deps.pool, body.account_id, body.display_name, OfficialRole.school.value,
                                             jurisdiction, school_id, body.title.value, password_hash):
            raise ApiError(409, "account_exists", "An account with this id exists already.", "该账号已存在。")
        log.info("account %s (%s) created by %s", body.account_id, body.title.value, actor.account_id)
        return AccountView(account_id=body.account_id, display_name=body.display_name, role=OfficialRole.school,
                           title=body.title, school_id=school_id, disabled=False)

    @r.post("/v1/accounts/{account_id}/disable", status_code=204, responses=_RESPONSES | {404: {"model": ErrorBody}},
            summary="Disable a school staff account")
    async def disable(account_id: Annotated[str, Path(pattern=EXISTING_ACCOUNT_ID)], actor: Manager) -> Response:
        """No more logins, and the account's sessions end now. Disabling a disabled account changes nothing."""
        manager(actor)
        target = await repository.official_by_id(deps.pool, account_id)
        if target is None or not may_see(actor, str(target["jurisdiction"]), target["school_id"]):
            raise NOT_FOUND
        if target["role"] != OfficialRole.school.value or not may_manage(
                actor, str(target["jurisdiction"]), str(target["school_id"]), StaffTitle(str(target["title"]))):
            raise FORBIDDEN
        async with deps.pool.acquire() as conn, conn.transaction():
            await repository.disable_official(conn, account_id)
        log.info("account %s disabled by %s", account_id, actor.account_id)
        return Response(status_code=204)

    return r

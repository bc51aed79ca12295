"""`antibully officials add`: officials' local accounts for the archive (until the bureau's SSO)."""

from __future__ import annotations

import getpass
import os
import sys
from typing import TextIO

from shared.identity import OfficialRole, StaffTitle

PASSWORD_ENV = "ANTIBULLY_OFFICIAL_PASSWORD"


class AccountError(ValueError):
    pass


def check_account(role: str, school_id: str | None, title: str | None = None
                  ) -> tuple[OfficialRole, StaffTitle | None]:
    """A school account names its school and has a staff title (head unless given); no other role has either."""
    try:
        parsed = OfficialRole(role)
    except ValueError:
        raise AccountError(f"unknown role {role!r}; one of: {', '.join(r.value for r in OfficialRole)}") from None
    if (parsed is OfficialRole.school) != (school_id is not None):
        raise AccountError("--school is required for a school account and not allowed for any other role")
    if parsed is not OfficialRole.school:
        if title is not None:
            raise AccountError("--title is only for a school account")
        return parsed, None
    try:
        return parsed, StaffTitle(title or StaffTitle.head)
    except ValueError:
        raise AccountError(f"unknown title {title!r}; one of: {', '.join(t.value for t in StaffTitle)}") from None


async def add_official(database_url: str, account_id: str, *, role: str, jurisdiction: str, name: str,
                       password: str, school_id: str | None = None, title: str | None = None) -> None:
    """Create an account, or replace its details and password (a re-enabled account, a reset password).
    A school account is its head unless `title` says otherwise."""
    from services.archive import repository
    from services.archive.accounts import hash_password
    from shared.db import create_pool

    parsed, staff_title = check_account(role, school_id, title)
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    pool = await create_pool(database_url, repository.SCHEMA, max_size=2)
    try:
        await repository.upsert_official(pool, account_id, name, parsed.value, jurisdiction, school_id,
                                         password_hash, staff_title.value if staff_title else None)
    finally:
        await pool.close()


async def disable_official(database_url: str, account_id: str) -> bool:
    """Someone left or lost their password: no more logins, and open tokens stop working."""
    from services.archive import repository
    from shared.db import create_pool

    pool = await create_pool(database_url, repository.SCHEMA, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            return await repository.disable_official(conn, account_id)
    finally:
        await pool.close()


def read_password(from_stdin: bool, stdin: TextIO | None = None) -> str:
    """From stdin (scripts), else $ANTIBULLY_OFFICIAL_PASSWORD, else asked twice on the terminal."""
    if from_stdin:
        return (stdin or sys.stdin).readline().rstrip("\r\n")
    if env := os.environ.get(PASSWORD_ENV):
        return env
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the two passwords differ")
    return first

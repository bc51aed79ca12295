"""Officials' local accounts: argon2id passwords, bearer tokens that end when left idle, locking after failures.

`official_from_token` is the one place a bearer token becomes an Official: the bureau's SSO
replaces its body (verify the SSO's token, map its claims), and nothing else changes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.archive import repository
from shared.db import Executor
from shared.identity import Official, OfficialRole, StaffTitle

log = logging.getLogger("antibully.archive.auth")

Clock = Callable[[], datetime]
TOKEN_PREFIX = "abt_"
MIN_PASSWORD = 12

_hasher = PasswordHasher()
# Verified against when the account does not exist, so both answers cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def name_digest(account_id: str) -> str:
    """What failed-login counting and logs use instead of the login name."""
    return hashlib.sha256(account_id.strip().lower().encode()).hexdigest()


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Issued:
    token: str
    expires_at: datetime
    official: Official


@dataclass(frozen=True)
class Refused:
    locked_until: datetime | None  # set: too many failures, try again after this


@dataclass(frozen=True)
class LoginPolicy:
    token_ttl: timedelta
    max_failures: int
    lock: timedelta


def _official(row: dict[str, object]) -> Official:
    return Official(account_id=str(row["account_id"]), display_name=str(row["display_name"]),
                    role=OfficialRole(str(row["role"])), jurisdiction=str(row["jurisdiction"]),
                    school_id=str(row["school_id"]) if row["school_id"] is not None else None,
                    title=StaffTitle(str(row["title"])) if row.get("title") is not None else None)


async def login(pool: Executor, account_id: str, password: str, policy: LoginPolicy, now: datetime
                ) -> Issued | Refused:
    """A new token for the right password; a locked name is refused even with the right one."""
    digest = name_digest(account_id)
    if locked := await repository.login_locked_until(pool, digest, now):
        log.warning("login refused: account #%s locked", digest[:12])
        return Refused(locked)
    row = await repository.official_login(pool, account_id)
    matched = await asyncio.to_thread(_verify, str(row["password_hash"]) if row else _DUMMY_HASH, password)
    if not matched or row is None:
        locked = await repository.record_login_failure(pool, digest, now, policy.max_failures,
                                                       policy.lock.total_seconds())
        log.warning("login failed: account #%s%s", digest[:12], " now locked" if locked else "")
        return Refused(locked)
    await repository.clear_login_failures(pool, digest)
    if _hasher.check_needs_rehash(str(row["password_hash"])):
        await repository.set_password_hash(pool, account_id, _hasher.hash(password))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now + policy.token_ttl
    await repository.purge_sessions(pool, now)
    await repository.add_session(pool, _token_digest(token), account_id, now, expires_at)
    return Issued(token, expires_at, _official(row))


async def official_from_token(pool: Executor, token: str, now: datetime, idle: timedelta) -> Official | None:
    """The official a bearer token stands for, or None (unknown, expired, or the account disabled).
    Each use keeps the session open for another `idle`."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = await repository.session_official(pool, _token_digest(token), now, now + idle)
    return _official(row) if row else None


async def logout(pool: Executor, token: str) -> None:
    """The token stops working now."""
    await repository.end_session(pool, _token_digest(token))

"""Officials' local accounts: argon2id passwords, bearer tokens that end when left idle, locking after failures.

A login is throttled before its password is verified (issue 14): the client address's attempts in a window
are counted, the attempt is counted against the name in one statement (so parallel guesses cannot all pass a
lock check made before any of them failed), and at most a few argon2 verifications (64 MiB each) run at once.

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
    by_address: bool = False  # the client address's attempts, not the name's failures


@dataclass(frozen=True)
class Busy:
    """Every verification slot stayed taken: come back shortly (the name's failures were not counted)."""

    retry_after_s: int = 1


class Verifications:
    """At most `limit` password verifications at once in this process: argon2id takes 64 MiB each, so a
    flood must wait its turn briefly and then be told to come back, not pile up memory."""

    def __init__(self, limit: int, wait_s: float) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._wait_s = wait_s

    async def acquire(self) -> bool:
        if not self._slots.locked():  # a free slot: taken at once, whatever the wait (even 0)
            await self._slots.acquire()
            return True
        try:
            await asyncio.wait_for(self._slots.acquire(), self._wait_s)
        except TimeoutError:
            return False
        return True

    def release(self) -> None:
        self._slots.release()


_DEFAULT_SLOTS = Verifications(4, 30.0)  # for callers (the CLI, tests) that give no policy of their own


@dataclass(frozen=True)
class LoginPolicy:
    token_ttl: timedelta
    max_failures: int
    lock: timedelta
    per_address: int = 0  # attempts per client address within `address_window` (0: no limit)
    address_window: timedelta = timedelta(minutes=5)
    verifications: Verifications | None = None


def _official(row: dict[str, object]) -> Official:
    return Official(account_id=str(row["account_id"]), display_name=str(row["display_name"]),
                    role=OfficialRole(str(row["role"])), jurisdiction=str(row["jurisdiction"]),
                    school_id=str(row["school_id"]) if row["school_id"] is not None else None,
                    title=StaffTitle(str(row["title"])) if row.get("title") is not None else None)


async def login(pool: Executor, account_id: str, password: str, policy: LoginPolicy, now: datetime,
                address: str = "") -> Issued | Refused | Busy:
    """A new token for the right password; a locked name is refused even with the right one, and so is
    an address past its attempts. Throttling is decided before the password is verified."""
    if address and policy.per_address:
        address_digest = name_digest(address)
        ends = await repository.take_address_attempt(pool, address_digest, now, policy.per_address,
                                                     policy.address_window.total_seconds())
        if ends is not None:
            log.warning("login refused: address #%s past its attempts", address_digest[:12])
            return Refused(ends, by_address=True)
    slots = policy.verifications or _DEFAULT_SLOTS
    if not await slots.acquire():
        log.warning("login refused: every verification slot is taken")
        return Busy()
    digest = name_digest(account_id)
    try:
        attempt, locked = await repository.reserve_login_attempt(pool, digest, now, policy.max_failures,
                                                                 policy.lock.total_seconds())
        if locked:
            log.warning("login refused: account #%s locked", digest[:12])
            return Refused(locked)
        row = await repository.official_login(pool, account_id)
        matched = await asyncio.to_thread(_verify, str(row["password_hash"]) if row else _DUMMY_HASH, password)
    finally:
        slots.release()
    if not matched or row is None:
        locked = None
        if attempt >= policy.max_failures:
            locked = await repository.lock_login(pool, digest, now, policy.lock.total_seconds())
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

"""Officials' accounts: logins, sessions, failed attempts, disabling."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.db import Conn, Executor


async def upsert_official(
    conn: Executor, account_id: str, display_name: str, role: str, jurisdiction: str, school_id: str | None,
    password_hash: str, title: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO officials (account_id, display_name, role, jurisdiction, school_id, password_hash, title)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (account_id) DO UPDATE SET"
        " display_name = EXCLUDED.display_name, role = EXCLUDED.role, jurisdiction = EXCLUDED.jurisdiction,"
        " school_id = EXCLUDED.school_id, password_hash = EXCLUDED.password_hash, title = EXCLUDED.title,"
        " disabled_at = NULL",
        account_id, display_name, role, jurisdiction, school_id, password_hash, title,
    )


async def add_official(
    conn: Executor, account_id: str, display_name: str, role: str, jurisdiction: str, school_id: str | None,
    title: str | None, password_hash: str,
) -> bool:
    """A new account; False when the account id is taken (also by a disabled account)."""
    added = await conn.fetchval(
        "INSERT INTO officials (account_id, display_name, role, jurisdiction, school_id, title, password_hash)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (account_id) DO NOTHING RETURNING 1",
        account_id, display_name, role, jurisdiction, school_id, title, password_hash,
    )
    return added is not None


_LISTED = "account_id, display_name, role, title, jurisdiction, school_id, disabled_at IS NOT NULL AS disabled"


async def list_officials(conn: Executor, jurisdiction: str | None, school_id: str | None) -> list[dict[str, Any]]:
    """The accounts of a jurisdiction, or of one school (when `school_id` is given), by account id."""
    rows = await conn.fetch(
        f"SELECT {_LISTED} FROM officials WHERE ($1::text IS NULL OR jurisdiction = $1)"
        " AND ($2::text IS NULL OR school_id = $2) ORDER BY account_id",
        jurisdiction, school_id,
    )
    return [dict(r) for r in rows]


async def official_by_id(conn: Executor, account_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_LISTED} FROM officials WHERE account_id = $1", account_id)
    return dict(row) if row else None


async def official_login(conn: Executor, account_id: str) -> dict[str, Any] | None:
    """An active account with its password hash, for a login."""
    row = await conn.fetchrow(
        "SELECT account_id, display_name, role, jurisdiction, school_id, title, password_hash FROM officials"
        " WHERE account_id = $1 AND disabled_at IS NULL",
        account_id,
    )
    return dict(row) if row else None


async def set_password_hash(conn: Executor, account_id: str, password_hash: str) -> None:
    await conn.execute("UPDATE officials SET password_hash = $2 WHERE account_id = $1", account_id, password_hash)


async def add_session(
    conn: Executor, token_sha256: str, account_id: str, issued_at: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO sessions (token_sha256, account_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)",
        token_sha256, account_id, issued_at, expires_at,
    )


async def purge_sessions(conn: Executor, now: datetime) -> None:
    await conn.execute("DELETE FROM sessions WHERE expires_at <= $1", now)


async def session_official(
    conn: Executor, token_sha256: str, now: datetime, expires_at: datetime
) -> dict[str, Any] | None:
    """The active account behind an unexpired token; the use moves the token's expiry to `expires_at`
    (idle expiry: a session ends after a while unused, however long it has been in use)."""
    row = await conn.fetchrow(
        "UPDATE sessions s SET expires_at = GREATEST(s.expires_at, $3) FROM officials o"
        " WHERE s.token_sha256 = $1 AND s.expires_at > $2 AND o.account_id = s.account_id"
        " AND o.disabled_at IS NULL"
        " RETURNING o.account_id, o.display_name, o.role, o.jurisdiction, o.school_id, o.title",
        token_sha256, now, expires_at,
    )
    return dict(row) if row else None


async def end_session(conn: Executor, token_sha256: str) -> None:
    await conn.execute("DELETE FROM sessions WHERE token_sha256 = $1", token_sha256)


async def login_locked_until(conn: Executor, name_sha256: str, now: datetime) -> datetime | None:
    locked: datetime | None = await conn.fetchval(
        "SELECT locked_until FROM login_failures WHERE name_sha256 = $1 AND locked_until > $2", name_sha256, now)
    return locked


async def record_login_failure(
    conn: Executor, name_sha256: str, now: datetime, max_failures: int, lock_s: float
) -> datetime | None:
    """Count a failure; the `max_failures`-th in a row locks the name for `lock_s` (and restarts the count)."""
    await conn.execute(
        "INSERT INTO login_failures AS l (name_sha256, failures, last_at) VALUES ($1, 1, $2)"
        " ON CONFLICT (name_sha256) DO UPDATE SET failures = l.failures + 1, last_at = $2",
        name_sha256, now,
    )
    locked: datetime | None = await conn.fetchval(
        "UPDATE login_failures SET failures = 0,"
        " locked_until = $2::timestamptz + make_interval(secs => $4::double precision)"
        " WHERE name_sha256 = $1 AND failures >= $3 RETURNING locked_until",
        name_sha256, now, max_failures, lock_s,
    )
    return locked


async def clear_login_failures(conn: Executor, name_sha256: str) -> None:
    await conn.execute("DELETE FROM login_failures WHERE name_sha256 = $1", name_sha256)


async def disable_official(conn: Conn, account_id: str) -> bool:
    """The account can no longer log in, and its tokens stop working at once."""
    done = await conn.execute("UPDATE officials SET disabled_at = now() WHERE account_id = $1"
                              " AND disabled_at IS NULL", account_id)
    await conn.execute("DELETE FROM sessions WHERE account_id = $1", account_id)
    return done.endswith(" 1")

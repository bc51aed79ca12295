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


async def reserve_login_attempt(
    conn: Executor, name_sha256: str, now: datetime, max_failures: int, lock_s: float
) -> tuple[int, datetime | None]:
    """Count an attempt as a failure before its password is verified, in one statement, so parallel guesses
    cannot all pass a check made before any of them failed. Returns (the attempt's number in the run of
    failures, the lock in force or None); the attempt past `max_failures` locks the name for `lock_s`.
    A lock that has run out starts a new run."""
    row = await conn.fetchrow(
        "INSERT INTO login_failures AS l (name_sha256, failures, last_at) VALUES ($1, 1, $2)"
        " ON CONFLICT (name_sha256) DO UPDATE SET"
        " failures = CASE WHEN l.locked_until > $2 THEN l.failures"
        "  WHEN l.locked_until IS NOT NULL THEN 1 ELSE l.failures + 1 END,"
        " locked_until = CASE WHEN l.locked_until > $2 THEN l.locked_until"
        "  WHEN l.locked_until IS NULL AND l.failures + 1 > $3"
        "   THEN $2::timestamptz + make_interval(secs => $4::double precision)"
        "  ELSE NULL END,"
        " last_at = $2"
        " RETURNING failures, locked_until",
        name_sha256, now, max_failures, lock_s,
    )
    assert row is not None
    locked: datetime | None = row["locked_until"]
    return int(row["failures"]), locked if locked is not None and locked > now else None


async def lock_login(conn: Executor, name_sha256: str, now: datetime, lock_s: float) -> datetime | None:
    """The `max_failures`-th failure in a row locks the name (or finds it locked by a parallel attempt)."""
    locked: datetime | None = await conn.fetchval(
        "UPDATE login_failures SET failures = 0, locked_until = CASE WHEN locked_until > $2 THEN locked_until"
        " ELSE $2::timestamptz + make_interval(secs => $3::double precision) END"
        " WHERE name_sha256 = $1 RETURNING locked_until",
        name_sha256, now, lock_s,
    )
    return locked


async def take_address_attempt(
    conn: Executor, address_sha256: str, now: datetime, limit: int, window_s: float
) -> datetime | None:
    """Count a login attempt from a client address in a fixed window, in one statement; past `limit` in
    the window, when the window ends (the attempt is refused without touching any name's count)."""
    row = await conn.fetchrow(
        "INSERT INTO login_addresses AS a (address_sha256, window_start, attempts) VALUES ($1, $2, 1)"
        " ON CONFLICT (address_sha256) DO UPDATE SET"
        " attempts = CASE WHEN a.window_start + make_interval(secs => $3::double precision) <= $2 THEN 1"
        "  ELSE a.attempts + 1 END,"
        " window_start = CASE WHEN a.window_start + make_interval(secs => $3::double precision) <= $2 THEN $2"
        "  ELSE a.window_start END"
        " RETURNING attempts, window_start + make_interval(secs => $3::double precision) AS window_end",
        address_sha256, now, window_s,
    )
    assert row is not None
    ends: datetime = row["window_end"]
    if int(row["attempts"]) == 1:  # a new window: forget the addresses whose windows have long ended
        await conn.execute("DELETE FROM login_addresses WHERE window_start"
                           " < $1::timestamptz - make_interval(secs => $2::double precision)", now, window_s)
    return ends if int(row["attempts"]) > limit else None



async def clear_login_failures(conn: Executor, name_sha256: str) -> None:
    await conn.execute("DELETE FROM login_failures WHERE name_sha256 = $1", name_sha256)


async def disable_official(conn: Conn, account_id: str) -> bool:
    """The account can no longer log in, and its tokens stop working at once."""
    done = await conn.execute("UPDATE officials SET disabled_at = now() WHERE account_id = $1"
                              " AND disabled_at IS NULL", account_id)
    await conn.execute("DELETE FROM sessions WHERE account_id = $1", account_id)
    return done.endswith(" 1")

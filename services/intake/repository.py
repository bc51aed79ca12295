"""All SQL of intake."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.db import Conn, Executor

SCHEMA = "intake"
# The only tables intake DELETEs from (its role gets DELETE on these alone; tests/test_pg_roles.py checks the code).
DELETABLE = ("roster_rows",)


# --- schools and keys -------------------------------------------------------------------

async def upsert_school(conn: Executor, school_id: str, name: str) -> None:
    await conn.execute(
        "INSERT INTO schools (school_id, name) VALUES ($1, $2)"
        " ON CONFLICT (school_id) DO UPDATE SET name = EXCLUDED.name",
        school_id,
        name,
    )


async def school_exists(conn: Executor, school_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM schools WHERE school_id = $1", school_id))


async def add_key(conn: Executor, key_id: str, school_id: str, secret_sha256: bytes) -> None:
    await conn.execute(
        "INSERT INTO api_keys (key_id, school_id, secret_sha256) VALUES ($1, $2, $3)",
        key_id,
        school_id,
        secret_sha256,
    )


async def active_key(conn: Executor, key_id: str) -> tuple[str, bytes] | None:
    row = await conn.fetchrow(
        "SELECT school_id, secret_sha256 FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL", key_id
    )
    return (row["school_id"], bytes(row["secret_sha256"])) if row else None


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    school_id: str
    created_at: datetime
    revoked_at: datetime | None


async def list_keys(conn: Executor, school_id: str) -> list[KeyInfo]:
    rows = await conn.fetch(
        "SELECT key_id, school_id, created_at, revoked_at FROM api_keys WHERE school_id = $1 ORDER BY created_at",
        school_id,
    )
    return [KeyInfo(**dict(r)) for r in rows]


async def revoke_key(conn: Executor, key_id: str) -> bool:
    done = await conn.fetchval(
        "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL RETURNING 1", key_id
    )
    return bool(done)


# --- idempotency ------------------------------------------------------------------------

@dataclass(frozen=True)
class PriorRequest:
    endpoint: str
    fingerprint: bytes
    status_code: int | None
    response: dict[str, Any] | None


async def claim_request(
    conn: Executor, school_id: str, key: str, endpoint: str, fingerprint: bytes
) -> PriorRequest | None:
    """None when this key is new (and now claimed); otherwise what was stored under it."""
    inserted = await conn.fetchval(
        "INSERT INTO requests (school_id, idem_key, endpoint, fingerprint) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING RETURNING 1",
        school_id, key, endpoint, fingerprint,
    )
    if inserted:
        return None
    row = await conn.fetchrow(
        "SELECT endpoint, fingerprint, status_code, response FROM requests WHERE school_id = $1 AND idem_key = $2",
        school_id, key,
    )
    assert row is not None
    response = json.loads(row["response"]) if row["response"] is not None else None
    return PriorRequest(row["endpoint"], bytes(row["fingerprint"]), row["status_code"], response)


async def complete_request(conn: Executor, school_id: str, key: str, status: int, response: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE requests SET status_code = $3, response = $4::jsonb, completed_at = now()"
        " WHERE school_id = $1 AND idem_key = $2",
        school_id, key, status, json.dumps(response),
    )


# --- incidents and follow-ups -----------------------------------------------------------

async def register_incident_with_students(conn: Executor, incident_id: uuid.UUID, school_id: str,
                                          refs: list[str]) -> None:
    """The incident (not yet accepted) and the report's student refs, in one round trip (the students'
    foreign key is checked at the statement's end, when the incident row is there)."""
    await conn.execute(
        "WITH incident AS (INSERT INTO incidents (incident_id, school_id) VALUES ($1, $2) ON CONFLICT DO NOTHING)"
        " INSERT INTO incident_students (incident_id, ref) SELECT $1, ref FROM unnest($3::text[]) AS ref"
        " ON CONFLICT DO NOTHING",
        incident_id, school_id, refs,
    )


async def accept_incident(conn: Executor, incident_id: uuid.UUID, school_id: str, key: str, status: int,
                          response: dict[str, Any]) -> None:
    """Once JetStream has the report: the incident accepted (follow-ups may name it) and the answer kept for
    a retried key, in one round trip."""
    await conn.execute(
        "WITH accepted AS (UPDATE incidents SET accepted_at = coalesce(accepted_at, now()) WHERE incident_id = $5)"
        " UPDATE requests SET status_code = $3, response = $4::jsonb, completed_at = now()"
        " WHERE school_id = $1 AND idem_key = $2",
        school_id, key, status, json.dumps(response), incident_id,
    )


async def incident_owner(conn: Executor, incident_id: uuid.UUID) -> str | None:
    """The owning school of an incident JetStream has acknowledged, or None."""
    owner = await conn.fetchval(
        "SELECT school_id FROM incidents WHERE incident_id = $1 AND accepted_at IS NOT NULL", incident_id
    )
    return str(owner) if owner is not None else None


async def register_students(conn: Executor, incident_id: uuid.UUID, refs: list[str],
                            follow_up_id: uuid.UUID | None = None) -> None:
    """The incident's student refs (the report's, or those a follow-up adds); a ref keeps its first source."""
    await conn.executemany(
        "INSERT INTO incident_students (incident_id, ref, follow_up_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        [(incident_id, ref, follow_up_id) for ref in refs])


async def incident_students(conn: Executor, incident_id: uuid.UUID) -> dict[str, uuid.UUID | None]:
    """ref → the follow-up that added it (None: the report); empty for an incident accepted before refs were kept."""
    rows = await conn.fetch("SELECT ref, follow_up_id FROM incident_students WHERE incident_id = $1", incident_id)
    return {r["ref"]: r["follow_up_id"] for r in rows}


# Numbered children of a case: (child table, child id column, parent table, parent id column, counter).
_NUMBERED = {
    "follow_up": ("follow_ups", "follow_up_id", "incidents", "incident_id", "follow_ups"),
    "hazard_progress": ("hazard_progress", "progress_id", "hazards", "hazard_id", "progress"),
}


async def allocate_seq(conn: Conn, kind: str, child_id: uuid.UUID, parent_id: uuid.UUID) -> int:
    """The child's number within its case (1, 2, …); the same child id always gets the same number."""
    table, child_col, parent_table, parent_col, counter = _NUMBERED[kind]
    async with conn.transaction():
        seq = await conn.fetchval(f"SELECT seq FROM {table} WHERE {child_col} = $1", child_id)
        if seq is not None:
            return int(seq)
        seq = await conn.fetchval(
            f"UPDATE {parent_table} SET {counter} = {counter} + 1 WHERE {parent_col} = $1 RETURNING {counter}",
            parent_id,
        )
        await conn.execute(
            f"INSERT INTO {table} ({child_col}, {parent_col}, seq) VALUES ($1, $2, $3)", child_id, parent_id, seq
        )
        return int(seq)


# --- hazards ----------------------------------------------------------------------------

async def register_hazard(conn: Executor, hazard_id: uuid.UUID, school_id: str, fingerprint: bytes) -> bytes:
    """The fingerprint the hazard was first registered with (this one if it is new)."""
    await conn.execute(
        "INSERT INTO hazards (hazard_id, school_id, fingerprint) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        hazard_id, school_id, fingerprint,
    )
    return bytes(await conn.fetchval("SELECT fingerprint FROM hazards WHERE hazard_id = $1", hazard_id))


async def mark_hazard_accepted(conn: Executor, hazard_id: uuid.UUID) -> None:
    await conn.execute("UPDATE hazards SET accepted_at = coalesce(accepted_at, now()) WHERE hazard_id = $1", hazard_id)


async def register_published_hazard(conn: Executor, hazard_id: uuid.UUID, school_id: str, fingerprint: bytes) -> None:
    """A hazard another service published (the bureau's screening, through the archive): accepted as it is on
    the bus, so that its school reports progress on it; one intake registered itself is left as it is."""
    await conn.execute(
        "INSERT INTO hazards (hazard_id, school_id, fingerprint, accepted_at) VALUES ($1, $2, $3, now())"
        " ON CONFLICT DO NOTHING", hazard_id, school_id, fingerprint)


async def hazard_owner(conn: Executor, hazard_id: uuid.UUID) -> str | None:
    """The owning school of a hazard JetStream has acknowledged, or None."""
    owner = await conn.fetchval(
        "SELECT school_id FROM hazards WHERE hazard_id = $1 AND accepted_at IS NOT NULL", hazard_id
    )
    return str(owner) if owner is not None else None


# --- help requests ----------------------------------------------------------------------

async def add_access_code(conn: Executor, code: str, school_id: str) -> None:
    await conn.execute("INSERT INTO access_codes (code, school_id) VALUES ($1, $2)", code, school_id)


async def access_code_school(conn: Executor, code: str) -> str | None:
    school = await conn.fetchval("SELECT school_id FROM access_codes WHERE code = $1 AND revoked_at IS NULL", code)
    return str(school) if school is not None else None


@dataclass(frozen=True)
class HelpCase:
    help_id: uuid.UUID
    case_code: str
    school_id: str
    urgent: bool
    status: str
    created_at: datetime
    accepted_at: datetime | None
    resolutions: int = 0


_HELP_COLUMNS = "help_id, case_code, school_id, urgent, status, created_at, accepted_at, resolutions"


async def register_help(conn: Executor, help_id: uuid.UUID, case_code: str, school_id: str, urgent: bool) -> None:
    await conn.execute(
        "INSERT INTO help_requests (help_id, case_code, school_id, urgent) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING",
        help_id, case_code, school_id, urgent,
    )


async def help_by_code(conn: Executor, case_code: str) -> HelpCase | None:
    row = await conn.fetchrow(
        f"SELECT {_HELP_COLUMNS} FROM help_requests WHERE case_code = $1", case_code,
    )
    return HelpCase(**dict(row)) if row else None


async def school_help_cases(conn: Executor, school_id: str, status: str | None) -> list[HelpCase]:
    rows = await conn.fetch(
        f"SELECT {_HELP_COLUMNS} FROM help_requests"
        " WHERE school_id = $1 AND accepted_at IS NOT NULL AND ($2::text IS NULL OR status = $2)"
        " ORDER BY urgent DESC, created_at LIMIT 500",
        school_id, status,
    )
    return [HelpCase(**dict(r)) for r in rows]


async def add_help_message(
    conn: Conn, help_id: uuid.UUID, message_id: uuid.UUID, author: str, seal: Callable[[int], bytes]
) -> int:
    """The message's number in its case (1 is the request's own); the same message id keeps its number."""
    async with conn.transaction():
        seq = await conn.fetchval("SELECT seq FROM help_messages WHERE message_id = $1", message_id)
        if seq is not None:
            return int(seq)
        seq = await conn.fetchval(
            "UPDATE help_requests SET messages = messages + 1 WHERE help_id = $1 RETURNING messages", help_id
        )
        await conn.execute(
            "INSERT INTO help_messages (help_id, seq, message_id, author, body_ct) VALUES ($1, $2, $3, $4, $5)",
            help_id, seq, message_id, author, seal(int(seq)),
        )
        return int(seq)


async def help_accepted(conn: Executor, help_id: uuid.UUID, seq: int | None, status: str | None = None,
                        converted_incident: uuid.UUID | None = None) -> None:
    """JetStream has it: the message becomes visible, the case (optionally) changes status. A conversion is
    final; a resolution stands until a conversion or the bureau's contest (messages do not reopen it)."""
    if seq is not None:
        await conn.execute("UPDATE help_messages SET accepted = true WHERE help_id = $1 AND seq = $2", help_id, seq)
    await conn.execute(
        "UPDATE help_requests SET accepted_at = coalesce(accepted_at, now()),"
        " status = CASE WHEN status = 'converted' THEN status"
        " WHEN status = 'resolved' AND coalesce($2, status) IN ('open', 'answered') THEN status"
        " ELSE coalesce($2, status) END,"
        " converted_incident = coalesce($3, converted_incident) WHERE help_id = $1",
        help_id, status, converted_incident,
    )


async def help_messages(conn: Executor, help_id: uuid.UUID) -> list[tuple[int, str, datetime, bytes]]:
    rows = await conn.fetch(
        "SELECT seq, author, at, body_ct FROM help_messages WHERE help_id = $1 AND accepted ORDER BY seq", help_id
    )
    return [(r["seq"], r["author"], r["at"], bytes(r["body_ct"])) for r in rows]


async def help_resolved(conn: Executor, help_id: uuid.UUID, number: int) -> None:
    """The school's `number`-th resolution is durable: the request is resolved unless converted meanwhile."""
    await conn.execute(
        "UPDATE help_requests SET status = CASE WHEN status = 'converted' THEN status ELSE 'resolved' END,"
        " resolutions = greatest(resolutions, $2) WHERE help_id = $1", help_id, number)


async def help_contested(conn: Executor, help_id: uuid.UUID) -> bool:
    """The bureau did not accept the school's resolution: the request is open again for a new answer."""
    return bool(await conn.fetchval(
        "UPDATE help_requests SET status = 'open' WHERE help_id = $1 AND status = 'resolved' RETURNING 1", help_id))

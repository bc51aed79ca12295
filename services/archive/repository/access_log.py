"""The access log: every read of the archive, chained like the record."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from services.archive.audit import AccessEntry
from shared.db import Conn, Executor


async def lock_access_head(conn: Conn) -> tuple[int, str]:
    """The access log's head, locked until the transaction ends: reads are logged one after another."""
    row = await conn.fetchrow("SELECT seq, hash FROM access_log_head WHERE id = 1 FOR UPDATE")
    assert row is not None  # inserted by migrations/0001_initial.sql
    return row["seq"], row["hash"]


async def append_access(conn: Conn, e: AccessEntry) -> None:
    await conn.execute(
        "INSERT INTO access_log (seq, at, account_id, role, jurisdiction, action, case_id, filter, outcome,"
        " purpose, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12)",
        e.seq, e.at, e.account_id, e.role, e.jurisdiction, e.action, e.case_id,
        json.dumps(e.filter, ensure_ascii=False), e.outcome, e.purpose, e.prev_hash, e.hash,
    )
    await conn.execute("UPDATE access_log_head SET seq = $1, hash = $2 WHERE id = 1", e.seq, e.hash)


ACCESS_COLUMNS = ("seq, at, account_id, role, jurisdiction, action, case_id, filter, outcome, purpose,"
                  " prev_hash, hash")


def _access_entry(r: Any) -> AccessEntry:
    return AccessEntry(**{**dict(r), "filter": json.loads(r["filter"])})


async def access_entries(
    conn: Executor, jurisdiction: str, case_id: uuid.UUID | None, account_id: str | None,
    since: datetime | None, until: datetime | None, before_seq: int | None, limit: int,
) -> list[AccessEntry]:
    """A page of the access log, newest first: reads by a jurisdiction's accounts, and every attempt on
    its cases (an outsider's probe included)."""
    rows = await conn.fetch(
        f"SELECT {ACCESS_COLUMNS} FROM access_log WHERE (jurisdiction = $1"
        " OR case_id IN (SELECT incident_id FROM cases WHERE jurisdiction = $1))"
        " AND ($2::uuid IS NULL OR case_id = $2) AND ($3::text IS NULL OR account_id = $3)"
        " AND ($4::timestamptz IS NULL OR at >= $4) AND ($5::timestamptz IS NULL OR at < $5)"
        " AND ($6::bigint IS NULL OR seq < $6) ORDER BY seq DESC LIMIT $7",
        jurisdiction, case_id, account_id, since, until, before_seq, limit,
    )
    return [_access_entry(r) for r in rows]


async def stream_access_log(conn: Conn, prefetch: int = 1000) -> AsyncIterator[AccessEntry]:
    """The access log from seq 1, from a cursor (inside a transaction)."""
    async for r in conn.cursor(f"SELECT {ACCESS_COLUMNS} FROM access_log ORDER BY seq", prefetch=prefetch):
        yield _access_entry(r)


async def whole_access_log(conn: Executor) -> list[AccessEntry]:
    """Every entry from seq 1, for verifying the chain."""
    return [_access_entry(r) for r in await conn.fetch(f"SELECT {ACCESS_COLUMNS} FROM access_log ORDER BY seq")]

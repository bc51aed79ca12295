"""All SQL of archive."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import asyncpg

from services.archive.audit import AccessEntry
from services.archive.chain import GENESIS, Entry
from services.archive.checkpoint import Checkpoint, Head
from services.archive.listing import CaseFilter, Cursor
from services.archive.scopes import Scope
from shared.db import Conn, Executor

SCHEMA = "archive"


async def lock_head(conn: Conn, incident_id: uuid.UUID) -> tuple[int, str]:
    """The chain head of a case, locked until the transaction ends (appends are serialised per case)."""
    await conn.execute(
        "INSERT INTO chain_heads (incident_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING",
        incident_id, GENESIS,
    )
    row = await conn.fetchrow("SELECT seq, hash FROM chain_heads WHERE incident_id = $1 FOR UPDATE", incident_id)
    assert row is not None  # inserted above, in this transaction
    return row["seq"], row["hash"]


async def append(conn: Conn, entry: Entry, payload_ct: bytes) -> None:
    await conn.execute(
        "INSERT INTO entries (incident_id, seq, event_id, event_type, recorded_at, summary, payload_ct,"
        " payload_sha256, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)",
        entry.incident_id, entry.seq, entry.event_id, entry.event_type, entry.recorded_at,
        json.dumps(entry.summary, ensure_ascii=False), payload_ct, entry.payload_sha256, entry.prev_hash, entry.hash,
    )
    await conn.execute(
        "UPDATE chain_heads SET seq = $2, hash = $3, last_at = $4 WHERE incident_id = $1",
        entry.incident_id, entry.seq, entry.hash, entry.recorded_at,
    )


async def entries(conn: Executor, incident_id: uuid.UUID) -> list[Entry]:
    rows = await conn.fetch(
        "SELECT incident_id, seq, event_id, event_type, recorded_at, summary, payload_sha256, prev_hash, hash"
        " FROM entries WHERE incident_id = $1 ORDER BY seq",
        incident_id,
    )
    return [Entry(**{**dict(r), "summary": json.loads(r["summary"])}) for r in rows]


async def case_opened(
    conn: Conn, case_id: uuid.UUID, kind: str, case_ref: str, school_id: str, jurisdiction: str,
    reported_at: datetime, *, risk_level: str | None = None, urgent: bool | None = None,
) -> None:
    """The case's own first event (its report): from now on it is listed and scoped."""
    await conn.execute(
        "INSERT INTO cases (incident_id, kind, case_ref, school_id, jurisdiction, reported_at, risk_level, urgent)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (incident_id) DO UPDATE SET kind = EXCLUDED.kind,"
        " case_ref = EXCLUDED.case_ref, school_id = EXCLUDED.school_id, jurisdiction = EXCLUDED.jurisdiction,"
        " reported_at = EXCLUDED.reported_at, risk_level = EXCLUDED.risk_level, urgent = EXCLUDED.urgent",
        case_id, kind, case_ref, school_id, jurisdiction, reported_at, risk_level, urgent,
    )


async def case_decided(
    conn: Conn, incident_id: uuid.UUID, school_id: str, jurisdiction: str, level: str, wide: bool,
    reasons: list[dict[str, str]], policy_version: str, at: datetime, flags: list[str], police: bool,
) -> None:
    """Flags and a referral to the police accumulate over decisions; level and reasons are the latest."""
    await conn.execute(
        "INSERT INTO cases (incident_id, school_id, jurisdiction, level, public_attention_wide, reasons,"
        " policy_version, decided_at, flags, referred_to_police)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10) ON CONFLICT (incident_id) DO UPDATE SET"
        " school_id = coalesce(cases.school_id, EXCLUDED.school_id),"
        " jurisdiction = coalesce(cases.jurisdiction, EXCLUDED.jurisdiction),"
        " level = EXCLUDED.level, public_attention_wide = EXCLUDED.public_attention_wide,"
        " reasons = EXCLUDED.reasons, policy_version = EXCLUDED.policy_version, decided_at = EXCLUDED.decided_at,"
        " flags = ARRAY(SELECT DISTINCT f FROM unnest(cases.flags || EXCLUDED.flags) AS f ORDER BY f),"
        " referred_to_police = cases.referred_to_police OR EXCLUDED.referred_to_police",
        incident_id, school_id, jurisdiction, level, wide, json.dumps(reasons, ensure_ascii=False), policy_version,
        at, sorted(set(flags)), police,
    )


async def case_deadline_missed(conn: Conn, case_id: uuid.UUID) -> None:
    await conn.execute(
        "INSERT INTO cases (incident_id, missed_deadlines) VALUES ($1, 1)"
        " ON CONFLICT (incident_id) DO UPDATE SET missed_deadlines = cases.missed_deadlines + 1",
        case_id,
    )


async def case_converted(conn: Conn, help_id: uuid.UUID, incident_id: uuid.UUID) -> None:
    await conn.execute(
        "INSERT INTO cases (incident_id, converted_incident_id) VALUES ($1, $2)"
        " ON CONFLICT (incident_id) DO UPDATE SET converted_incident_id = EXCLUDED.converted_incident_id",
        help_id, incident_id,
    )


async def case_rectified(conn: Conn, hazard_id: uuid.UUID, at: datetime) -> None:
    """A hazard's rectification reported complete; the first completion counts."""
    await conn.execute(
        "INSERT INTO cases (incident_id, rectified_at) VALUES ($1, $2)"
        " ON CONFLICT (incident_id) DO UPDATE SET rectified_at = least(cases.rectified_at, EXCLUDED.rectified_at)",
        hazard_id, at,
    )


async def case_answered(conn: Conn, help_id: uuid.UUID, at: datetime) -> None:
    """The school replied to a help request; the first reply counts."""
    await conn.execute(
        "INSERT INTO cases (incident_id, answered_at) VALUES ($1, $2)"
        " ON CONFLICT (incident_id) DO UPDATE SET answered_at = least(cases.answered_at, EXCLUDED.answered_at)",
        help_id, at,
    )


async def backfill_jurisdictions(conn: Executor, by_school: dict[str, str], default: str) -> None:
    """Cases projected before issue 6 have no jurisdiction: take it from the directory."""
    await conn.execute(
        "UPDATE cases SET jurisdiction = coalesce(($1::jsonb) ->> school_id, $2)"
        " WHERE jurisdiction IS NULL AND school_id IS NOT NULL",
        json.dumps(by_school), default,
    )


_STATUS_RANK = ("CASE {} WHEN 'requested' THEN 0 WHEN 'delivered' THEN 1 WHEN 'failed' THEN 1"
                " WHEN 'received' THEN 2 WHEN 'undelivered' THEN 2 WHEN 'acknowledged' THEN 3 ELSE 0 END")


async def recipient_status(
    conn: Conn, notification_id: uuid.UUID, incident_id: uuid.UUID, role: str, status: str,
    reason: str | None = None,
) -> None:
    """Events arrive in any order: the furthest state wins (requested → delivered/failed → received/undelivered
    (the provider's receipt) → acknowledged)."""
    await conn.execute(
        "INSERT INTO recipients (notification_id, incident_id, role, status, reason) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (notification_id) DO UPDATE SET"
        f" status = CASE WHEN {_STATUS_RANK.format('EXCLUDED.status')} > {_STATUS_RANK.format('recipients.status')}"
        " THEN EXCLUDED.status ELSE recipients.status END,"
        " reason = coalesce(recipients.reason, EXCLUDED.reason), updated_at = now()",
        notification_id, incident_id, role, status, reason,
    )


async def case_changed(conn: Conn, case_id: uuid.UUID, *, level: str | None = None, closed: bool = False) -> None:
    """An approved lower level or closure (ChangeResolved), or a look-back reported done."""
    await conn.execute(
        "UPDATE cases SET level = coalesce($2, level), status = CASE WHEN $3 THEN 'closed' ELSE status END"
        " WHERE incident_id = $1", case_id, level, closed)


async def case(conn: Executor, incident_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM cases WHERE incident_id = $1", incident_id)
    if row is None:
        return None
    out = dict(row)
    out["reasons"] = json.loads(row["reasons"]) if row["reasons"] else []
    return out


async def recipients(conn: Executor, incident_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT notification_id, role, status, reason, updated_at FROM recipients WHERE incident_id = $1"
        " ORDER BY role, notification_id",
        incident_id,
    )
    return [dict(r) for r in rows]


# --- case data keys (see payloads.py) ---

async def case_key(conn: Conn, incident_id: uuid.UUID, *, lock: bool = False) -> asyncpg.Record | None:
    """The wrapped key row; `lock` holds off a concurrent shredding until the sealing transaction ends."""
    return await conn.fetchrow(
        "SELECT wrapped_dek, shredded_at FROM case_keys WHERE incident_id = $1" + (" FOR SHARE" if lock else ""),
        incident_id,
    )


async def add_case_key(conn: Conn, incident_id: uuid.UUID, wrapped: bytes, kek_id: str) -> bool:
    """False when another transaction stored this case's key first (then read that one)."""
    return await conn.fetchval(
        "INSERT INTO case_keys (incident_id, wrapped_dek, kek_id) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING true",
        incident_id, wrapped, kek_id,
    ) is not None


async def shred_expired(conn: Conn, now: datetime, cutoff: datetime, limit: int) -> list[uuid.UUID]:
    """Destroy the keys of up to `limit` cases whose last entry is older than `cutoff`.

    The chain head is locked first, as an append locks it, and skipped while an append holds it.
    """
    rows = await conn.fetch(
        "WITH expired AS (SELECT h.incident_id FROM chain_heads h JOIN case_keys k USING (incident_id)"
        "  WHERE k.wrapped_dek IS NOT NULL AND h.last_at < $2 ORDER BY h.incident_id LIMIT $3"
        "  FOR UPDATE OF h SKIP LOCKED)"
        " UPDATE case_keys k SET wrapped_dek = NULL, shredded_at = $1 FROM expired e"
        " WHERE k.incident_id = e.incident_id RETURNING k.incident_id",
        now, cutoff, limit,
    )
    return [r["incident_id"] for r in rows]


# --- signed checkpoints ---

async def lock_checkpoints(conn: Conn) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('antibully-archive-checkpoint'))")


async def moved_heads(conn: Conn) -> list[Head]:
    rows = await conn.fetch(
        "SELECT incident_id, seq, hash FROM chain_heads WHERE seq > checkpointed_seq ORDER BY incident_id"
    )
    return [(r["incident_id"], r["seq"], r["hash"]) for r in rows]


def _checkpoint(r: asyncpg.Record) -> Checkpoint:
    heads = tuple((uuid.UUID(i), int(s), str(h)) for i, s, h in json.loads(r["heads"]))
    return Checkpoint(r["id"], r["created_at"], heads, r["prev_digest"], r["digest"], bytes(r["signature"]),
                      bytes(r["public_key"]), r["key_fingerprint"])


_CHECKPOINT_COLUMNS = "id, created_at, heads, prev_digest, digest, signature, public_key, key_fingerprint"


async def last_checkpoint(conn: Conn) -> Checkpoint | None:
    row = await conn.fetchrow(f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY id DESC LIMIT 1")
    return _checkpoint(row) if row else None


async def add_checkpoint(conn: Conn, cp: Checkpoint) -> None:
    await conn.execute(
        f"INSERT INTO checkpoints ({_CHECKPOINT_COLUMNS}) VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8)",
        cp.id, cp.created_at, json.dumps([[str(i), s, h] for i, s, h in cp.heads]), cp.prev_digest, cp.digest,
        cp.signature, cp.public_key, cp.key_fingerprint,
    )
    await conn.execute(
        "UPDATE chain_heads h SET checkpointed_seq = v.seq FROM unnest($1::uuid[], $2::int[]) AS v(incident_id, seq)"
        " WHERE h.incident_id = v.incident_id AND h.checkpointed_seq < v.seq",
        [i for i, _, _ in cp.heads], [s for _, s, _ in cp.heads],
    )


# --- verification (antibully verify): streamed, in one read-only snapshot ---

async def stream_entries(conn: Conn, prefetch: int = 1000) -> AsyncIterator[tuple[Entry, str]]:
    """Every entry in chain order with the SHA-256 of its stored ciphertext; call inside a transaction."""
    async for r in conn.cursor(
        "SELECT incident_id, seq, event_id, event_type, recorded_at, summary, payload_sha256, prev_hash, hash,"
        " encode(sha256(payload_ct), 'hex') AS ct_sha256 FROM entries ORDER BY incident_id, seq",
        prefetch=prefetch,
    ):
        fields = {k: r[k] for k in Entry.__dataclass_fields__}
        yield Entry(**{**fields, "summary": json.loads(r["summary"])}), r["ct_sha256"]


async def stream_checkpoints(conn: Conn, prefetch: int = 100) -> AsyncIterator[Checkpoint]:
    async for r in conn.cursor(f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY id", prefetch=prefetch):
        yield _checkpoint(r)


async def first_unmatched_head(conn: Conn, checkpoint_id: int) -> tuple[uuid.UUID, int, str | None] | None:
    """The first head a checkpoint recorded that its chain no longer holds: (case, seq, hash now or None)."""
    row = await conn.fetchrow(
        "SELECT (h->>0)::uuid AS incident_id, (h->>1)::int AS seq, e.hash FROM checkpoints c"
        " CROSS JOIN LATERAL jsonb_array_elements(c.heads) AS h"
        " LEFT JOIN entries e ON e.incident_id = (h->>0)::uuid AND e.seq = (h->>1)::int"
        " WHERE c.id = $1 AND e.hash IS DISTINCT FROM h->>2 ORDER BY 1, 2 LIMIT 1",
        checkpoint_id,
    )
    return (row["incident_id"], row["seq"], row["hash"]) if row else None


# --- the service's role ---

_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


async def grant_app_role(conn: Conn, role: str) -> bool:
    """Make `role` able to run archive and nothing more: no UPDATE/DELETE/TRUNCATE on entries,
    checkpoints or the access log, no DELETE of case keys. Creates it (NOLOGIN) when the login role may create roles.

    False when the role neither exists nor can be created (then the login role's rights apply).
    Run as the tables' owner, in the migration's transaction.
    """
    if not _ROLE_NAME.fullmatch(role):
        raise ValueError(f"ARCHIVE_DB_ROLE {role!r} is not a plain lower-case role name")
    me = await conn.fetchrow("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
    assert me is not None
    if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
        if not (me["rolsuper"] or me["rolcreaterole"]):
            return False
        try:
            async with conn.transaction():  # a savepoint: another database's migration may create it first
                await conn.execute(f'CREATE ROLE "{role}" NOLOGIN')
        except asyncpg.DuplicateObjectError:
            pass
    if (me["rolcreaterole"] and not me["rolsuper"]
            and not await conn.fetchval("SELECT pg_has_role(current_user, $1, 'MEMBER')", role)):
        await conn.execute(f'GRANT "{role}" TO CURRENT_USER')  # so that its own sessions may act as it
    await conn.execute(
        f'REVOKE ALL ON ALL TABLES IN SCHEMA "{SCHEMA}" FROM "{role}";'
        f' GRANT USAGE ON SCHEMA "{SCHEMA}" TO "{role}";'
        f' GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{SCHEMA}" TO "{role}";'
        f' REVOKE UPDATE, DELETE ON entries, checkpoints, access_log FROM "{role}";'
        f' REVOKE DELETE ON case_keys FROM "{role}";'
        f' GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{SCHEMA}" TO "{role}"'
    )
    return True


async def key_state(conn: Executor, incident_id: uuid.UUID) -> asyncpg.Record | None:
    """Whether a case's personal data can still be opened (for the read API)."""
    return await conn.fetchrow("SELECT shredded_at FROM case_keys WHERE incident_id = $1", incident_id)
CASE_COLUMNS = (
    "incident_id, kind, case_ref, school_id, jurisdiction, level, risk_level, status, public_attention_wide, flags,"
    " missed_deadlines, referred_to_police, urgent, converted_incident_id, reported_at, decided_at"
)


class _Where:
    """WHERE conditions with numbered parameters: `?` in each condition takes the next value."""

    def __init__(self, base: tuple[str, ...] = ("kind IS NOT NULL", "school_id IS NOT NULL")) -> None:
        self.parts = list(base)
        self.args: list[Any] = []

    def add(self, sql: str, *values: Any) -> None:
        for v in values:
            self.args.append(v)
            sql = sql.replace("?", f"${len(self.args)}", 1)
        self.parts.append(sql)

    def param(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def scope(self, scope: Scope) -> None:
        """The reader's authority (scopes.scope_for), as in_scope checks it for one case."""
        if scope.school_id is not None:
            self.add("school_id = ?", scope.school_id)
        if scope.jurisdiction is not None:
            self.add("jurisdiction = ?", scope.jurisdiction)
        if scope.kinds is not None:
            self.add("kind = ANY(?::text[])", sorted(scope.kinds))
        if scope.referred_to_police_only:
            self.parts.append("referred_to_police")
        if scope.public_attention_only:
            self.parts.append("coalesce(public_attention_wide, false)")

    def sql(self) -> str:
        return " AND ".join(self.parts)


async def list_cases(
    conn: Executor, scope: Scope, f: CaseFilter, after: Cursor | None, limit: int
) -> list[dict[str, Any]]:
    """A page of cases in scope matching the filter, newest report first (stable: ties broken by id)."""
    w = _Where()
    w.scope(scope)
    for column, value in (("kind", f.kind), ("school_id", f.school_id), ("jurisdiction", f.jurisdiction),
                          ("level", f.level), ("status", f.status)):
        if value is not None:
            w.add(f"{column} = ?", value)
    if (since := f.since()) is not None:
        w.add("reported_at >= ?", since)
    if (until := f.until()) is not None:
        w.add("reported_at < ?", until)
    if f.overdue is not None:
        w.parts.append("missed_deadlines > 0" if f.overdue else "missed_deadlines = 0")
    if f.flag is not None:
        w.add("? = ANY(flags)", f.flag)
    if f.referred_to_police is not None:
        w.add("referred_to_police = ?", f.referred_to_police)
    if f.public_attention_wide is not None:
        w.add("coalesce(public_attention_wide, false) = ?", f.public_attention_wide)
    if after is not None:
        w.add("(reported_at, incident_id) < (?, ?)", after.reported_at, after.case_id)
    limit_param = w.param(limit)
    rows = await conn.fetch(
        f"SELECT {CASE_COLUMNS} FROM cases WHERE {w.sql()}"
        f" ORDER BY reported_at DESC, incident_id DESC LIMIT {limit_param}",
        *w.args,
    )
    return [dict(r) for r in rows]


# --- the ledger (台账): counts per school and month, and the cases a school's summary names ---

_REPEAT = "(kind = 'incident' AND ({flag} = ANY(flags) OR coalesce(reasons @> {reason}::jsonb, false)))"


def _ledger_where(scope: Scope, school_id: str | None, since: datetime, until: datetime) -> _Where:
    w = _Where()
    w.scope(scope)
    if school_id is not None:
        w.add("school_id = ?", school_id)
    w.add("reported_at >= ?", since)
    w.add("reported_at < ?", until)
    return w


LEDGER_FIELDS = ("incidents", "minor", "serious", "severe", "criminal", "undecided", "hazards", "hazards_open",
                 "hazards_rectified", "late_reports", "overdue", "help_requests", "help_unanswered", "repeat_cases",
                 "lookbacks", "lookbacks_due")


async def ledger_counts(
    conn: Executor, scope: Scope, school_id: str | None, first: date, last: date
) -> list[dict[str, Any]]:
    """Counts per (school_id, jurisdiction, month) from ledger_months, months `first`..`last` (first days,
    Asia/Shanghai). Only a school's or a jurisdiction's scope applies: the ledger is refused to the roles
    that see a selection of incidents (scopes.may_read_ledger)."""
    if scope.kinds is not None or scope.referred_to_police_only or scope.public_attention_only:
        raise ValueError("the ledger counts whole schools and jurisdictions only")
    w = _Where(())
    w.add("month >= ?", first)
    w.add("month <= ?", last)
    if scope.school_id is not None:
        w.add("school_id = ?", scope.school_id)
    if scope.jurisdiction is not None:
        w.add("jurisdiction = ?", scope.jurisdiction)
    if school_id is not None:
        w.add("school_id = ?", school_id)
    rows = await conn.fetch(
        f"SELECT school_id, jurisdiction, month, {', '.join(LEDGER_FIELDS)} FROM ledger_months WHERE {w.sql()}",
        *w.args,
    )
    return [dict(r) for r in rows]


async def ledger_counts_from_cases(
    conn: Executor, scope: Scope, school_id: str | None, since: datetime, until: datetime,
    late_flag: str, repeat_flag: str, repeat_reason: str,
) -> list[dict[str, Any]]:
    """The same counts as ledger_counts, added up from every case of the period: what the trigger on `cases`
    keeps in ledger_months, restated (tests compare the two; the benchmark times both)."""
    w = _ledger_where(scope, school_id, since, until)
    repeat = _REPEAT.format(flag=w.param(repeat_flag), reason=w.param(json.dumps([{"code": repeat_reason}])))
    late = w.param(late_flag)
    levels = ", ".join(f"count(*) FILTER (WHERE kind = 'incident' AND level = '{lv}') AS {lv}"
                       for lv in ("minor", "serious", "severe", "criminal"))
    rows = await conn.fetch(
        "SELECT school_id, jurisdiction, ledger_month(reported_at) AS month,"
        " count(*) FILTER (WHERE kind = 'incident') AS incidents,"
        f" {levels},"
        " count(*) FILTER (WHERE kind = 'incident' AND level IS NULL) AS undecided,"
        " count(*) FILTER (WHERE kind = 'hazard') AS hazards,"
        " count(*) FILTER (WHERE kind = 'hazard' AND rectified_at IS NULL) AS hazards_open,"
        " count(*) FILTER (WHERE kind = 'hazard' AND rectified_at IS NOT NULL) AS hazards_rectified,"
        f" count(*) FILTER (WHERE {late} = ANY(flags)) AS late_reports,"
        " count(*) FILTER (WHERE missed_deadlines > 0) AS overdue,"
        " count(*) FILTER (WHERE kind = 'help') AS help_requests,"
        " count(*) FILTER (WHERE kind = 'help' AND answered_at IS NULL AND converted_incident_id IS NULL)"
        " AS help_unanswered,"
        f" count(*) FILTER (WHERE {repeat}) AS repeat_cases,"
        " count(*) FILTER (WHERE kind = 'lookback') AS lookbacks,"
        " count(*) FILTER (WHERE kind = 'lookback' AND status = 'open') AS lookbacks_due"
        f" FROM cases WHERE {w.sql()} GROUP BY 1, 2, 3",
        *w.args,
    )
    return [dict(r) for r in rows]


async def ledger_cases(
    conn: Executor, scope: Scope, school_id: str, since: datetime, until: datetime,
    late_flag: str, repeat_flag: str, repeat_reason: str, limit: int,
) -> list[dict[str, Any]]:
    """A school's cases of the period that need attention (the ledger's rules), oldest first; no personal data."""
    w = _ledger_where(scope, school_id, since, until)
    repeat = _REPEAT.format(flag=w.param(repeat_flag), reason=w.param(json.dumps([{"code": repeat_reason}])))
    late = w.param(late_flag)
    w.parts.append(
        f"(missed_deadlines > 0 OR {late} = ANY(flags) OR {repeat}"
        " OR (kind = 'hazard' AND rectified_at IS NULL)"
        " OR (kind = 'help' AND answered_at IS NULL AND converted_incident_id IS NULL)"
        " OR (kind = 'lookback' AND status = 'open'))")
    limit_param = w.param(limit)
    rows = await conn.fetch(
        "SELECT case_ref, kind, level, status, flags, missed_deadlines, rectified_at, answered_at,"
        f" converted_incident_id, reported_at, {repeat} AS repeat"
        f" FROM cases WHERE {w.sql()} ORDER BY reported_at, incident_id LIMIT {limit_param}",
        *w.args,
    )
    return [dict(r) for r in rows]


async def sealed_payloads(conn: Executor, case_id: uuid.UUID, event_types: list[str]) -> list[dict[str, Any]]:
    """The sealed payloads of a case's entries of these types, in record order."""
    rows = await conn.fetch(
        "SELECT seq, event_id, event_type, payload_ct FROM entries"
        " WHERE incident_id = $1 AND event_type = ANY($2::text[]) ORDER BY seq",
        case_id, event_types,
    )
    return [dict(r) for r in rows]


# --- officials' accounts -------------------------------------------------------------------------

async def upsert_official(
    conn: Executor, account_id: str, display_name: str, role: str, jurisdiction: str, school_id: str | None,
    password_hash: str,
) -> None:
    await conn.execute(
        "INSERT INTO officials (account_id, display_name, role, jurisdiction, school_id, password_hash)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id) DO UPDATE SET"
        " display_name = EXCLUDED.display_name, role = EXCLUDED.role, jurisdiction = EXCLUDED.jurisdiction,"
        " school_id = EXCLUDED.school_id, password_hash = EXCLUDED.password_hash, disabled_at = NULL",
        account_id, display_name, role, jurisdiction, school_id, password_hash,
    )


async def official_login(conn: Executor, account_id: str) -> dict[str, Any] | None:
    """An active account with its password hash, for a login."""
    row = await conn.fetchrow(
        "SELECT account_id, display_name, role, jurisdiction, school_id, password_hash FROM officials"
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


async def session_official(conn: Executor, token_sha256: str, now: datetime) -> dict[str, Any] | None:
    """The active account behind an unexpired token."""
    row = await conn.fetchrow(
        "SELECT o.account_id, o.display_name, o.role, o.jurisdiction, o.school_id FROM sessions s"
        " JOIN officials o USING (account_id)"
        " WHERE s.token_sha256 = $1 AND s.expires_at > $2 AND o.disabled_at IS NULL",
        token_sha256, now,
    )
    return dict(row) if row else None


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


# --- the access log ------------------------------------------------------------------------------

async def lock_access_head(conn: Conn) -> tuple[int, str]:
    """The access log's head, locked until the transaction ends: reads are logged one after another."""
    row = await conn.fetchrow("SELECT seq, hash FROM access_log_head WHERE id = 1 FOR UPDATE")
    assert row is not None  # inserted by schema.sql
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


# --- officials' acts on a case (approvals, look-back done) ---

async def has_entry(conn: Executor, case_id: uuid.UUID, event_type: str, **summary: str) -> bool:
    """Whether the case's record holds an entry of this type whose summary has these values."""
    return bool(await conn.fetchval(
        "SELECT 1 FROM entries WHERE incident_id = $1 AND event_type = $2 AND summary @> $3::jsonb LIMIT 1",
        case_id, event_type, json.dumps(summary)))


async def disable_official(conn: Conn, account_id: str) -> bool:
    """The account can no longer log in, and its tokens stop working at once."""
    done = await conn.execute("UPDATE officials SET disabled_at = now() WHERE account_id = $1"
                              " AND disabled_at IS NULL", account_id)
    await conn.execute("DELETE FROM sessions WHERE account_id = $1", account_id)
    return done.endswith(" 1")

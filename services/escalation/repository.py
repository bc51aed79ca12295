"""All SQL of escalation (inbox and outbox SQL lives in shared.outbox)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import datetime, timedelta

import asyncpg

from services.escalation.approvals import Proposal
from shared.contracts import ChangeProposed, EscalationDecided, Level, NoticeFacts
from shared.contracts.officials import ChangeResolved
from shared.db import Conn, Executor

SCHEMA = "escalation"
DELETABLE: tuple[str, ...] = ()  # escalation deletes nothing: its role has no DELETE (tests/test_pg_roles.py)


async def save_decision(conn: Conn, decided: EscalationDecided) -> None:
    await conn.execute(
        "INSERT INTO decisions (incident_id, event_id, school_id, level, public_attention_wide, reasons,"
        " recipients, policy_version) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8)"
        " ON CONFLICT (incident_id) DO NOTHING",
        decided.incident_id,
        decided.event_id,
        decided.school_id,
        decided.level.value,
        decided.public_attention_wide,
        json.dumps([r.model_dump() for r in decided.reasons], ensure_ascii=False),
        json.dumps([r.model_dump(mode="json") for r in decided.recipients]),
        decided.policy_version,
    )
    await conn.execute("UPDATE decisions SET flags = $2 WHERE incident_id = $1", decided.incident_id,
                       decided.flags)


async def raise_level(conn: Conn, decided: EscalationDecided) -> None:
    """The decision in force becomes the raised one; the first decision stays in the archive's record."""
    await conn.execute(
        "UPDATE decisions SET level = $2, reasons = $3::jsonb, flags = $4, decided_at = now() WHERE incident_id = $1",
        decided.incident_id, decided.level.value,
        json.dumps([r.model_dump() for r in decided.reasons], ensure_ascii=False), decided.flags,
    )


@dataclass(frozen=True)
class InForce:
    level: Level
    flags: tuple[str, ...]
    facts: NoticeFacts | None
    required: set[tuple[str, str | None]]  # (action id, victim ref) already required
    victims: list[str]


async def in_force(conn: Conn, incident_id: uuid.UUID) -> InForce | None:
    row = await conn.fetchrow(
        "SELECT d.level, d.flags, f.facts FROM decisions d LEFT JOIN case_facts f ON f.case_id = d.incident_id"
        " WHERE d.incident_id = $1", incident_id)
    if row is None:
        return None
    actions = await conn.fetch("SELECT DISTINCT action_id, student_ref FROM obligations WHERE incident_id = $1",
                               incident_id)
    victims = sorted({r["student_ref"] for r in actions if r["action_id"] == "counselling" and r["student_ref"]})
    facts = NoticeFacts.model_validate_json(row["facts"], extra="ignore") if row["facts"] else None
    # a family notice carries its student's ref, yet the action is required for the case as a whole too
    required = {(r["action_id"], r["student_ref"]) for r in actions} | {(r["action_id"], None) for r in actions}
    return InForce(Level(row["level"]), tuple(row["flags"]), facts, required, victims)


async def save_facts(conn: Conn, case_id: uuid.UUID, facts: NoticeFacts) -> None:
    await conn.execute(
        "INSERT INTO case_facts (case_id, facts) VALUES ($1, $2::jsonb)"
        " ON CONFLICT (case_id) DO UPDATE SET facts = EXCLUDED.facts", case_id, facts.model_dump_json())


async def case_facts(conn: Executor, case_id: uuid.UUID) -> NoticeFacts | None:
    raw = await conn.fetchval("SELECT facts FROM case_facts WHERE case_id = $1", case_id)
    return NoticeFacts.model_validate_json(raw, extra="ignore") if raw else None


@dataclass(frozen=True)
class Obligation:
    obligation_id: uuid.UUID
    incident_id: uuid.UUID
    school_id: str
    action_id: str
    kind: str
    role: str
    student_ref: str | None
    notification_id: uuid.UUID | None
    ack_required: bool
    state: str
    due_at: datetime
    period: timedelta
    step: int
    escalate_to: list[str]
    label_zh: str | None = None  # what is owed, when no policy action names it (a campaign's own wording)


_COLUMNS = ("obligation_id, incident_id, school_id, action_id, kind, role, student_ref, notification_id,"
            " ack_required, state, due_at, period, step, escalate_to, label_zh")


async def save_obligations(conn: Conn, obligations: Sequence[Obligation]) -> None:
    await conn.executemany(
        f"INSERT INTO obligations ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
        " $15)"
        " ON CONFLICT (obligation_id) DO NOTHING",
        [astuple(o) for o in obligations],  # fields in _COLUMNS order
    )


SETTLED = ("acknowledged", "done", "waived", "not_applicable")


async def notice_outcome(conn: Conn, notification_id: uuid.UUID, delivered: bool) -> None:
    """Delivered: done unless an acknowledgement is required. Failed: stays undone for the watchdog."""
    await conn.execute(
        "UPDATE obligations SET state = CASE WHEN NOT $2 THEN 'failed'"
        " WHEN ack_required THEN 'delivered' ELSE 'done' END,"
        " how = CASE WHEN $2 AND NOT ack_required THEN 'delivered' END,"
        " settled_by = CASE WHEN $2 AND NOT ack_required THEN 'system' END, updated_at = now()"
        " WHERE notification_id = $1 AND state <> ALL($3::text[])",
        notification_id, delivered, list(SETTLED),
    )


async def notice_undelivered(conn: Conn, notification_id: uuid.UUID) -> None:
    """The provider's receipt says the reader never got it: not done after all (unless they confirmed)."""
    await conn.execute(
        "UPDATE obligations SET state = 'failed', updated_at = now()"
        " WHERE notification_id = $1 AND state <> 'acknowledged'", notification_id)


async def tasks_done(conn: Conn, incident_id: uuid.UUID, action_id: str, student_ref: str | None = None, *,
                     by: str = "system", how: str = "follow_up", note: str | None = None,
                     evidence_ref: str | None = None) -> int:
    """A task reported done (for one student, or for the case as a whole); settled duties stay as they are."""
    result = await conn.execute(
        "UPDATE obligations SET state = 'done', settled_by = $4, how = $5, note = $6, evidence_ref = $7,"
        " updated_at = now() WHERE incident_id = $1 AND action_id = $2 AND kind = 'task'"
        " AND state <> ALL($8::text[]) AND ($3::text IS NULL OR student_ref = $3)",
        incident_id, action_id, student_ref, by, how, note, evidence_ref, list(SETTLED),
    )
    return int(result.split()[-1])


async def has_obligation(conn: Executor, case_id: uuid.UUID, action_id: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT 1 FROM obligations WHERE incident_id = $1 AND action_id = $2 LIMIT 1", case_id, action_id))


async def overdue(conn: Conn, now: datetime, limit: int = 100) -> list[Obligation]:
    """Obligations past their deadline, not done and still chased one by one (not in the daily digest),
    locked for this transaction (replicas skip them)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM obligations WHERE due_at <= $1"
        " AND state NOT IN ('acknowledged', 'done', 'waived', 'not_applicable') AND escalating <> 'digest'"
        " ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        now, limit,
    )
    return [Obligation(**dict(r)) for r in rows]


async def missed(conn: Conn, obligation_id: uuid.UUID, step: int, next_due: datetime, escalating: str) -> None:
    await conn.execute(
        "UPDATE obligations SET step = $2, due_at = $3, escalating = $4, updated_at = now() WHERE obligation_id = $1",
        obligation_id, step, next_due, escalating,
    )


async def obligations_of(conn: Executor, incident_id: uuid.UUID) -> list[Obligation]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM obligations WHERE incident_id = $1 ORDER BY due_at, action_id",
                            incident_id)
    return [Obligation(**dict(r)) for r in rows]


async def unpublished_duties(conn: Conn, limit: int) -> list[asyncpg.Record]:
    """Obligations changed since they were last published; skips those another transaction holds."""
    return await conn.fetch(
        "SELECT obligation_id, incident_id, school_id, action_id, kind, role, student_ref, notification_id,"
        " ack_required, state, due_at, first_due_at, step, escalating, settled_at, settled_by, how, note,"
        " evidence_ref, version, label_zh FROM obligations WHERE version > published_version"
        " ORDER BY updated_at LIMIT $1 FOR UPDATE SKIP LOCKED", limit)


async def duties_published(conn: Conn, published: list[tuple[uuid.UUID, int]]) -> None:
    await conn.executemany("UPDATE obligations SET published_version = $2 WHERE obligation_id = $1"
                           " AND published_version < $2", published)


async def earlier_cases(conn: Executor, pseudonyms: list[bytes], case_id: uuid.UUID, roles: list[str]) -> list[str]:
    """References of other cases in which one of these students had one of these roles, oldest first."""
    rows = await conn.fetch(
        "SELECT case_ref, min(at) AS first FROM student_cases WHERE pseudonym = ANY($1::bytea[])"
        " AND case_id <> $2 AND role = ANY($3::text[]) GROUP BY case_ref ORDER BY first",
        pseudonyms, case_id, roles,
    )
    return [r["case_ref"] for r in rows]


async def remember_students(
    conn: Conn, case_id: uuid.UUID, case_ref: str, school_id: str, at: datetime, students: list[tuple[bytes, str]]
) -> None:
    await conn.executemany(
        "INSERT INTO student_cases (pseudonym, case_id, case_ref, role, school_id, at) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT DO NOTHING",
        [(p, case_id, case_ref, role, school_id, at) for p, role in students],
    )


async def open_actions(conn: Executor, incident_id: uuid.UUID) -> list[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT action_id FROM obligations WHERE incident_id = $1"
        " AND state <> ALL($2::text[]) AND action_id <> 'send_follow_up' ORDER BY action_id",
        incident_id, list(SETTLED),
    )
    return [r["action_id"] for r in rows]


async def lookback_since(conn: Conn, school_id: str, since: datetime) -> bool:
    """Serialised per school until the transaction ends: two of its reports decided at once (a backlog
    after an outage) must not both find no look-back and schedule one each."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('lookback:' || $1::text))", school_id)
    return bool(await conn.fetchval(
        "SELECT 1 FROM obligations WHERE school_id = $1 AND action_id = 'lookback_review' AND created_at > $2"
        " LIMIT 1", school_id, since))


async def notice_acknowledged(conn: Conn, notification_id: uuid.UUID, by: str = "link", how: str = "link") -> None:
    await conn.execute(
        "UPDATE obligations SET state = 'acknowledged', settled_by = $2, how = $3, updated_at = now()"
        " WHERE notification_id = $1 AND state NOT IN ('acknowledged', 'waived', 'not_applicable')",
        notification_id, by, how,
    )


async def save_proposal(conn: Conn, proposed: ChangeProposed) -> None:
    await conn.execute(
        "INSERT INTO proposals (follow_up_id, change, incident_id, level_in_force, proposed_level)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        proposed.follow_up_id, proposed.change, proposed.incident_id, proposed.level_in_force.value,
        proposed.proposed_level.value if proposed.proposed_level else None,
    )


async def pending_proposal(conn: Conn, follow_up_id: uuid.UUID, change: str) -> Proposal | None:
    """The proposal, locked; None when unknown or already resolved."""
    row = await conn.fetchrow(
        "SELECT level_in_force, proposed_level FROM proposals WHERE follow_up_id = $1 AND change = $2"
        " AND status = 'pending' FOR UPDATE", follow_up_id, change)
    if row is None:
        return None
    return Proposal(change, Level(row["level_in_force"]),
                    Level(row["proposed_level"]) if row["proposed_level"] else None)


async def approve(conn: Conn, follow_up_id: uuid.UUID, change: str, approver: str) -> list[str]:
    """Record an approval (once per official) and return every approver so far, in order."""
    await conn.execute("INSERT INTO approvals (follow_up_id, change, approver) VALUES ($1, $2, $3)"
                       " ON CONFLICT DO NOTHING", follow_up_id, change, approver)
    rows = await conn.fetch("SELECT approver FROM approvals WHERE follow_up_id = $1 AND change = $2"
                            " ORDER BY approved_at, approver", follow_up_id, change)
    return [r["approver"] for r in rows]


async def resolve_proposal(conn: Conn, resolved: ChangeResolved) -> None:
    await conn.execute("UPDATE proposals SET status = $3 WHERE follow_up_id = $1 AND change = $2",
                       resolved.follow_up_id, resolved.change, resolved.outcome)
    if resolved.outcome != "applied":
        return
    if resolved.change == "lower":
        await conn.execute("UPDATE decisions SET level = $2, decided_at = now() WHERE incident_id = $1",
                           resolved.incident_id, resolved.level_after.value)
    else:
        # closed: nothing more is owed, not even the next follow-up
        await conn.execute("UPDATE decisions SET closed_at = now() WHERE incident_id = $1", resolved.incident_id)
        await conn.execute("UPDATE obligations SET state = 'not_applicable', how = 'closed', settled_by = 'system',"
                           " updated_at = now() WHERE incident_id = $1 AND state <> ALL($2::text[])",
                           resolved.incident_id, list(SETTLED))

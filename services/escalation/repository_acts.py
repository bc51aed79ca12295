"""escalation's SQL for officials' acts (next to repository.py, which holds the rest of the service's SQL).

Four-eyes acts reuse the approvals of a school's proposals: a closure asked by officials is a proposal
whose id is a closure round of the case ("closure"), a waiver counts approvals keyed by the duty ("waive").
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from services.escalation import repository
from services.escalation.repository import SETTLED
from shared.contracts import Level, NoticeFacts, Reason
from shared.contracts.base import derive_id
from shared.db import Conn


async def lock_case(conn: Conn, case_id: uuid.UUID) -> None:
    """Acts on one case, one at a time until the transaction ends: two officials' four-eyes acts arriving
    together must each see the other's approval, not both count one."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('act:' || $1::uuid::text))", case_id)


@dataclass(frozen=True)
class CaseNow:
    """The decision in force on an incident, as acts need it."""

    level: Level
    flags: tuple[str, ...]
    reasons: tuple[Reason, ...]
    policy_version: str
    closed: bool
    facts: NoticeFacts | None
    required: set[tuple[str, str | None]]  # (action id, victim ref) already required
    victims: list[str]


async def case_now(conn: Conn, incident_id: uuid.UUID) -> CaseNow | None:
    current = await repository.in_force(conn, incident_id)
    row = await conn.fetchrow("SELECT reasons, policy_version, closed_at FROM decisions WHERE incident_id = $1",
                              incident_id)
    if current is None or row is None:
        return None
    reasons = tuple(Reason(**r) for r in json.loads(row["reasons"]))
    return CaseNow(current.level, current.flags, reasons, row["policy_version"], row["closed_at"] is not None,
                   current.facts, current.required, current.victims)


async def add_flag(conn: Conn, incident_id: uuid.UUID, flag: str) -> None:
    """A flag set by an official's act (wide public attention): later decisions carry it on."""
    await conn.execute(
        "UPDATE decisions SET flags = ARRAY(SELECT DISTINCT f FROM unnest(flags || $2::text) AS f ORDER BY f),"
        " public_attention_wide = public_attention_wide OR $2 = 'wide_public_attention' WHERE incident_id = $1",
        incident_id, flag)


async def closure_round(conn: Conn, incident_id: uuid.UUID, level: Level) -> uuid.UUID:
    """The officials' closure round of the case still pending, or a new one once the last was decided."""
    n = 0
    while True:
        round_id = derive_id("closure-by-officials", incident_id, n)
        status = await conn.fetchval("SELECT status FROM proposals WHERE follow_up_id = $1 AND change = 'closure'",
                                     round_id)
        if status is None:
            await conn.execute("INSERT INTO proposals (follow_up_id, change, incident_id, level_in_force)"
                               " VALUES ($1, 'closure', $2, $3)", round_id, incident_id, level.value)
            return round_id
        if status == "pending":
            return round_id
        n += 1


@dataclass(frozen=True)
class DutyNow:
    obligation_id: uuid.UUID
    incident_id: uuid.UUID
    state: str
    note: str | None

    @property
    def settled(self) -> bool:
        return self.state in SETTLED


async def duty(conn: Conn, obligation_id: uuid.UUID) -> DutyNow | None:
    row = await conn.fetchrow("SELECT obligation_id, incident_id, state, note FROM obligations"
                              " WHERE obligation_id = $1", obligation_id)
    return DutyNow(**dict(row)) if row else None


async def duty_of(conn: Conn, case_id: uuid.UUID, action_id: str) -> DutyNow | None:
    """A case's one duty of this action (a help request's answer, say)."""
    row = await conn.fetchrow("SELECT obligation_id, incident_id, state, note FROM obligations"
                              " WHERE incident_id = $1 AND action_id = $2 ORDER BY created_at LIMIT 1",
                              case_id, action_id)
    return DutyNow(**dict(row)) if row else None


async def waive(conn: Conn, obligation_id: uuid.UUID, by: list[str]) -> bool:
    """Waived by these officials (not if it is settled meanwhile); True when it changed."""
    result = await conn.execute(
        "UPDATE obligations SET state = 'waived', settled_by = $2, how = 'waived', updated_at = now()"
        " WHERE obligation_id = $1 AND state <> ALL($3::text[])", obligation_id, ",".join(by), list(SETTLED))
    return result.split()[-1] != "0"


async def police_received(conn: Conn, incident_id: uuid.UUID, by: str) -> int:
    """The police's notices of the case are acknowledged by the officer who recorded the receipt."""
    result = await conn.execute(
        "UPDATE obligations SET state = 'acknowledged', settled_by = $2, how = 'police_received', updated_at = now()"
        " WHERE incident_id = $1 AND kind = 'notice' AND role = 'police' AND state <> ALL($3::text[])",
        incident_id, by, list(SETTLED))
    return int(result.split()[-1])


async def reopen(conn: Conn, obligation_id: uuid.UUID, due_at: datetime, note: str) -> None:
    """Owed again, by a new deadline, from the start of its chain (the versions before stay in the record)."""
    await conn.execute(
        "UPDATE obligations SET state = 'pending', due_at = $2, first_due_at = $2, step = 0, escalating = 'chain',"
        " note = $3, evidence_ref = NULL, updated_at = now() WHERE obligation_id = $1",
        obligation_id, due_at, note)

"""Officials' acts: what an act needs to know of the record, and what it changes in the projection."""

from __future__ import annotations

import json
import uuid
from typing import Any

from shared.db import Conn, Executor


async def count_entries(conn: Executor, case_id: uuid.UUID, event_type: str, **summary: str) -> int:
    """How many entries of this type, whose summary has these values, the case's record holds."""
    return int(await conn.fetchval(
        "SELECT count(*) FROM entries WHERE incident_id = $1 AND event_type = $2 AND summary @> $3::jsonb",
        case_id, event_type, json.dumps(summary)))


async def latest_duty(conn: Executor, case_id: uuid.UUID, obligation_id: uuid.UUID) -> dict[str, Any] | None:
    """The newest version the record holds of one of the case's duties (its clear summary), or None."""
    raw = await conn.fetchval(
        "SELECT summary FROM entries WHERE incident_id = $1 AND event_type = 'DutyUpdated'"
        " AND summary @> $2::jsonb ORDER BY (summary ->> 'version')::int DESC, seq DESC LIMIT 1",
        case_id, json.dumps({"obligation_id": str(obligation_id)}))
    return dict(json.loads(raw)) if raw else None


async def case_acted(conn: Conn, case_id: uuid.UUID, *, referred: bool = False, wide: bool = False) -> None:
    """A referral to the police or wide public attention, by an official's act: from now on the police
    (or the stability office) see the case. Like a decision's, these only ever accumulate."""
    if not (referred or wide):
        return
    await conn.execute(
        "INSERT INTO cases (incident_id, referred_to_police, public_attention_wide, flags)"
        " VALUES ($1, $2, $3, CASE WHEN $3 THEN ARRAY['wide_public_attention'] ELSE '{}'::text[] END)"
        " ON CONFLICT (incident_id) DO UPDATE SET"
        " referred_to_police = cases.referred_to_police OR EXCLUDED.referred_to_police,"
        " public_attention_wide = coalesce(cases.public_attention_wide, false) OR EXCLUDED.public_attention_wide,"
        " flags = ARRAY(SELECT DISTINCT f FROM unnest(cases.flags || EXCLUDED.flags) AS f ORDER BY f)",
        case_id, referred, wide)

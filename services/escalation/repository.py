"""All SQL of escalation (inbox and outbox SQL lives in shared.outbox)."""

from __future__ import annotations

import json

from shared.contracts import EscalationDecided
from shared.db import Conn

SCHEMA = "escalation"


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

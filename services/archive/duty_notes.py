"""Duties' notes, opened from their sealed record entries for the roles that see personal data.

A note is free text by a school or an official ("家长到校，班主任当面告知") and may name a child, so the
projection keeps only which entry holds it; a destroyed case key takes the notes with it.
"""

from __future__ import annotations

import uuid

from services.archive import repository
from services.archive.duties import DutyNote
from services.archive.payloads import open_payload
from shared.contracts.duties import DutyUpdated
from shared.db import Conn


async def duty_notes(conn: Conn, case_id: uuid.UUID) -> list[DutyNote]:
    out: list[DutyNote] = []
    for row in await repository.duty_note_entries(conn, case_id):
        plain = await open_payload(conn, case_id, row["event_id"], bytes(row["payload_ct"]))
        if plain is None:
            continue  # shredded
        event = DutyUpdated.model_validate_json(plain, extra="ignore")
        if event.duty.note:
            out.append(DutyNote(obligation_id=row["obligation_id"], note=event.duty.note))
    return out

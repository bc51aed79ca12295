"""The screening records' projections (issue 16): the latest return and the latest bureau screening per
campaign, phase and school, which coverage and the ledger read. The projector reads the record as the
archive keeps it (its content opened: the ids of the hazards it names); ids and counts only are kept."""

from __future__ import annotations

import uuid
from typing import Any

from services.archive.repository import screening as sql
from shared.contracts.campaign import CampaignRecordFiled
from shared.db import Conn


def _row(event: CampaignRecordFiled) -> dict[str, Any]:
    content = event.content or {}
    supersedes = content.get("supersedes")
    return {"campaign_id": event.campaign_id, "phase_id": event.phase_id, "school_id": event.school_id,
            "record_id": event.record_id, "supersedes": uuid.UUID(supersedes) if supersedes else None,
            "filed_at": event.occurred_at, "filed_by": event.filed_by}


async def project_return(conn: Conn, event: CampaignRecordFiled) -> None:
    f, content = event.facts, event.content or {}
    await sql.upsert_return(conn, {**_row(event), "students_screened": f.students_screened or 0,
                                   "parent_talks": f.parent_talks or 0, "nothing_found": bool(f.nothing_found),
                                   "hazard_ids": [uuid.UUID(h) for h in content.get("hazard_ids", [])]})


async def project_screening(conn: Conn, event: CampaignRecordFiled) -> None:
    hazards = (event.content or {}).get("hazards", [])
    await sql.upsert_screening(conn, {**_row(event), "aspects_with_problems": event.facts.aspects_with_problems or 0,
                                      "problem_aspects": [str(h["aspect"]) for h in hazards],
                                      "hazard_ids": [uuid.UUID(h["hazard_id"]) for h in hazards]})

"""Campaign records (issue 16) in the read side: each record kind's own projection, found by its kind.

The chain keeps every record whatever its kind; this only fills the tables the campaign's views read.
A kind's module adds its projector to `PROJECTORS`; a kind without one is kept in the chain only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.archive.repository.summaries import project_summary
from services.archive.screening_records import project_return, project_screening
from services.archive.training_filing import project_training
from shared.contracts.campaign import CampaignRecordFiled, RecordKind
from shared.db import Conn

Projector = Callable[[Conn, CampaignRecordFiled], Awaitable[None]]

PROJECTORS: dict[RecordKind, Projector] = {
    RecordKind.training: project_training,
    RecordKind.student_screening: project_return,
    RecordKind.school_screening: project_screening,
    RecordKind.summary: project_summary,
}


async def project_record(conn: Conn, event: CampaignRecordFiled) -> None:
    projector = PROJECTORS.get(event.kind)
    if projector is not None:
        await projector(conn, event)

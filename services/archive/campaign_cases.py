"""A started campaign in the read side (issue 16): its `campaigns` row, and a case of kind `campaign` for
each school's part and for the campaign in the jurisdiction, so that the cases' scopes apply to campaign
duties as to any other: a school sees its own part, the bureau its jurisdiction's, nobody else any.

The campaign-level case belongs to no school: its `school_id` is `LEVEL_SCHOOL`, which no school has, so
that it is listed for the bureau and for no school's staff.
"""

from __future__ import annotations

import uuid

from services.archive import repository
from shared.contracts.campaign import CampaignStarted, campaign_case_id
from shared.db import Conn

KIND = "campaign"
REF_PREFIX = "ZX"
LEVEL_SCHOOL = "-"


def ref(case_id: uuid.UUID) -> str:
    """ZX-…, made like projection.ref (which imports this module)."""
    return f"{REF_PREFIX}-{case_id.hex[:8].upper()}"


async def project_started(conn: Conn, event: CampaignStarted) -> None:
    await repository.add_campaign(conn, event.campaign_id, event.jurisdiction, event.version, event.plan,
                                  event.school_ids, event.occurred_at, event.started_by, event.event_id)
    for school_id in event.school_ids:
        case_id = campaign_case_id(event.campaign_id, school_id)
        await repository.case_opened(conn, case_id, KIND, ref(case_id), school_id, event.jurisdiction,
                                     event.occurred_at)
    await repository.case_opened(conn, event.case_id, KIND, ref(event.case_id), LEVEL_SCHOOL,
                                 event.jurisdiction, event.occurred_at)

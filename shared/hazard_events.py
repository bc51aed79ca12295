"""A hazard finding as the event every service reads (HazardReported v2), whoever files it.

intake publishes the findings schools report; the archive publishes those the bureau's screening of a
school finds (issue 16). Both go through here, so that escalation, intake and the archive see one shape:
the facts escalation holds the school to in clear, what was seen and done sealed for the archive.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from shared.bus_seal import producer
from shared.contracts.base import derive_id
from shared.contracts.hazard import HazardFinding, HazardReported, hazard_context, hazard_facts


def reported_event(hazard_id: uuid.UUID, finding: HazardFinding, occurred_at: datetime | None = None) -> HazardReported:
    event_id = derive_id("hazard-reported", hazard_id)
    when = {"occurred_at": occurred_at} if occurred_at is not None else {}
    return HazardReported(event_id=event_id, hazard_id=hazard_id, school_id=finding.school_id, schema_version=2,
                          rules=hazard_facts(finding), personal=producer().seal(
                              finding.model_dump(mode="json"), hazard_context("HazardReported", hazard_id, event_id)),
                          **when)

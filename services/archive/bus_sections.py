"""What the archive keeps of an event whose personal section travelled sealed (pure but for the key).

The archive is a reader of the bus's sealed boxes (ARCHIVE_BUS_PRIVATE_KEY): it opens the personal section
sealed for it and records the event in its opened (v1) shape — under the case's own data key, so
crypto-shredding the case reaches it, and every read of the record works as before. A box sealed for
notify alone (a guardian's contact in a notice) stays as it came, unread, inside that same sealed payload.
"""

from __future__ import annotations

from shared.bus_seal import Opening
from shared.contracts import IncidentReport, IncidentReported
from shared.contracts.base import Event
from shared.contracts.duties import DutyDischarged, DutyUpdated, note_context
from shared.contracts.follow_up import FollowUp, FollowUpReported, follow_up_context
from shared.contracts.hazard import (
    HazardFinding,
    HazardProgress,
    HazardProgressed,
    HazardReported,
    hazard_context,
)
from shared.contracts.incident import report_context
from shared.contracts.sealed import ARCHIVE, SealedSections


class SectionsUnreadable(RuntimeError):
    """A sealed section arrived and this archive has no key to open it (ARCHIVE_BUS_PRIVATE_KEY unset)."""


class BusSections:
    def __init__(self, private_key_b64: str) -> None:
        self._opening = Opening(ARCHIVE, private_key_b64) if private_key_b64 else None

    def _open(self) -> Opening:
        if self._opening is None:
            raise SectionsUnreadable("ARCHIVE_BUS_PRIVATE_KEY is not set: a sealed section cannot be recorded")
        return self._opening

    def for_record(self, event: Event) -> Event:
        """The event as the record keeps it. Raises for a box that does not open (altered or moved): the
        message is refused, and dead-lettered after its attempts, rather than recorded without its data."""
        match event:
            case IncidentReported(personal=box) if box is not None:
                report = IncidentReport.model_validate(self._open().open(box, report_context(event.incident_id)))
                return event.model_copy(update={"report": report, "personal": None})
            case FollowUpReported(personal=box) if box is not None:
                context = follow_up_context(event.incident_id, event.follow_up_id)
                follow_up = FollowUp.model_validate(self._open().open(box, context))
                return event.model_copy(update={"follow_up": follow_up, "personal": None})
            case HazardReported(personal=box) if box is not None:
                context = hazard_context(event.event_type, event.hazard_id, event.event_id)
                finding = HazardFinding.model_validate(self._open().open(box, context))
                return event.model_copy(update={"finding": finding, "personal": None})
            case HazardProgressed(personal=box) if box is not None:
                context = hazard_context(event.event_type, event.hazard_id, event.event_id)
                progress = HazardProgress.model_validate(self._open().open(box, context))
                return event.model_copy(update={"progress": progress, "personal": None})
            case DutyUpdated(duty=duty) if duty.note_sealed is not None:
                note = self._open().open(duty.note_sealed, note_context(event.incident_id))
                return event.model_copy(update={"duty": duty.model_copy(update={"note": note, "note_sealed": None})})
            case DutyDischarged(note_sealed=box) if box is not None:
                note = self._open().open(box, note_context(event.incident_id))
                return event.model_copy(update={"note": note, "note_sealed": None})
            case SealedSections(personal=box) if box is not None:
                return self._open().sections(event)
        return event

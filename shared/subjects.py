"""Every NATS subject and JetStream stream of the system, in one place.

Subjects name event types only: never a school, a student or anything personal.
"""

from __future__ import annotations

from dataclasses import dataclass

INCIDENT_REPORTED = "ab.incident.reported"
FOLLOW_UP_REPORTED = "ab.incident.followup"
HAZARD_REPORTED = "ab.hazard.reported"
HAZARD_PROGRESSED = "ab.hazard.progressed"
HELP_REQUESTED = "ab.help.requested"
HELP_MESSAGE_ADDED = "ab.help.message"
HELP_CONVERTED = "ab.help.converted"
HELP_RESOLVED = "ab.help.resolved"
ESCALATION_DECIDED = "ab.escalation.decided"
DEADLINE_MISSED = "ab.escalation.deadline_missed"
CHANGE_PROPOSED = "ab.escalation.change_proposed"
LOOKBACK_SCHEDULED = "ab.escalation.lookback_scheduled"
CHANGE_RESOLVED = "ab.escalation.change_resolved"
NOTIFICATION_REQUESTED = "ab.notify.requested"
NOTIFICATION_DELIVERED = "ab.notify.delivered"
NOTIFICATION_FAILED = "ab.notify.failed"
NOTIFICATION_ACKNOWLEDGED = "ab.notify.acknowledged"
NOTIFICATION_RECEIVED = "ab.notify.received"
CHANGE_APPROVED = "ab.official.change_approved"
LOOKBACK_COMPLETED = "ab.official.lookback_completed"
LOOKBACK_REQUESTED = "ab.official.lookback_requested"
# the work plan as a campaign (issue 16): records filed through the archive for a school's part of a phase
CAMPAIGN_RECORD_FILED = "ab.official.campaign_record"
CAMPAIGN_STARTED = "ab.official.campaign_started"
# public disclosure of a grave case's handling (issue 16 item 4): drafted, approved, published, withdrawn
DISCLOSURE_CHANGED = "ab.official.disclosure"
OFFICIAL_ACTED = "ab.official.acted"
DUTY_UPDATED = "ab.duty.updated"
DUTY_DISCHARGED = "ab.duty.discharged"
FAMILY_MESSAGE_ADDED = "ab.notify.family_message"
# letters to every parent (issue 12): approved at archive, fanned out at intake, sent at notify.
# Not below ab.notify.requested: notify consumes batches on their own durable consumer, away from notices.
LETTER_APPROVED = "ab.official.letter_approved"
LETTER_FANNED_OUT = "ab.notify.letter_fanned_out"
LETTER_BATCH_REQUESTED = "ab.notify.letter_batch"
LETTER_BATCH_SENT = "ab.notify.letter_sent"
LETTER_READ = "ab.notify.letter_read"
LETTER_WRONG_NUMBER = "ab.notify.letter_wrong_number"
LETTER_RECEIPTS = "ab.notify.letter_receipts"
DEAD_LETTER_PREFIX = "ab.dlq"

DAY = 24 * 3600.0
GIB = 1024**3


# How long a stream keeps an event: what recovery needs, no more (docs/security.md "Children's data on the bus").
# Consumers that were down catch up from their durable position, a dead letter that is a reference replays from
# its stream, a consumer is rebuilt: 14 days covers the longest holiday closure (春节, 国庆: 7–8 days) and the
# time to notice and mend. The archive is the record; the bus is not kept for evidence.
RECOVERY_WINDOW_S = 14 * DAY
# Dead letters wait for a person: alerted at once (antibully_dead_letters_pending), their body sealed or a
# reference, kept long enough to be dealt with after an incident of the service itself.
DEAD_LETTER_WINDOW_S = 90 * DAY


@dataclass(frozen=True)
class StreamSpec:
    """A JetStream stream: file storage, a duplicate window, and limits that refuse rather than drop."""

    name: str
    subjects: tuple[str, ...]
    max_age_s: float = RECOVERY_WINDOW_S
    max_bytes: int = 2 * GIB
    max_msg_size: int = 1024 * 1024
    duplicate_window_s: float = 1 * DAY


REPORTS = StreamSpec("AB_REPORTS", ("ab.incident.>", "ab.hazard.>"))
# Help requests come from the public (an access code on a poster), so they have a stream of their own
# (issue 14): when it is full (discard=new), help requests wait with 503 while schools' reports go on.
HELP = StreamSpec("AB_HELP", ("ab.help.>",), max_bytes=256 * 1024**2, max_msg_size=256 * 1024)
ESCALATION = StreamSpec("AB_ESCALATION", ("ab.escalation.>",))
NOTIFY = StreamSpec("AB_NOTIFY", ("ab.notify.>",))
OFFICIALS = StreamSpec("AB_OFFICIALS", ("ab.official.>",))
DUTIES = StreamSpec("AB_DUTIES", ("ab.duty.>",))
DEAD_LETTERS = StreamSpec("AB_DEAD_LETTERS", (f"{DEAD_LETTER_PREFIX}.>",), max_age_s=DEAD_LETTER_WINDOW_S)

# REPORTS before HELP: an upgrade first takes ab.help.> out of AB_REPORTS, then gives it to AB_HELP.
STREAMS: tuple[StreamSpec, ...] = (REPORTS, HELP, ESCALATION, NOTIFY, OFFICIALS, DUTIES, DEAD_LETTERS)


def stream_for(subject: str) -> StreamSpec:
    for spec in STREAMS:
        for pattern in spec.subjects:
            if subject.startswith(pattern.removesuffix(">")):
                return spec
    raise KeyError(subject)


def dead_letter_subject(service: str) -> str:
    return f"{DEAD_LETTER_PREFIX}.{service}"

"""Every message on the bus, as a pydantic model. Services import these, never each other."""

from shared.contracts.base import Event
from shared.contracts.escalation import (
    ActionDue,
    ChangeProposed,
    DeadlineMissed,
    EscalationDecided,
    Level,
    LookBackScheduled,
    Reason,
    RecipientRole,
    RecipientSummary,
)
from shared.contracts.incident import (
    Category,
    Guardian,
    IncidentReport,
    IncidentReported,
    Indicators,
    Injury,
    PublicAttention,
    Reporter,
    Student,
    StudentRole,
)
from shared.contracts.notification import (
    NoticeFacts,
    NotificationAcknowledged,
    NotificationDelivered,
    NotificationFailed,
    NotificationRequested,
    Recipient,
)

__all__ = [
    "ActionDue",
    "Category",
    "ChangeProposed",
    "DeadlineMissed",
    "EscalationDecided",
    "Event",
    "Guardian",
    "IncidentReport",
    "IncidentReported",
    "Indicators",
    "Injury",
    "Level",
    "LookBackScheduled",
    "NoticeFacts",
    "NotificationAcknowledged",
    "NotificationDelivered",
    "NotificationFailed",
    "NotificationRequested",
    "PublicAttention",
    "Reason",
    "Recipient",
    "RecipientRole",
    "RecipientSummary",
    "Reporter",
    "Student",
    "StudentRole",
]

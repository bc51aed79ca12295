"""The read side's projection of each archived event: the facts the API lists, filters and scopes on."""

from __future__ import annotations

import uuid

from services.archive import repository
from services.archive.campaign_cases import project_started
from services.archive.campaign_records import project_record
from services.archive.duties import duty_row
from services.archive.letters import project_letter
from shared.contracts import (
    DeadlineMissed,
    EscalationDecided,
    IncidentReported,
    LookBackScheduled,
    NotificationAcknowledged,
    NotificationDelivered,
    NotificationFailed,
    NotificationRequested,
    RecipientRole,
)
from shared.contracts.acts import Act, OfficialActed
from shared.contracts.base import Event
from shared.contracts.campaign import CampaignRecordFiled, CampaignStarted
from shared.contracts.duties import DutyUpdated
from shared.contracts.hazard import HazardProgressed, HazardReported
from shared.contracts.help import Author, HelpConverted, HelpMessageAdded, HelpRequested, HelpResolved
from shared.contracts.letters import LetterEvent
from shared.contracts.notification import NotificationReceived
from shared.contracts.officials import ChangeResolved, LookBackCompleted
from shared.db import Conn
from shared.directory import Directory


def ref(prefix: str, case_id: uuid.UUID) -> str:
    """The reference officials see in notices (escalation makes the same ones)."""
    return f"{prefix}-{case_id.hex[:8].upper()}"


async def project(conn: Conn, event: Event, directory: Directory, opened: Event | None = None) -> None:
    """`opened`: the event as the record keeps it (sealed sections opened): a campaign record's projection
    reads what was filed (dates, roles, counts) from its content, which travels sealed on the bus."""
    match event:
        case IncidentReported():
            await _opened(conn, event, "incident", ref("AB", event.incident_id), event.school_id, directory)
        case HazardReported():
            await _opened(conn, event, "hazard", ref("HZ", event.hazard_id), event.school_id, directory,
                          risk_level=event.facts.risk_level.value)
        case HelpRequested():
            await _opened(conn, event, "help", event.case_code, event.school_id, directory, urgent=event.urgent)
        case LookBackScheduled():
            await _opened(conn, event, "lookback", ref("LB", event.lookback_id), event.school_id, directory)
        case CampaignStarted():
            await project_started(conn, event)
        case CampaignRecordFiled():
            await project_record(conn, opened if isinstance(opened, CampaignRecordFiled) else event)
        case HazardProgressed() if event.facts.completed:
            await repository.case_rectified(conn, event.hazard_id, event.facts.at)
        case HelpMessageAdded(author=Author.school):
            await repository.case_answered(conn, event.help_id, event.occurred_at)
        case HelpConverted():
            await repository.case_converted(conn, event.help_id, event.incident_id)
        case HelpResolved():  # an answer with a reason; the tip stays unconverted (ledger)
            await repository.case_answered(conn, event.help_id, event.occurred_at)
        case DeadlineMissed():
            await repository.case_deadline_missed(conn, event.incident_id)
        case EscalationDecided():
            await repository.case_decided(
                conn, event.incident_id, event.school_id, directory.jurisdiction_of(event.school_id),
                event.level.value, event.public_attention_wide, [r.model_dump() for r in event.reasons],
                event.policy_version, event.occurred_at, event.flags,
                any(r.role is RecipientRole.police for r in event.recipients),
            )
            for r in event.recipients:
                await repository.recipient_status(conn, r.notification_id, event.incident_id, r.role.value,
                                                  "requested")
        case NotificationRequested():
            await repository.recipient_status(conn, event.notification_id, event.incident_id,
                                              event.recipient.role.value, "requested")
        case NotificationDelivered():
            await repository.recipient_status(conn, event.notification_id, event.incident_id, event.role.value,
                                              "delivered")
        case NotificationAcknowledged():
            await repository.recipient_status(conn, event.notification_id, event.incident_id, event.role.value,
                                              "acknowledged")
        case NotificationFailed():
            await repository.recipient_status(conn, event.notification_id, event.incident_id, event.role.value,
                                              "failed", event.reason)
        case NotificationReceived():
            await repository.recipient_status(conn, event.notification_id, event.incident_id, event.role.value,
                                              "received" if event.delivered else "undelivered",
                                              None if event.delivered else event.code)
        case ChangeResolved(outcome="applied"):
            await repository.case_changed(conn, event.incident_id, level=event.level_after.value,
                                          closed=event.change == "closure")
        case LookBackCompleted():
            await repository.case_changed(conn, event.lookback_id, closed=True)
        case OfficialActed(act=Act.refer_to_police | Act.flag_public_attention):
            # at once: the police (or the stability office) must see the case the act puts in their hands
            await repository.case_acted(conn, event.incident_id, referred=event.act is Act.refer_to_police,
                                        wide=event.act is Act.flag_public_attention)
        case DutyUpdated():
            await repository.upsert_duty(conn, duty_row(event, directory.jurisdiction_of(event.school_id)))
        case LetterEvent():
            await project_letter(conn, event, directory)


async def _opened(conn: Conn, event: Event, kind: str, case_ref: str, school_id: str, directory: Directory,
                  *, risk_level: str | None = None, urgent: bool | None = None) -> None:
    await repository.case_opened(conn, event.case_id, kind, case_ref, school_id, directory.jurisdiction_of(school_id),
                                 event.occurred_at, risk_level=risk_level, urgent=urgent)

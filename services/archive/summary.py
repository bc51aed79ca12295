"""The readable, non-personal part of each record entry (pure). Everything else is sealed."""

from __future__ import annotations

from collections import Counter
from typing import Any

from services.archive.letters import letter_summary
from shared.contracts import (
    ChangeProposed,
    DeadlineMissed,
    EscalationDecided,
    IncidentReport,
    IncidentReported,
    LookBackScheduled,
    NotificationAcknowledged,
    NotificationDelivered,
    NotificationFailed,
    NotificationRequested,
)
from shared.contracts.acts import LookBackRequested, OfficialActed
from shared.contracts.base import Event
from shared.contracts.campaign import CampaignRecordFiled, CampaignStarted
from shared.contracts.disclosure import DisclosureChanged
from shared.contracts.duties import DutyDischarged, DutyUpdated
from shared.contracts.follow_up import FollowUp, FollowUpReported
from shared.contracts.hazard import HazardProgressed, HazardReported
from shared.contracts.help import HelpConverted, HelpMessageAdded, HelpRequested, HelpResolved, Requester
from shared.contracts.letters import LetterEvent
from shared.contracts.notification import FamilyMessageAdded, NotificationReceived
from shared.contracts.officials import ChangeApproved, ChangeResolved, LookBackCompleted


def summarise(event: Event) -> dict[str, Any]:
    """Of the event as the record keeps it (its sealed sections opened: bus_sections.py)."""
    match event:
        case IncidentReported(report=IncidentReport() as r):
            return {
                "school_id": event.school_id,
                "category": r.category.value,
                "occurred_at": r.occurred_at.isoformat(),
                "discovered_at": r.discovered_at.isoformat(),
                "students_by_role": dict(Counter(s.role.value for s in r.students)),
                "indicators": r.indicators.model_dump(mode="json"),
                "measures_count": len(r.measures_taken),
            }
        case IncidentReported():  # not opened (only ever in a test of the summary)
            return {"school_id": event.school_id, "category": event.facts.category.value}
        case FollowUpReported(follow_up=FollowUp() as f):  # the archive's copy: opened
            return {
                "follow_up_id": str(event.follow_up_id),
                "seq": event.seq,
                "changed": sorted(k for k, v in f.model_dump(exclude={"propose_closure"}).items() if v),
                "indicators": f.indicators.model_dump(mode="json") if f.indicators else None,
                "sanctions": len(f.sanctions),
                "counselling": len(f.counselling),
                "propose_closure": f.propose_closure,
            }
        case FollowUpReported():  # not opened (only ever in a test of the summary)
            return {"follow_up_id": str(event.follow_up_id), "seq": event.seq}
        case EscalationDecided():
            return {
                "level": event.level.value,
                "reasons": [r.code for r in event.reasons],
                "public_attention_wide": event.public_attention_wide,
                "recipients": len(event.recipients),
                "policy_version": event.policy_version,
                "flags": sorted(event.flags),
            }
        case ChangeProposed():
            return {"follow_up_id": str(event.follow_up_id), "change": event.change,
                    "level_in_force": event.level_in_force.value,
                    "proposed_level": event.proposed_level.value if event.proposed_level else None,
                    "open_actions": event.open_actions}
        case DeadlineMissed():
            return {"obligation_id": str(event.obligation_id), "action_id": event.action_id,
                    "role": event.role.value, "state": event.state, "due_at": event.due_at.isoformat(),
                    "step": event.step, "escalated_to": event.escalated_to}
        case NotificationRequested():
            return {"notification_id": str(event.notification_id), "role": event.recipient.role.value,
                    "purpose": event.purpose, "has_address": event.recipient.reachable}
        case NotificationDelivered():
            return {"notification_id": str(event.notification_id), "role": event.role.value,
                    "channel": event.channel, "provider": event.provider, "attempts": event.attempts,
                    "fallbacks": event.fallbacks}
        case NotificationAcknowledged():
            return {"notification_id": str(event.notification_id), "role": event.role.value}
        case NotificationFailed():
            return {"notification_id": str(event.notification_id), "role": event.role.value,
                    "channel": event.channel, "reason": event.reason, "attempts": event.attempts,
                    "tried": event.tried}
        case HazardReported():  # the same from the rules' facts and from the archive's opened copy
            h = event.facts
            return {"school_id": event.school_id, "kind": h.kind.value, "risk_level": h.risk_level.value,
                    "found_at": h.found_at.isoformat(), "due_date": h.due_date.isoformat(),
                    "students_by_role": dict(Counter(s.role.value for s in h.students))}
        case HazardProgressed():
            return {"progress_id": str(event.progress_id), "seq": event.seq, "at": event.facts.at.isoformat(),
                    "completed": event.facts.completed}
        case HelpRequested(requester=Requester() as who):  # the archive's copy: opened
            # The requester's words and identity stay sealed: only that someone asked, and how urgently.
            return {"school_id": event.school_id, "case_code": event.case_code,
                    "requester_kind": who.kind.value, "anonymous": who.anonymous, "urgent": event.urgent}
        case HelpRequested():
            return {"school_id": event.school_id, "case_code": event.case_code, "urgent": event.urgent}
        case HelpMessageAdded():
            return {"seq": event.seq, "author": event.author.value}
        case HelpConverted():
            return {"incident_id": str(event.incident_id)}
        case LookBackScheduled():
            return {"school_id": event.school_id, "trigger_incident_id": str(event.trigger_incident_id)
                    if event.trigger_incident_id else None,
                    "due_at": event.due_at.isoformat()}
        case ChangeApproved():
            return {"follow_up_id": str(event.follow_up_id), "change": event.change, "approver": event.approver,
                    "jurisdiction": event.jurisdiction, "has_comment": bool(event.comment)}
        case ChangeResolved():
            return {"follow_up_id": str(event.follow_up_id), "change": event.change, "outcome": event.outcome,
                    "approvers": event.approvers, "level_before": event.level_before.value,
                    "level_after": event.level_after.value, "open_actions": event.open_actions}
        case CampaignStarted():
            return {"campaign_id": event.campaign_id, "version": event.version, "jurisdiction": event.jurisdiction,
                    "schools": len(event.school_ids), "started_by": event.started_by}
        case CampaignRecordFiled():
            return {"campaign_id": event.campaign_id, "phase_id": event.phase_id, "school_id": event.school_id,
                    "kind": event.kind.value, "record_id": str(event.record_id), "filed_by": event.filed_by,
                    "facts": event.facts.model_dump(mode="json", exclude_none=True)}
        case LookBackCompleted():
            return {"school_id": event.school_id, "by": event.by, "has_findings": bool(event.findings)}
        case NotificationReceived():
            return {"notification_id": str(event.notification_id), "role": event.role.value,
                    "provider": event.provider, "delivered": event.delivered, "code": event.code}
        case DutyUpdated(duty=d):
            return {"obligation_id": str(d.obligation_id), "action_id": d.action_id, "role": d.role,
                    "student_ref": d.student_ref, "state": d.state.value, "due_at": d.due_at.isoformat(),
                    "missed": d.missed, "escalating": d.escalating.value, "how": d.how, "settled_by": d.settled_by,
                    "version": event.version}
        case DutyDischarged():
            return {"obligation_id": str(event.obligation_id) if event.obligation_id else None,
                    "notification_id": str(event.notification_id) if event.notification_id else None,
                    "action_id": event.action_id, "student_ref": event.student_ref, "how": event.how.value,
                    "by": event.by, "done_at": event.done_at.isoformat(), "has_note": bool(event.note),
                    "has_evidence": bool(event.evidence_ref)}
        case OfficialActed():
            # the official's reason and a police outcome stay sealed (free text may name someone)
            return {"act": event.act.value, "official": event.official, "official_role": event.official_role,
                    "level": event.level.value if event.level else None,
                    "due_at": event.due_at.isoformat() if event.due_at else None,
                    "obligation_id": str(event.obligation_id) if event.obligation_id else None,
                    "police_case_number": event.police_case_number}
        case LookBackRequested():
            return {"school_id": event.school_id, "requested_by": event.requested_by,
                    "due_at": event.due_at.isoformat() if event.due_at else None}
        case HelpResolved():
            return {"resolution": event.resolution.value, "by": event.by}
        case FamilyMessageAdded():
            return {"notification_id": str(event.notification_id), "role": event.role.value}
        case LetterEvent():
            return letter_summary(event)
        case DisclosureChanged():
            # a draft's text and a withdrawal's reason stay sealed; a published text is public: the record
            # shows what was published and when
            return {"disclosure_id": str(event.disclosure_id), "state": event.state.value, "version": event.version,
                    "by": event.by, "level": event.level.value, "month": event.month,
                    "text_sha256": event.text_sha256, "approvals": event.approvals,
                    "published_at": event.published_at.isoformat() if event.published_at else None,
                    "public_text": event.public_text}
    return {}

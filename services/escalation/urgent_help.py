"""An urgent help request ("in danger now") reaches a person at once (pure): besides the school, the
bureau's duty room is told by its urgent channel and must confirm within minutes, or the policy's
chain is told in turn.

The duty room's notice says only that an urgent request arrived at school X, its code and the link:
never who asked or what they wrote (that is read in the system, by those who may).
"""

from __future__ import annotations

from services.escalation.policy import Policy
from services.escalation.repository import Obligation
from shared.contracts import NoticeFacts, NotificationRequested, RecipientRole
from shared.contracts.base import derive_id
from shared.contracts.help import HelpRequested
from shared.contracts.notification import Address
from shared.directory import Contact, Directory

URGENT_ACK = "confirm_urgent_help"
PURPOSE = "help_urgent"


def urgent_routes(contact: Contact) -> list[Address]:
    """The contact's addresses with the immediate channels first (in the contact's own order), e-mail last:
    the policy's `channel = "urgent"` idea for a notice that cannot wait for a mailbox. Notify applies it
    to a recipient marked `immediate_first`."""
    return contact.addresses(immediate_first=True)


def duty_room_notice(event: HelpRequested, facts: NoticeFacts, policy: Policy, directory: Directory
                     ) -> tuple[Obligation, NotificationRequested] | None:
    """The duty room's notice and the duty to confirm it, or None when the request is not urgent or the
    policy does not send urgent requests to the duty room. `facts`: the school's notice facts (no content)."""
    if not (event.urgent and policy.help.urgent_to_duty_room):
        return None
    within = policy.timing.help_urgent_ack_within
    due_at = event.occurred_at + within
    bureau = directory.officials.bureau
    recipient = bureau.recipient(RecipientRole.bureau, "bureau", immediate_first=True)
    notification_id = derive_id("notification", event.help_id, "help-urgent-duty-room")
    notice = NotificationRequested(
        event_id=notification_id, incident_id=event.help_id, notification_id=notification_id, purpose=PURPOSE,
        recipient=recipient, facts=facts.model_copy(update={"due_at": due_at, "ack_required": True}))
    obligation = Obligation(
        obligation_id=derive_id("obligation", event.help_id, URGENT_ACK), incident_id=event.help_id,
        school_id=event.school_id, action_id=URGENT_ACK, kind="notice", role=RecipientRole.bureau.value,
        student_ref=None, notification_id=notification_id, ack_required=True, state="pending", due_at=due_at,
        period=within, step=0, escalate_to=list(policy.help.urgent_escalate_to))
    return obligation, notice

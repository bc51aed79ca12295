"""An urgent help request's notice to the bureau's duty room (pure): planned only when urgent and the policy
says so, by the immediate channels first, with a short duty to confirm, and nothing of who asked or what
they wrote — in the e-mail, the SMS or the robot's text."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from services.escalation.help_watch import answer_obligation
from services.escalation.policy import Help
from services.escalation.urgent_help import URGENT_ACK, duty_room_notice, urgent_routes
from services.intake.guidance import guidance_zh
from services.notify.contacts import ContactBook
from services.notify.templates import render, render_short
from shared.config import ROOT
from shared.contracts import RecipientRole
from shared.contracts.base import derive_id
from shared.contracts.help import HelpRequested, Requester
from shared.contracts.notification import ChannelKind
from shared.directory import Contact, load_directory
from tests.helpers import default_policy

pytestmark = pytest.mark.pure

DIRECTORY = load_directory(ROOT / "deploy" / "directory.toml")
SECRET = "宿舍里有人拿刀威胁我"
IDENTITY = ("王小芳", "13900000077", "fang@example.cn")


def _asked(urgent: bool = True) -> HelpRequested:
    help_id = uuid.uuid4()
    return HelpRequested(
        event_id=derive_id("hr", help_id), help_id=help_id, school_id="demo-school",
        case_code="H" + help_id.hex[:10].upper(), message=SECRET, urgent=urgent,
        requester=Requester(kind="parent", anonymous=False, name=IDENTITY[0], phone=IDENTITY[1], email=IDENTITY[2]))


def _planned(event: HelpRequested, policy=None):  # type: ignore[no-untyped-def]
    policy = policy or default_policy()
    _, facts, _ = answer_obligation(event, policy, DIRECTORY)
    return duty_room_notice(event, facts.model_copy(update={"due_at": None}), policy, DIRECTORY)


def test_an_urgent_request_tells_the_duty_room_and_owes_a_confirmation_within_minutes() -> None:
    event = _asked()
    planned = _planned(event)
    assert planned is not None
    duty, notice = planned
    assert notice.purpose == "help_urgent" and notice.recipient.role is RecipientRole.bureau
    assert notice.recipient.display_name == DIRECTORY.officials.bureau.name
    assert notice.facts.ack_required and notice.facts.case_ref == event.case_code
    assert notice.facts.due_at == event.occurred_at + timedelta(minutes=15)
    assert (duty.action_id, duty.kind, duty.role, duty.ack_required) == (URGENT_ACK, "notice", "bureau", True)
    assert duty.notification_id == notice.notification_id and duty.due_at == notice.facts.due_at
    assert duty.escalate_to == ["bureau_leader"] and duty.period == timedelta(minutes=15)
    again = _planned(event)  # redelivered: the same duty and the same notice id
    assert again is not None and again[0] == duty and again[1].notification_id == notice.notification_id


def test_nothing_of_the_request_travels_in_any_form_of_the_notice() -> None:
    planned = _planned(_asked())
    assert planned is not None
    notice = planned[1]
    link = "https://antibully.example.cn/ack/TOKEN"
    mail = render(notice, link)
    short = render_short(notice, link)
    for text in (notice.model_dump_json(), mail.subject + mail.body, short.text, str(short.params)):
        assert SECRET not in text and not [x for x in IDENTITY if x in text], text
    assert notice.facts.case_ref in mail.body and "乐昌市示范中学" in mail.subject and link in mail.body
    assert "紧急" in short.text and notice.facts.case_ref in short.text and "确认收到" in short.text


def test_immediate_channels_come_before_email() -> None:
    contact = Contact(name="值班室", email="duty@edu.example.cn", phone="+8613800000001", wecom="robot-key",
                      prefer=[ChannelKind.email, ChannelKind.wecom, ChannelKind.sms])
    assert [a.kind for a in urgent_routes(contact)] == [ChannelKind.wecom, ChannelKind.sms, ChannelKind.email]
    planned = _planned(_asked())
    assert planned is not None
    recipient = planned[1].recipient
    assert recipient.entry == "bureau" and recipient.immediate_first and recipient.routes() == []
    # notify resolves the entry with the immediate channels first
    book = ContactBook(ROOT / "deploy" / "directory.toml")
    assert book.routes(recipient) == urgent_routes(DIRECTORY.officials.bureau)


def test_not_urgent_or_not_wanted_by_the_policy_tells_nobody_else() -> None:
    assert _planned(_asked(urgent=False)) is None
    off = default_policy().model_copy(update={"help": Help(urgent_to_duty_room=False)})
    assert _planned(_asked(), off) is None


def test_the_requester_is_always_shown_where_immediate_help_is() -> None:
    for urgent in (True, False):
        text = guidance_zh(urgent)
        assert "110" in text and "12355" in text
    assert guidance_zh(True).startswith("如遇紧急危险")

"""An urgent help request reaches a person now (real NATS, PostgreSQL, SMTP): the bureau's duty room gets
its own notice within seconds, with nothing of who asked or what they wrote; the requester is shown where
immediate help is; an unconfirmed duty-room notice escalates on the watchdog's (controllable) clock."""

from __future__ import annotations

import time
import uuid
from contextlib import AsyncExitStack
from datetime import timedelta
from email.message import EmailMessage

import httpx

from antibully.cli import add_access_code, add_school
from antibully.infra import SmtpSink
from services.escalation.app import running as escalation
from services.intake.app import running as intake
from services.notify.app import running as notify
from shared.config import Settings
from shared.contracts import DeadlineMissed, NotificationAcknowledged, NotificationRequested, RecipientRole
from shared.contracts.base import derive_id
from shared.contracts.help import HelpRequested, Requester
from shared.subjects import DEADLINE_MISSED, ESCALATION, NOTIFICATION_REQUESTED, NOTIFY
from tests.helpers import eventually, exactly, publish, stream_messages

SECRET = "他们说放学后在车棚等我，还带了刀"
NAME, PHONE = "王小芳", "13900000077"
DUTY_ROOM = "bureau-duty@edu.example.cn"


def _duty_room_mails(sink: SmtpSink, case_code: str) -> list[EmailMessage]:
    return [m for m in sink.messages if m["To"] == DUTY_ROOM and case_code in m["Subject"]]


async def test_an_urgent_request_reaches_the_duty_room_within_seconds_without_its_content(
        settings: Settings, smtp_sink: SmtpSink) -> None:
    async with AsyncExitStack() as stack:
        for running in (intake, escalation, notify):
            await stack.enter_async_context(running(settings))  # type: ignore[operator]
        await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
        code = await add_access_code(settings.database_url, "demo-school")
        client = await stack.enter_async_context(httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.intake_port}", timeout=10))
        ask = {"access_code": code, "message": SECRET, "urgent": True,
               "requester": {"kind": "parent", "anonymous": False, "name": NAME, "phone": PHONE}}
        started = time.monotonic()
        asked = await client.post("/v1/help-requests", json=ask)
        assert asked.status_code == 202, asked.text
        answer = asked.json()
        assert "110" in answer["guidance_zh"] and "12355" in answer["guidance_zh"]
        case = answer["case_code"]

        [mail] = await eventually(lambda: _aslist(_duty_room_mails(smtp_sink, case)), timeout_s=15)
        assert time.monotonic() - started < 15
        text = mail["Subject"] + mail.get_content()
        assert "紧急求救" in mail["Subject"] and "乐昌市示范中学" in text
        assert SECRET not in text and NAME not in text and PHONE not in text
        assert f"{settings.public_base_url}/ack/" in text  # the duty room confirms through the link

        view = await client.get(f"/v1/help-requests/{case}", headers={"X-Passcode": answer["passcode"]})
        assert view.status_code == 200 and view.json()["guidance_zh"] == answer["guidance_zh"]

        # an ordinary request: guidance too, the school is told, the duty room is not
        calm = await client.post("/v1/help-requests", json={**ask, "urgent": False, "message": "同学总给我起外号"})
        assert calm.status_code == 202 and "12355" in calm.json()["guidance_zh"]
        calm_case = calm.json()["case_code"]
        await eventually(lambda: _aslist([m for m in smtp_sink.messages if calm_case in m["Subject"]]))
        assert _duty_room_mails(smtp_sink, calm_case) == []


async def _aslist(items: list[EmailMessage]) -> list[EmailMessage] | None:
    return items or None


def _urgent() -> HelpRequested:
    help_id = uuid.uuid4()
    return HelpRequested(event_id=derive_id("hr", help_id), help_id=help_id, school_id="demo-school",
                         case_code="H" + help_id.hex[:10].upper(), requester=Requester(kind="student"),
                         message=SECRET, urgent=True)


async def _notices(url: str) -> list[NotificationRequested]:
    return [NotificationRequested.model_validate_json(m.data)
            for m in await stream_messages(url, NOTIFY.name) if m.subject.startswith(NOTIFICATION_REQUESTED)]


async def test_an_unconfirmed_duty_room_notice_escalates_and_a_confirmed_one_does_not(settings: Settings) -> None:
    quiet = settings.model_copy(update={"watchdog_interval_s": 3600.0})
    async with escalation(quiet) as esc:
        confirmed, ignored = _urgent(), _urgent()
        for event in (confirmed, ignored):
            await publish(quiet.nats_url, event)
        notices = await eventually(lambda: exactly(_notices(quiet.nats_url), 4))
        duty_room = {n.incident_id: n for n in notices if n.purpose == "help_urgent"}
        assert set(duty_room) == {confirmed.help_id, ignored.help_id}
        notice = duty_room[confirmed.help_id]
        await publish(quiet.nats_url, NotificationAcknowledged(
            event_id=derive_id("ack", notice.notification_id), incident_id=confirmed.help_id,
            notification_id=notice.notification_id, role=RecipientRole.bureau))
        await eventually(lambda: esc.pool.fetchval(
            "SELECT state = 'acknowledged' FROM obligations WHERE notification_id = $1", notice.notification_id))

        assert await esc.watchdog.tick(confirmed.occurred_at + timedelta(minutes=14)) == 0
        assert await esc.watchdog.tick(ignored.occurred_at + timedelta(minutes=16)) == 1

        async def misses() -> list[DeadlineMissed]:
            return [DeadlineMissed.model_validate_json(m.data)
                    for m in await stream_messages(quiet.nats_url, ESCALATION.name) if m.subject == DEADLINE_MISSED]

        [missed] = await eventually(misses)
        assert (missed.incident_id, missed.action_id) == (ignored.help_id, "confirm_urgent_help")
        assert missed.escalated_to == "乐昌市教育局分管领导"  # policy help.urgent_escalate_to

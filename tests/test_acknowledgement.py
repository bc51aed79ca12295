"""Acknowledgement links: signed and expiring; the page records the acknowledgement once, and
escalation then stops chasing the notice (real SMTP, JetStream and PostgreSQL)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from antibully.infra import SmtpSink
from services.escalation.app import running as escalation
from services.escalation.notices import plan
from services.intake.reports import reported_event
from services.notify.app import running as notify
from services.notify.links import LinkClaims, LinkError, Links
from shared.config import Settings
from shared.contracts import IncidentReport, NotificationAcknowledged, RecipientRole
from shared.contracts.base import derive_id
from shared.contracts.notification import NotificationReceived
from shared.crypto import new_key_b64
from shared.directory import load_directory
from shared.subjects import NOTIFICATION_ACKNOWLEDGED, NOTIFY
from tests.helpers import decide_report, eventually, exactly, publish, report, stream_messages


@pytest.mark.pure
def test_links_are_signed_and_expire() -> None:
    links = Links(new_key_b64())
    claims = LinkClaims(uuid.uuid4(), "AB-1234ABCD", int(datetime(2026, 12, 1, tzinfo=UTC).timestamp()))
    token = links.sign(claims)
    assert links.verify(token, datetime(2026, 11, 30, tzinfo=UTC)) == claims
    with pytest.raises(LinkError, match="expired"):
        links.verify(token, datetime(2026, 12, 2, tzinfo=UTC))
    body, _, mac = token.partition(".")
    for forged in (body + "." + mac[:-2] + "AA", body[:-2] + "AA." + mac, "garbage", ""):
        with pytest.raises(LinkError, match="forged"):
            links.verify(forged, datetime(2026, 11, 30, tzinfo=UTC))
    with pytest.raises(LinkError, match="forged"):
        Links(new_key_b64()).verify(token, datetime(2026, 11, 30, tzinfo=UTC))


async def test_police_acknowledge_through_the_link(settings: Settings, smtp_sink: SmtpSink) -> None:
    quiet = settings.model_copy(update={"watchdog_interval_s": 3600.0})
    async with escalation(quiet) as esc, notify(quiet), httpx.AsyncClient(timeout=10) as client:
        event = reported_event(IncidentReport.model_validate(report()), "ack-1")  # severe
        await publish(quiet.nats_url, event)

        async def police_mail() -> list[object] | None:
            mails = [m for m in smtp_sink.messages if m["To"] == "police-liaison@police.example.cn"]
            return mails or None

        [mail] = await eventually(police_mail)
        url = re.search(r"http://\S+/ack/\S+", mail.get_content()).group(0)  # type: ignore[attr-defined,union-attr]
        async def family_mail() -> list[object] | None:  # standard lane: it may come after the police's (urgent)
            return [m for m in smtp_sink.messages if m["To"] == "li.parent@example.cn"] or None

        families = await eventually(family_mail)
        # a family's link is there to write back to the school, not to confirm
        assert "确认已收到" not in families[0].get_content() and "给学校留言" in families[0].get_content()

        page = await client.get(url)
        assert page.status_code == 200 and "确认收到" in page.text and "AB-" in page.text
        assert "李小明" not in page.text and 'lang="zh-CN"' in page.text
        assert "按规定须联系公安机关及时介入" in page.text  # the notice itself, for a reader who came by SMS
        assert (await client.post(url)).status_code == 200
        assert (await client.post(url)).status_code == 200  # twice: recorded once

        async def acks() -> list[NotificationAcknowledged]:
            return [NotificationAcknowledged.model_validate_json(m.data)
                    for m in await stream_messages(quiet.nats_url, NOTIFY.name)
                    if m.subject == NOTIFICATION_ACKNOWLEDGED]

        [ack] = await eventually(lambda: exactly(acks(), 1))
        assert ack.role.value == "police" and ack.incident_id == event.incident_id
        assert "已确认" in (await client.get(url)).text
        await eventually(lambda: esc.pool.fetchval(
            "SELECT state = 'acknowledged' FROM obligations WHERE action_id = 'contact_police'"))
        # the police notice no longer escalates; the unacknowledged bureau notice still does
        await esc.watchdog.tick(event.occurred_at + timedelta(hours=2))
        fired = await esc.pool.fetch("SELECT action_id FROM obligations WHERE step > 0")
        assert "contact_police" not in {r["action_id"] for r in fired}
        assert "report_to_bureau" in {r["action_id"] for r in fired}

        forged = await client.get(url[:-3] + "xyz")
        assert forged.status_code == 400 and "链接无效" in forged.text


async def test_an_undelivered_sms_leaves_the_family_untold_and_is_escalated(settings: Settings) -> None:
    """The carrier's receipt says the victim's family never got the SMS: escalation reopens that duty and the
    watchdog tells the school once its deadline passes."""
    quiet = settings.model_copy(update={"watchdog_interval_s": 3600.0})
    async with escalation(quiet) as esc:
        event = reported_event(IncidentReport.model_validate(report()), "undelivered-1")
        await publish(quiet.nats_url, event)
        await eventually(lambda: esc.pool.fetchval("SELECT count(*) FROM obligations WHERE incident_id = $1",
                                                   event.incident_id))
        _, requests = plan(event, decide_report(report()), load_directory(quiet.directory_file))
        family = next(r for r in requests if r.recipient.role is RecipientRole.victim_guardian)
        # delivered first (the provider accepted it), then the receipt: undelivered
        await esc.pool.execute("UPDATE obligations SET state = 'done' WHERE notification_id = $1",
                               family.notification_id)
        await publish(quiet.nats_url, NotificationReceived(
            event_id=derive_id("received", family.notification_id), incident_id=event.incident_id,
            notification_id=family.notification_id, role=RecipientRole.victim_guardian, provider="aliyun",
            delivered=False, code="MK:0001"))
        await eventually(lambda: esc.pool.fetchval(
            "SELECT state = 'failed' FROM obligations WHERE notification_id = $1", family.notification_id))
        await esc.watchdog.tick(event.occurred_at + timedelta(hours=3))
        fired = await esc.pool.fetchval("SELECT step FROM obligations WHERE notification_id = $1",
                                        family.notification_id)
        assert fired == 1  # missed once: the school (first in the chain) is told to reach the family

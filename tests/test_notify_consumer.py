"""notify against a real SMTP server: one mail per request, failures reported, never silent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from antibully.infra import SmtpSink, free_port
from services.escalation.domain import decide
from services.escalation.notices import plan
from services.intake.reports import reported_event
from services.notify.app import running
from shared.config import Settings
from shared.contracts import IncidentReport, NotificationDelivered, NotificationFailed, NotificationRequested, Recipient
from shared.directory import load_directory
from shared.subjects import DEAD_LETTERS, NOTIFY
from tests.helpers import as_notify, default_policy, eventually, publish, report, stream_messages


def _requests(key: str = "notify-key") -> list[NotificationRequested]:
    event = reported_event(IncidentReport.model_validate(report()), key)
    decision = decide(event.facts, default_policy(), event.occurred_at)
    return plan(event, decision, load_directory(Settings().directory_file))[1]


async def _outcomes(url: str) -> list[NotificationDelivered | NotificationFailed]:
    out: list[NotificationDelivered | NotificationFailed] = []
    for m in await stream_messages(url, NOTIFY.name):
        if m.subject == NotificationDelivered.subject:
            out.append(NotificationDelivered.model_validate_json(m.data))
        elif m.subject == NotificationFailed.subject:
            out.append(NotificationFailed.model_validate_json(m.data))
    return out


@pytest.fixture
async def notify(settings: Settings) -> AsyncIterator[None]:
    async with running(settings):
        yield


async def test_one_mail_per_request_even_when_redelivered(
    notify: None, settings: Settings, smtp_sink: SmtpSink
) -> None:
    first, second = _requests()[:2]
    await publish(settings.nats_url, first)
    await eventually(lambda: _n_mails(smtp_sink, 1))
    await publish(settings.nats_url, first, msg_id="replay-" + str(uuid.uuid4()))
    await publish(settings.nats_url, second)
    await eventually(lambda: _n_mails(smtp_sink, 2))
    ids = [m["Message-ID"] for m in smtp_sink.messages]
    assert ids == [f"<{first.notification_id}@antibully.notify>", f"<{second.notification_id}@antibully.notify>"]
    assert smtp_sink.messages[0]["To"] == as_notify(first).recipient.email
    delivered = await eventually(lambda: _n_outcomes(settings.nats_url, 2))
    assert {d.notification_id for d in delivered} == {first.notification_id, second.notification_id}
    assert all(isinstance(d, NotificationDelivered) for d in delivered)


async def test_recipient_without_address_is_reported_failed(notify: None, settings: Settings,
                                                            smtp_sink: SmtpSink) -> None:
    req = _requests()[0]
    req = req.model_copy(update={"recipient": Recipient(role=req.recipient.role, display_name="家长")})
    await publish(settings.nats_url, req)
    [failed] = await eventually(lambda: _n_outcomes(settings.nats_url, 1))
    assert isinstance(failed, NotificationFailed) and failed.reason == "no_contact"
    assert smtp_sink.messages == []


async def test_unreachable_smtp_waits_until_it_is_back(settings: Settings) -> None:
    """A mail relay that is away is a transient failure: no NotificationFailed, no dead letter; the notice
    goes out once the relay answers again, however many deliveries that took."""
    port = free_port()
    away = settings.model_copy(update={"smtp_port": port, "poison_attempts": 2, "smtp_timeout_s": 1.0})
    async with running(away):
        req = _requests()[0]
        await publish(settings.nats_url, req)
        await asyncio.sleep(8)  # several rounds of failover fail meanwhile (more than the poison budget)
        assert await _outcomes(settings.nats_url) == []
        sink = SmtpSink(port=port).start()
        try:
            [delivered] = await eventually(lambda: _n_outcomes(settings.nats_url, 1), timeout_s=60)
            await eventually(lambda: _n_mails(sink, 1))
        finally:
            sink.stop()
    assert isinstance(delivered, NotificationDelivered) and delivered.attempts >= 2
    assert await stream_messages(settings.nats_url, DEAD_LETTERS.name) == []


async def _n_mails(sink: SmtpSink, n: int) -> bool:
    assert len(sink.messages) <= n, f"{len(sink.messages)} mails, expected {n}"
    return len(sink.messages) == n


async def _n_outcomes(url: str, n: int) -> list[NotificationDelivered | NotificationFailed]:
    got = await _outcomes(url)
    assert len(got) <= n
    return got if len(got) == n else []

"""escalation on real JetStream and PostgreSQL: decisions, requests, duplicates, poison messages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.escalation.app import running
from services.intake.reports import reported_event
from shared.config import Settings
from shared.contracts import EscalationDecided, IncidentReport, Level, NotificationRequested
from shared.service import Infra
from shared.subjects import DEAD_LETTERS, ESCALATION, INCIDENT_REPORTED, LOOKBACK_SCHEDULED, NOTIFY
from tests.helpers import eventually, publish, report, stream_messages


@pytest.fixture
async def escalation(settings: Settings) -> AsyncIterator[Infra]:
    async with running(settings) as infra:
        yield infra


async def _counts(url: str) -> tuple[int, int]:
    """Decisions, and notices about incidents (a school's look-back review is counted elsewhere)."""
    decisions = [m for m in await stream_messages(url, ESCALATION.name) if m.subject == EscalationDecided.subject]
    notices = [NotificationRequested.model_validate_json(m.data) for m in await stream_messages(url, NOTIFY.name)]
    return len(decisions), len([n for n in notices if n.purpose != "lookback_due"])


async def test_severe_report_is_decided_and_requests_published(escalation: Infra, settings: Settings) -> None:
    event = reported_event(IncidentReport.model_validate(report()), "esc-key-1")
    await publish(settings.nats_url, event)
    await eventually(lambda: _expect(settings.nats_url, (1, 7)))
    [decided] = [EscalationDecided.model_validate_json(m.data)
                 for m in await stream_messages(settings.nats_url, ESCALATION.name)
                 if m.subject == EscalationDecided.subject]
    assert decided.level == Level.severe and decided.incident_id == event.incident_id
    requests = [r for r in (NotificationRequested.model_validate_json(m.data)
                            for m in await stream_messages(settings.nats_url, NOTIFY.name))
                if r.purpose != "lookback_due"]
    assert {r.notification_id for r in requests} == {r.notification_id for r in decided.recipients}
    row = await escalation.pool.fetchrow("SELECT level, policy_version FROM decisions WHERE incident_id = $1",
                                         event.incident_id)
    assert row is not None and row["level"] == "severe" and row["policy_version"] == decided.policy_version


async def test_redelivered_report_has_no_second_effect(escalation: Infra, settings: Settings) -> None:
    event = reported_event(IncidentReport.model_validate(report()), "esc-key-2")
    await publish(settings.nats_url, event)
    await eventually(lambda: _expect(settings.nats_url, (1, 7)))
    # The same event under another Nats-Msg-Id passes the server's dedupe: only the inbox stops it.
    await publish(settings.nats_url, event, msg_id="replayed-beyond-dedupe-window")
    # another school: the same refs there are other children, so this stays minor (5 requests)
    minor = reported_event(IncidentReport.model_validate(
        report(violence=False, group=False, injury="none", school_id="other-school")), "k3")
    await publish(settings.nats_url, minor)
    # The consumer handles messages in order, so once the minor report's 5 requests exist the
    # replay before it has been handled too.
    await eventually(lambda: _expect(settings.nats_url, (2, 12)))
    inbox = await escalation.pool.fetchval("SELECT count(*) FROM inbox")
    assert inbox == 2


async def test_poison_message_goes_to_dead_letters(escalation: Infra, settings: Settings) -> None:
    import nats

    nc = await nats.connect(settings.nats_url)
    try:
        await nc.jetstream().publish(INCIDENT_REPORTED, b'{"not": "a report"}', headers={"Nats-Msg-Id": "poison-1"})
    finally:
        await nc.close()
    dead = await eventually(lambda: stream_messages(settings.nats_url, DEAD_LETTERS.name), timeout_s=30)
    assert len(dead) == 1
    assert dead[0].subject == f"ab.dlq.escalation.{INCIDENT_REPORTED}"
    assert dead[0].headers and dead[0].headers["Ab-Reason"] == "invalid_payload"
    counted = escalation.registry.get_sample_value(
        "antibully_dead_letters_total",
        {"service": "escalation", "subject": INCIDENT_REPORTED, "reason": "invalid_payload"},
    )
    assert counted == 1.0
    assert await _counts(settings.nats_url) == (0, 0)


async def _expect(url: str, want: tuple[int, int]) -> bool:
    got = await _counts(url)
    assert got[0] <= want[0] and got[1] <= want[1], f"more events than expected: {got} > {want}"
    return got == want


async def test_a_backlog_of_one_school_schedules_one_look_back(settings: Settings) -> None:
    """Reports of one school decided at once (a backlog after an outage): its first-incident look-back
    review is scheduled once, not once per report that found none yet."""
    events = [reported_event(IncidentReport.model_validate(report()), f"backlog-{i}") for i in range(12)]
    for event in events:
        await publish(settings.nats_url, event)
    async with running(settings):  # starts on a full stream: its handlers take the reports concurrently
        await eventually(lambda: _expect(settings.nats_url, (12, 12 * 7)), timeout_s=60)
    scheduled = [m for m in await stream_messages(settings.nats_url, ESCALATION.name)
                 if m.subject == LOOKBACK_SCHEDULED]
    assert len(scheduled) == 1

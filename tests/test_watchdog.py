"""The deadline watchdog on real JetStream and PostgreSQL, with a controllable clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from services.escalation.app import Escalation, running
from services.intake.reports import follow_up_event, reported_event
from shared.config import Settings
from shared.contracts import (
    DeadlineMissed,
    IncidentReport,
    IncidentReported,
    NotificationDelivered,
    NotificationRequested,
)
from shared.contracts.base import derive_id
from shared.contracts.follow_up import FollowUp
from shared.subjects import DEADLINE_MISSED, ESCALATION, NOTIFICATION_REQUESTED, NOTIFY
from tests.helpers import eventually, exactly, publish, report, stream_messages


@pytest.fixture
def quiet(settings: Settings) -> Settings:
    """The background loop sleeps; the tests tick the watchdog themselves."""
    return settings.model_copy(update={"watchdog_interval_s": 3600.0})


async def _reported(
    settings: Settings, esc: Escalation, key: str = "wd-1"
) -> tuple[IncidentReported, list[NotificationRequested]]:
    event = reported_event(IncidentReport.model_validate(report()), key)  # severe
    await publish(settings.nats_url, event)

    async def requests() -> list[NotificationRequested]:
        return [NotificationRequested.model_validate_json(m.data)
                for m in await stream_messages(settings.nats_url, NOTIFY.name)
                if m.subject.startswith(NOTIFICATION_REQUESTED)]

    reqs = await eventually(requests)
    await eventually(lambda: esc.pool.fetchval("SELECT count(*) FROM obligations WHERE incident_id = $1",
                                               event.incident_id))
    return event, reqs


async def _deliver_all(settings: Settings, esc: Escalation, reqs: list[NotificationRequested]) -> None:
    for r in reqs:
        await publish(settings.nats_url, NotificationDelivered(
            event_id=derive_id("test-delivered", r.notification_id), incident_id=r.incident_id,
            notification_id=r.notification_id, role=r.recipient.role, channel="email", attempts=1))
    await eventually(lambda: _states(esc, {"pending"}, want_none=True))


async def _states(esc: Escalation, states: set[str], want_none: bool = False) -> bool:
    n = await esc.pool.fetchval("SELECT count(*) FROM obligations WHERE kind = 'notice' AND state = ANY($1)",
                                list(states))
    return n == 0 if want_none else n > 0


async def _missed(settings: Settings) -> list[DeadlineMissed]:
    return [DeadlineMissed.model_validate_json(m.data)
            for m in await stream_messages(settings.nats_url, ESCALATION.name) if m.subject == DEADLINE_MISSED]


async def test_unacknowledged_police_notice_escalates_up_the_chain(quiet: Settings) -> None:
    async with running(quiet) as esc:
        event, reqs = await _reported(quiet, esc)
        await _deliver_all(quiet, esc, reqs)
        t0 = event.occurred_at

        assert await esc.watchdog.tick(t0 + timedelta(minutes=14)) == 0
        assert await esc.watchdog.tick(t0 + timedelta(minutes=16)) == 1  # police: 15 min, ack required
        assert await esc.watchdog.tick(t0 + timedelta(minutes=16)) == 0  # once, not again
        [first] = await eventually(lambda: _missed(quiet))
        assert (first.action_id, first.step, first.state) == ("contact_police", 1, "delivered")
        assert first.escalated_to == "公安机关分管领导"

        # each further period unacknowledged: the next in the chain (the last one again once it is used up);
        # at 61 min the bureau's own hour is up too
        assert await esc.watchdog.tick(t0 + timedelta(minutes=32)) == 1
        assert await esc.watchdog.tick(t0 + timedelta(minutes=61)) == 2
        missed = await eventually(lambda: exactly(_missed(quiet), 4))
        assert [(m.action_id, m.step, m.escalated_to) for m in missed] == [
            ("contact_police", 1, "公安机关分管领导"), ("contact_police", 2, "乐昌市教育局分管领导"),
            ("contact_police", 3, "乐昌市教育局分管领导"), ("report_to_bureau", 1, "乐昌市教育局分管领导")]

        notices = [NotificationRequested.model_validate_json(m.data)
                   for m in await stream_messages(quiet.nats_url, NOTIFY.name)
                   if m.subject.startswith(NOTIFICATION_REQUESTED)]
        overdue = [n for n in notices if n.purpose == "deadline_missed"]
        assert [n.recipient.entry for n in overdue] == ["contact:police_leader"] + ["contact:bureau_leader"] * 3
        assert all(n.facts.child_name is None and n.facts.missed for n in overdue)
        # families' notices were delivered and need no acknowledgement: nothing fired for them
        assert not [m for m in missed if m.action_id.startswith("notify_")]


async def test_fires_once_with_two_replicas(quiet: Settings) -> None:
    async with running(quiet) as one, running(quiet.model_copy(update={"escalation_port": 0})) as two:
        event, _ = await _reported(quiet, one)
        later = event.occurred_at + timedelta(days=30)  # everything overdue
        due = await one.pool.fetchval("SELECT count(*) FROM obligations")
        fired = await asyncio.gather(*(w.watchdog.tick(later) for w in (one, two, one, two)))
        assert sum(fired) == due
        missed = await eventually(lambda: exactly(_missed(quiet), due))
        assert len({m.obligation_id for m in missed}) == due


async def test_pending_deadlines_survive_a_restart(quiet: Settings) -> None:
    async with running(quiet) as before:
        event, _ = await _reported(quiet, before)
    async with running(quiet) as after:
        assert await after.watchdog.tick(event.occurred_at + timedelta(minutes=16)) >= 1
        assert "contact_police" in {m.action_id for m in await eventually(lambda: _missed(quiet))}


async def test_tasks_reported_done_in_a_follow_up_do_not_fire(quiet: Settings) -> None:
    async with running(quiet) as esc:
        event, reqs = await _reported(quiet, esc)
        await _deliver_all(quiet, esc, reqs)
        follow_up = FollowUp.model_validate({
            "counselling": [{"student_ref": "S-1042", "given_at": "2026-11-29T09:00:00+08:00", "by": "心理教师"}],
            "measures_taken": ["已约谈双方家长"]})
        await publish(quiet.nats_url, follow_up_event(event.incident_id, "demo-school",
                                                      derive_id("fu", event.incident_id), 1, follow_up))
        await eventually(lambda: esc.pool.fetchval(
            "SELECT state = 'done' FROM obligations WHERE action_id = 'counselling'"))
        n = await esc.watchdog.tick(event.occurred_at + timedelta(hours=73))
        fired = {m.action_id for m in await eventually(lambda: exactly(_missed(quiet), n))}
        assert "counselling" not in fired and "criticism_and_warning_talk" not in fired
        assert "disciplinary_sanction" not in fired  # 7 days, not yet due
        assert {"contact_police", "report_to_bureau"} <= fired



async def test_an_open_incident_owes_a_follow_up_every_period(quiet: Settings) -> None:
    async with running(quiet) as esc:
        event, _ = await _reported(quiet, esc)
        every = timedelta(days=7)  # timing.follow_up_every in the default policy
        owed = "SELECT count(*) FROM obligations WHERE action_id = 'send_follow_up' AND state = 'pending'"
        assert await esc.pool.fetchval(owed) == 1
        follow_up = FollowUp.model_validate({"outcome": "已约谈双方家长"})
        await publish(quiet.nats_url, follow_up_event(event.incident_id, "demo-school",
                                                      derive_id("fu-owed", event.incident_id), 1, follow_up))
        await eventually(lambda: esc.pool.fetchval(
            "SELECT count(*) = 2 FROM obligations WHERE action_id = 'send_follow_up'"))
        due = await esc.pool.fetchval(
            "SELECT due_at FROM obligations WHERE action_id = 'send_follow_up' AND state = 'pending'")
        assert due > event.occurred_at + every  # counted from the follow-up, not from the report
        await esc.pool.execute("UPDATE obligations SET state = 'done' WHERE action_id <> 'send_follow_up'")
        assert await esc.watchdog.tick(due - timedelta(seconds=1)) == 0
        assert await esc.watchdog.tick(due + timedelta(seconds=1)) == 1
        [missed] = await eventually(lambda: exactly(_missed(quiet), 1))
        assert (missed.action_id, missed.escalated_to) == ("send_follow_up", "乐昌市示范中学")

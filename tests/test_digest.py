"""Bounded escalation and the duty room's daily digest on real JetStream and PostgreSQL, with the
watchdog on a controllable clock: chased up the chain, reminded, then listed once a day."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.escalation.app import Escalation, running
from services.escalation.digest import OVERDUE_DIGEST
from services.intake.reports import follow_up_event, reported_event
from services.notify.templates import render, render_short
from shared.config import Settings
from shared.contracts import (
    DeadlineMissed,
    IncidentReport,
    IncidentReported,
    NotificationDelivered,
    NotificationRequested,
)
from shared.contracts.base import derive_id
from shared.contracts.duties import DutyUpdated, Escalating
from shared.contracts.follow_up import FollowUp
from shared.subjects import DEADLINE_MISSED, DUTIES, DUTY_UPDATED, ESCALATION, NOTIFICATION_REQUESTED, NOTIFY
from tests.helpers import eventually, exactly, publish, report, stream_messages

SHANGHAI = ZoneInfo("Asia/Shanghai")
# what the report says that no digest may: children, guardians, their contacts, the place
PERSONAL = {"李小明", "王强", "赵磊", "李建国", "王芳", "赵军", "13800000001", "13800000002", "li.parent@example.cn",
            "wang.parent@example.cn", "zhao.parent@example.cn", "S-1042", "S-1077", "教学楼三楼东侧卫生间"}
MONTH = timedelta(days=31)  # longer than any period of the default policy


def _asleep() -> datetime:
    """The service's own clock: 04:00 in Shanghai long ago, so its loop finds nothing to do; the tests
    tick the watchdog and run the digest at the times they choose."""
    return datetime(2020, 1, 1, 20, 0, tzinfo=UTC)


def _quiet(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={"watchdog_interval_s": 3600.0, **changes})


def _eight_after(at: datetime) -> datetime:
    """The first 08:00 Asia/Shanghai after `at`."""
    eight = at.astimezone(SHANGHAI).replace(hour=8, minute=0, second=0, microsecond=0)
    return eight if eight > at else eight + timedelta(days=1)


async def _notices(settings: Settings, purpose: str | None = None) -> list[NotificationRequested]:
    out = [NotificationRequested.model_validate_json(m.data)
           for m in await stream_messages(settings.nats_url, NOTIFY.name)
           if m.subject.startswith(NOTIFICATION_REQUESTED)]
    return [n for n in out if purpose is None or n.purpose == purpose]


async def _missed(settings: Settings) -> list[DeadlineMissed]:
    return [DeadlineMissed.model_validate_json(m.data)
            for m in await stream_messages(settings.nats_url, ESCALATION.name) if m.subject == DEADLINE_MISSED]


async def _reported(settings: Settings, esc: Escalation, deliver: bool = False) -> IncidentReported:
    event = reported_event(IncidentReport.model_validate(report()), "digest-1")  # severe
    await publish(settings.nats_url, event)
    requests = await eventually(lambda: _notices(settings))
    await eventually(lambda: esc.pool.fetchval("SELECT count(*) FROM obligations WHERE incident_id = $1",
                                               event.incident_id))
    if deliver:
        for r in requests:
            await publish(settings.nats_url, NotificationDelivered(
                event_id=derive_id("test-delivered", r.notification_id), incident_id=r.incident_id,
                notification_id=r.notification_id, role=r.recipient.role, channel="email", attempts=1))
        await eventually(lambda: esc.pool.fetchval(
            "SELECT count(*) = 0 FROM obligations WHERE kind = 'notice' AND state = 'pending'"))
    return event


async def _all_in_digest(esc: Escalation, since: datetime) -> datetime:
    """Miss every deadline, a month apart, until each duty has been through its chain and reminders."""
    at = since
    for _ in range(5):
        at += MONTH
        assert await esc.watchdog.tick(at) > 0
    at += MONTH
    assert await esc.watchdog.tick(at) == 0  # nothing is chased any more
    assert await esc.pool.fetchval("SELECT bool_and(escalating = 'digest') FROM obligations")
    return at


def _assert_minimal(req: NotificationRequested) -> None:
    mail = render(req)
    short = render_short(req, "http://127.0.0.1:8082/ack/token")
    for text in (mail.subject, mail.body, short.text, *short.params.values()):
        assert not [p for p in PERSONAL if p in text], text
    assert req.facts.child_name is None


async def test_an_unacknowledged_police_notice_is_chased_reminded_then_digested(settings: Settings) -> None:
    quiet = _quiet(settings)
    async with running(quiet, clock=_asleep) as esc:
        event = await _reported(quiet, esc, deliver=True)
        await esc.pool.execute("UPDATE obligations SET state = 'done' WHERE action_id <> 'contact_police'")
        t0 = event.occurred_at

        # police 15 min, acknowledgement required; chain police_leader, bureau_leader; 2 reminders
        for minutes in (16, 32, 48, 64, 80):
            assert await esc.watchdog.tick(t0 + timedelta(minutes=minutes)) == 1
        for later in (timedelta(minutes=96), timedelta(days=1), 3 * MONTH):
            assert await esc.watchdog.tick(t0 + later) == 0  # in the digest: never chased again
        missed = await eventually(lambda: exactly(_missed(quiet), 5))
        assert [(m.step, m.escalated_to) for m in missed] == [
            (1, "公安机关分管领导"), (2, "乐昌市教育局分管领导"), (3, "乐昌市教育局分管领导"),
            (4, "乐昌市教育局分管领导"), (5, "乐昌市教育局值班室（每日逾期汇总）")]
        assert [m.notification_id is None for m in missed] == [False] * 4 + [True]
        chased = await _notices(quiet, "deadline_missed")
        assert [n.recipient.entry for n in chased] == ["contact:police_leader"] + ["contact:bureau_leader"] * 3

        row = await esc.pool.fetchrow("SELECT * FROM obligations WHERE action_id = 'contact_police'")
        assert (row["escalating"], row["step"], row["state"]) == ("digest", 5, "delivered")
        assert row["first_due_at"] == t0 + timedelta(minutes=15)
        assert row["due_at"] == t0 + timedelta(minutes=64 + 15)  # the deadline it last missed: overdue since

        async def duty() -> DutyUpdated | None:
            versions = [DutyUpdated.model_validate_json(m.data)
                        for m in await stream_messages(quiet.nats_url, DUTIES.name) if m.subject == DUTY_UPDATED]
            mine = [d for d in versions if d.duty.obligation_id == row["obligation_id"]]
            newest = max(mine, key=lambda d: d.version, default=None)
            return newest if newest and newest.duty.escalating == Escalating.digest else None

        published = (await eventually(duty)).duty
        assert (published.missed, published.first_due_at, published.state.value) == (
            5, t0 + timedelta(minutes=15), "delivered")

        eight = _eight_after(t0 + timedelta(minutes=80))
        assert await esc.watchdog.digest.run(eight - timedelta(minutes=1)) == []
        assert esc.registry.get_sample_value("antibully_duties_in_digest") == 1
        [sent] = await esc.watchdog.digest.run(eight)
        assert sent.duties == 1
        [digest] = await eventually(lambda: exactly(_notices(quiet, OVERDUE_DIGEST), 1))
        assert digest.recipient.display_name == "乐昌市教育局值班室"
        # the duty room by its entry; notify reads its robot (as it prefers) from its own directory
        assert digest.recipient.entry == "bureau" and digest.recipient.routes() == []
        [item] = digest.facts.digest
        assert (item.case_ref, item.school_name, item.zh, item.role, item.missed) == (
            "AB-" + event.incident_id.hex[:8].upper(), "乐昌市示范中学", "联系公安机关介入", "police", 5)
        assert item.first_due_at == t0 + timedelta(minutes=15)
        _assert_minimal(digest)


async def test_the_digest_goes_once_a_day_with_two_replicas_without_what_was_done(settings: Settings) -> None:
    quiet = _quiet(settings)
    async with running(quiet, clock=_asleep) as one, \
            running(_quiet(settings, escalation_port=0), clock=_asleep) as two:
        event = await _reported(quiet, one)
        later = await _all_in_digest(one, event.occurred_at)

        # the school reports the counselling done before 08:00: it leaves the digest
        counselled = FollowUp.model_validate({"counselling": [
            {"student_ref": "S-1042", "given_at": "2026-11-29T09:00:00+08:00", "by": "心理教师"}]})
        await publish(quiet.nats_url, follow_up_event(event.incident_id, "demo-school",
                                                      derive_id("fu", event.incident_id), 1, counselled))
        await eventually(lambda: one.pool.fetchval(
            "SELECT state = 'done' FROM obligations WHERE action_id = 'counselling'"))
        open_in_digest = await one.pool.fetchval(
            "SELECT count(*) FROM obligations WHERE escalating = 'digest' AND state NOT IN ('done', 'acknowledged')")
        assert open_in_digest > 1

        eight = _eight_after(later)
        early = await asyncio.gather(one.watchdog.digest.run(eight - timedelta(seconds=1)),
                                     two.watchdog.digest.run(eight - timedelta(seconds=1)))
        assert early == [[], []]
        runs = await asyncio.gather(*(w.watchdog.digest.run(eight) for w in (one, two, one, two)))
        assert sorted(len(r) for r in runs) == [0, 0, 0, 1]  # one replica decided the day
        [digest] = await eventually(lambda: exactly(_notices(quiet, OVERDUE_DIGEST), 1))
        items = digest.facts.digest
        assert len(items) == open_in_digest and digest.facts.digest_more == 0
        assert "对受害学生开展心理辅导" not in {i.zh for i in items}
        assert {"联系公安机关介入", "报告教育主管部门", "批评教育和警示谈话"} <= {i.zh for i in items}
        assert [i.first_due_at for i in items] == sorted(i.first_due_at for i in items)
        _assert_minimal(digest)

        for w in (one, two):  # not again that day, whichever replica looks
            assert await w.watchdog.digest.run(eight + timedelta(hours=3)) == []
    async with running(quiet, clock=_asleep) as restarted:  # nor after a restart
        assert await restarted.watchdog.digest.run(eight + timedelta(hours=15, minutes=59)) == []
        await asyncio.sleep(0.5)
        assert len(await _notices(quiet, OVERDUE_DIGEST)) == 1
        # the next day, again: the duties are still open
        [tomorrow] = await restarted.watchdog.digest.run(eight + timedelta(days=1))
        assert tomorrow.request is not None and tomorrow.request.notification_id != digest.notification_id
        await eventually(lambda: exactly(_notices(quiet, OVERDUE_DIGEST), 2))
        days = await restarted.pool.fetch("SELECT day, duties FROM overdue_digests ORDER BY day")
        assert [(r["day"], r["duties"]) for r in days] == [
            (eight.date(), open_in_digest), ((eight + timedelta(days=1)).date(), open_in_digest)]


async def test_a_restart_after_eight_still_sends_the_days_digest_once(settings: Settings) -> None:
    quiet = _quiet(settings)
    async with running(quiet, clock=_asleep) as esc:
        event = await _reported(quiet, esc)
        # nothing overdue at 08:00: nothing is sent, and the day is decided
        first_eight = _eight_after(event.occurred_at)
        [empty] = await esc.watchdog.digest.run(first_eight)
        assert (empty.duties, empty.request) == (0, None)
        later = await _all_in_digest(esc, event.occurred_at)
    assert await _notices(quiet, OVERDUE_DIGEST) == []
    eight = _eight_after(later)
    # escalation was down at 08:00; it comes back at 10:30 and sends that day's digest
    async with running(quiet, clock=_asleep) as back:
        [sent] = await back.watchdog.digest.run(eight + timedelta(hours=2, minutes=30))
        assert sent.request is not None and sent.duties > 1
    async with running(quiet, clock=_asleep) as again:
        assert await again.watchdog.digest.run(eight + timedelta(hours=3)) == []
    [digest] = await eventually(lambda: exactly(_notices(quiet, OVERDUE_DIGEST), 1))
    assert len(digest.facts.digest) == sent.duties

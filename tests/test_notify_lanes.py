"""Lanes, priority and robot digests with real NATS, PostgreSQL, the SMTP sink and the provider fakes.

- a throttled robot backlog and a burst of bulk mail, then an urgent police SMS: recorded sent within
  1 s of its publication (the issue's own bound; measured 0.15–0.2 s on 2 shared cores: ~5× margin);
- 50 notices for one robot reach it in a few digest messages, each notice recorded delivered once;
- two notify replicas keep one robot's limit together (shared bucket in PostgreSQL);
- a carrier's frequency refusal falls over to the next address, and a per-number limit waits: never lost.
The robot window is shortened by settings (robot_window_s) so the tests take seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import nats
import pytest

from antibully.fakes import Accepted, FakeProviders, running_fakes
from antibully.infra import free_port
from services.notify.app import running
from shared.config import Settings
from shared.contracts import NoticeFacts, NotificationDelivered, NotificationRequested, Recipient, RecipientRole
from shared.contracts.base import derive_id, utcnow
from shared.contracts.notification import Address, ChannelKind, Priority
from shared.subjects import NOTIFY
from tests.helpers import eventually, stream_messages

ROBOT = "ding-token-1"
POLICE_PHONE = "+8613800000002"


@pytest.fixture
async def fakes() -> AsyncIterator[FakeProviders]:
    async with running_fakes() as f:
        yield f


def lane_settings(settings: Settings, fakes: FakeProviders, **more: Any) -> Settings:
    env = {k.lower(): v for k, v in fakes.env().items()}
    return Settings(**{**settings.model_dump(), **env, "wecom_webhook_base": "", "webhook_secret": "",
                       "robot_digest_interval_s": 0.1, "notify_port": free_port(), **more})


def notice(tag: str, i: int, role: RecipientRole, addresses: list[Address], priority: Priority
           ) -> NotificationRequested:
    incident_id = derive_id("lanes", tag, i)
    nid = derive_id("notification", incident_id, tag)
    return NotificationRequested(
        event_id=nid, incident_id=incident_id, notification_id=nid, priority=priority,
        recipient=Recipient(role=role, display_name="值班室", addresses=addresses),
        facts=NoticeFacts(case_ref=f"AB-{tag}-{i:05d}", school_id="demo-school", school_name="乐昌市示范中学",
                          reasons_zh=["测试"], occurred_at=utcnow()))


def robot_notices(tag: str, n: int) -> list[NotificationRequested]:
    return [notice(tag, i, RecipientRole.bureau, [Address(kind=ChannelKind.dingtalk, to=ROBOT)], Priority.standard)
            for i in range(n)]


async def publish_all(url: str, events: Iterable[NotificationRequested]) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for e in events:
            await js.publish(e.routing_subject, e.model_dump_json().encode(), headers={"Nats-Msg-Id": str(e.event_id)})
    finally:
        await nc.close()


async def statuses(database_url: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str | None]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT notification_id, status, message_id FROM notify.deliveries"
                                " WHERE notification_id = ANY($1::uuid[])", ids)
    finally:
        await conn.close()
    return {r["notification_id"]: (r["status"], r["message_id"]) for r in rows}


async def all_sent(database_url: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str | None]] | None:
    found = await statuses(database_url, ids)
    return found if len(found) == len(ids) and all(s == "sent" for s, _ in found.values()) else None


async def delivered_events(url: str) -> list[NotificationDelivered]:
    return [NotificationDelivered.model_validate_json(m.data) for m in await stream_messages(url, NOTIFY.name)
            if m.subject == NotificationDelivered.subject]


def stamped(fakes: FakeProviders) -> list[tuple[float, Accepted]]:
    times: list[tuple[float, Accepted]] = []
    fakes.on_accept = lambda a: times.append((time.monotonic(), a))
    return times


def most_in_a_window(times: list[float], window_s: float) -> int:
    times = sorted(times)
    return max((sum(1 for u in times[i:] if u - t < window_s) for i, t in enumerate(times)), default=0)


def cases_in(accepted: list[Accepted]) -> list[str]:
    """Case references as the robot messages name them (a single notice or a digest's lines)."""
    return [ref for a in accepted for ref in re.findall(r"编号(AB-[a-z]+-\d{5})", a.payload["text"]["content"])]


async def test_an_urgent_police_sms_goes_out_within_a_second_behind_a_robot_backlog_and_bulk_mail(
        settings: Settings, fakes: FakeProviders) -> None:
    s = lane_settings(settings, fakes, robot_per_minute=4, robot_window_s=60.0)
    robots = robot_notices("backlog", 40)
    bulk = [notice("bulk", i, RecipientRole.victim_guardian, [Address(kind=ChannelKind.email, to=f"p{i}@example.cn")],
                   Priority.bulk) for i in range(400)]
    police = notice("police", 0, RecipientRole.police, [Address(kind=ChannelKind.sms, to=POLICE_PHONE)],
                    Priority.urgent)
    async with running(s):
        await publish_all(s.nats_url, [*robots, *bulk])

        async def backlog() -> bool:  # robots throttled (parked) and mail being worked through
            found = await statuses(s.database_url, [r.notification_id for r in robots + bulk[:50]])
            queued = sum(1 for st, _ in found.values() if st == "queued")
            mails = sum(1 for n, (st, _) in found.items() if st == "sent" and n in {b.notification_id for b in bulk})
            return queued >= 20 and mails >= 10

        await eventually(backlog, timeout_s=30)
        started = time.monotonic()
        await publish_all(s.nats_url, [police])
        await eventually(lambda: all_sent(s.database_url, [police.notification_id]), timeout_s=10, interval_s=0.01)
        took = time.monotonic() - started
        pending_bulk = [st for st, _ in (await statuses(s.database_url, [b.notification_id for b in bulk])).values()
                        if st == "sent"]
        print(f"police SMS recorded sent {took * 1000:.0f} ms after publication; "
              f"{400 - len(pending_bulk)} bulk mails still waiting")
        assert took < 1.0, f"police SMS took {took:.3f} s"
        assert len(pending_bulk) < 400  # the bulk burst was still being sent: the police SMS did not wait for it
        assert len(fakes.accepted_by("aliyun")) == 1


async def test_fifty_notices_for_one_robot_go_out_in_a_few_digests_each_delivered_once(
        settings: Settings, fakes: FakeProviders) -> None:
    window_s = 10.0  # the robot's minute, shortened
    s = lane_settings(settings, fakes, robot_per_minute=20, robot_window_s=window_s)
    times = stamped(fakes)
    notices = robot_notices("fifty", 50)
    ids = [n.notification_id for n in notices]
    async with running(s):
        started = time.monotonic()
        await publish_all(s.nats_url, notices)
        rows = await eventually(lambda: all_sent(s.database_url, ids), timeout_s=60)
        took = time.monotonic() - started
        events = await eventually(lambda: _n_delivered(s.nats_url, ids), timeout_s=20)
    messages = [a for _, a in times if a.provider == "dingtalk"]
    print(f"50 robot notices: {len(messages)} robot messages, all recorded in {took:.1f} s")
    # a few messages, not 50: at most one window's allowance (how many depends on how fast they arrive)
    assert len(messages) <= 20
    assert sorted(cases_in(messages)) == sorted(n.facts.case_ref for n in notices)  # each case once
    assert sorted(e.notification_id for e in events) == sorted(ids)  # one NotificationDelivered each
    assert len({m for _, m in rows.values()}) == len(messages)  # a digest's notices share its message id
    assert most_in_a_window([t for t, a in times if a.provider == "dingtalk"], window_s) <= 20
    assert took < window_s  # within the (shortened) minute: measured 1.7–4.3 s on 2 busy shared cores


async def _n_delivered(url: str, ids: list[uuid.UUID]) -> list[NotificationDelivered] | None:
    events = [e for e in await delivered_events(url) if e.notification_id in set(ids)]
    return events if len({e.notification_id for e in events}) == len(ids) else None


async def test_two_replicas_keep_one_robot_limit_together(settings: Settings, fakes: FakeProviders) -> None:
    per_window, window_s = 6, 3.0
    times = stamped(fakes)
    notices = robot_notices("replicas", 60)
    ids = [n.notification_id for n in notices]
    async with AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(running(lane_settings(settings, fakes, robot_per_minute=per_window,
                                                                  robot_window_s=window_s)))
        # in small bursts, so that both replicas take notices and both loops send digests
        for start in range(0, 60, 6):
            await publish_all(settings.nats_url, notices[start:start + 6])
            await asyncio.sleep(0.3)
        await eventually(lambda: all_sent(settings.database_url, ids), timeout_s=60)
    sent_at = [t for t, a in times if a.provider == "dingtalk"]
    print(f"two replicas: {len(sent_at)} robot messages; at most {most_in_a_window(sent_at, window_s)} in "
          f"{window_s} s (limit {per_window})")
    assert most_in_a_window(sent_at, window_s) <= per_window
    assert sorted(cases_in([a for _, a in times if a.provider == "dingtalk"])) == sorted(
        n.facts.case_ref for n in notices)


async def test_a_carrier_frequency_refusal_falls_over_and_a_per_number_limit_waits(
        settings: Settings, fakes: FakeProviders) -> None:
    s = lane_settings(settings, fakes, sms_per_number_limit=1, sms_per_number_window_s=2.0)
    times = stamped(fakes)
    refused = notice("refused", 0, RecipientRole.police, [Address(kind=ChannelKind.sms, to=POLICE_PHONE),
                                                          Address(kind=ChannelKind.email, to="p@police.example.cn")],
                     Priority.urgent)
    same_number = [notice("number", i, RecipientRole.police, [Address(kind=ChannelKind.sms, to="+8613900000009")],
                          Priority.urgent) for i in range(3)]
    async with running(s):
        fakes.fail_next("aliyun", 1, "throttle")
        fakes.fail_next("tencent", 1, "throttle")
        await publish_all(s.nats_url, [refused])
        await eventually(lambda: all_sent(s.database_url, [refused.notification_id]), timeout_s=20)
        [event] = await eventually(lambda: _n_delivered(s.nats_url, [refused.notification_id]), timeout_s=20)
        assert event.channel == "email" and [f.split(":")[0] for f in event.fallbacks] == ["sms/aliyun", "sms/tencent"]

        await publish_all(s.nats_url, same_number)
        await eventually(lambda: all_sent(s.database_url, [n.notification_id for n in same_number]), timeout_s=30)
    to_number = [(t, a.provider) for t, a in times if a.address.endswith("13900000009")]
    assert len(to_number) == 3  # all three sent, none lost or doubled
    for provider in ("aliyun", "tencent"):
        assert most_in_a_window([t for t, p in to_number if p == provider], 2.0) <= 1

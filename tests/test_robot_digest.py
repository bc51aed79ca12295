"""Robot digests and shared limits, piece by piece: the digest text (pure), failover's answers to a
parked or rate-limited channel (pure), the shared bucket under concurrent takers and a digest resent
after a crash between the robot's acceptance and the commit (real PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from services.notify import repository, repository_lanes
from services.notify.channels.base import OutboundMessage, SendResult, TransientError
from services.notify.channels.ratelimit import Park, RateLimited
from services.notify.failover import Address, Failover, Status
from services.notify.limits import SharedKeyed, SharedLimits
from services.notify.robot_digest import DigestRobot, RobotDigests
from services.notify.robot_text import first_digest
from shared.crypto import Sealer, new_key_b64
from shared.db import create_pool
from shared.health import Dependencies
from shared.outbox import OutboxRelay


@pytest.mark.pure
def test_a_digest_holds_the_oldest_lines_that_fit_and_at_least_one() -> None:
    lines = [f"乐昌市第{i}中学｜校园欺凌事件｜二级（较重）｜请核查处置｜编号AB-{i:05d}｜http://x/ack/{'t' * 80}"
             for i in range(40)]
    text, n = first_digest(lines, 2048)
    assert 1 < n < 40 and len(text.encode()) <= 2048
    assert text.startswith("【待处置案件汇总】共40件待处置，本条列出最早的")
    assert all(f"编号AB-{i:05d}" in text for i in range(n)) and f"编号AB-{n:05d}" not in text
    everything, m = first_digest(lines[:3], 4000)
    assert m == 3 and everything.startswith("【待处置案件汇总】共3件")
    huge, one = first_digest(["很长" * 2000], 2048)
    assert one == 1 and len(huge.encode()) <= 2048


class _Stub:
    def __init__(self, kind: str, error: Exception | None = None) -> None:
        self.kind, self.provider, self.error, self.sent = kind, kind, error, 0

    async def send(self, message: OutboundMessage) -> SendResult:
        self.sent += 1
        if self.error is not None:
            raise self.error
        return SendResult(self.provider, message.idempotency_key)


def _compose(a: Address) -> OutboundMessage:
    return OutboundMessage(a.value, "s", "t", "k")


async def _no_sleep(_: float) -> None:
    raise AssertionError("failover must not wait for a rate limit")


@pytest.mark.pure
async def test_failover_parks_at_a_throttled_robot_and_moves_on_from_a_rate_limit_at_once() -> None:
    robot, sms = _Stub("dingtalk", Park(3.0)), _Stub("sms")
    out = await Failover({"dingtalk": [robot], "sms": [sms]}, sleep=_no_sleep).deliver(
        [Address("dingtalk", "r"), Address("sms", "1")], _compose)
    assert out.status == Status.parked and out.attempts[-1].address_index == 0 and sms.sent == 0

    limited, email = _Stub("sms", RateLimited(0.2)), _Stub("email")
    out = await Failover({"sms": [limited], "email": [email]}, sleep=_no_sleep).deliver(
        [Address("sms", "1"), Address("email", "e")], _compose)
    assert out.status == Status.delivered and limited.sent == 1 and out.reasons == ("sms/sms:rate_limited",)

    out = await Failover({"sms": [_Stub("sms", RateLimited(0.2))]}, sleep=_no_sleep).deliver(
        [Address("sms", "1")], _compose)
    assert out.status == Status.retry_later and out.retry_after_s == pytest.approx(0.2)  # not the 5 s floor


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(database, "notify", role="antibully_notify", max_size=20)  # the database is migrated
    try:
        yield p
    finally:
        await p.close()


async def test_concurrent_takers_share_one_bucket(pool: asyncpg.Pool) -> None:
    limits = SharedLimits(pool, b"k" * 32)
    key = limits.key("robot", "some-robot")
    assert "some-robot" not in key
    waits = await asyncio.gather(*(limits.take(key, 0.01, 5.0) for _ in range(40)))
    assert sum(1 for w in waits if w == 0.0) == 5  # the burst, not one per caller
    assert all(w > 1.0 for w in waits if w)  # the next token is ~100 s away at 0.01/s


async def test_lower_lanes_leave_the_urgent_reserve(pool: asyncpg.Pool) -> None:
    standard, urgent = SharedLimits(pool, b"k" * 32, reserve=0.4), SharedLimits(pool, b"k" * 32)
    key = standard.key("provider", "aliyun")
    lower = [await standard.take(key, 0.01, 5.0) for _ in range(5)]
    assert lower.count(0.0) == 3  # 2 of the burst of 5 stay for the urgent lane
    assert [await urgent.take(key, 0.01, 5.0) for _ in range(3)][:2] == [0.0, 0.0]
    one = standard.key("sms-number", "13900000000")
    assert await standard.take(one, 0.01, 1.0) == 0.0  # nothing to reserve in a bucket of one


class _Robot:
    kind = provider = "dingtalk"

    def __init__(self, crash: bool, error: Exception | None = None) -> None:
        self.crash = crash
        self.error = error
        self.posted: list[OutboundMessage] = []

    def robot_id(self, address: str) -> str:
        return address

    async def post(self, message: OutboundMessage) -> SendResult:
        self.posted.append(message)
        if self.crash:  # accepted by the robot, then the process dies before the commit
            raise asyncio.CancelledError
        if self.error is not None:
            raise self.error
        return SendResult(self.provider, message.idempotency_key)


def _digests(pool: asyncpg.Pool) -> Callable[[_Robot], RobotDigests]:
    sealer = Sealer(new_key_b64(), "TEST")
    limits = SharedLimits(pool, b"k" * 32)
    deps = Dependencies("notify", pool, CollectorRegistry())

    async def no_publish(*_: object) -> None:
        return None

    relay = OutboxRelay(pool, no_publish, deps)

    def digests(robot: _Robot) -> RobotDigests:
        parked = DigestRobot(robot, SharedKeyed(limits, "dingtalk", 100, 1.0), can_park=True)
        return RobotDigests(pool, relay, {"dingtalk": parked}, sealer, deps, CollectorRegistry(), lease_s=0.5)

    return digests


async def _park(pool: asyncpg.Pool, digests: RobotDigests, n: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(n)]
    async with pool.acquire() as conn, conn.transaction():
        for i, nid in enumerate(ids):
            await repository.begin_attempt(conn, nid, uuid.uuid4(), "bureau", "dingtalk", 30.0)
            await digests.park(conn, nid, uuid.uuid4(), "bureau", "dingtalk", "robot-token",
                               f"学校｜事件｜等级｜请处理｜编号AB-{i:05d}")
    return ids


async def test_a_muted_robot_is_left_alone_for_the_pause_it_asked_for(pool: asyncpg.Pool) -> None:
    digests = _digests(pool)
    muted = _Robot(crash=False, error=TransientError("errcode_130101", 600.0))
    await _park(pool, digests(muted), 2)
    await digests(muted).round()
    await digests(muted).round()
    assert len(muted.posted) == 1  # not once a round for ten minutes
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM robot_queue WHERE lease_until IS NULL"
                                   " AND NOT posting") == 2  # still waiting, not lost


async def test_a_digest_cut_off_by_a_crash_is_sent_again_once_and_counted_ambiguous(pool: asyncpg.Pool) -> None:
    digests = _digests(pool)
    crashing, healthy = _Robot(crash=True), _Robot(crash=False)
    ids = await _park(pool, digests(crashing), 3)
    with pytest.raises(asyncio.CancelledError):
        await digests(crashing).round()
    await asyncio.sleep(0.6)  # the lease runs out
    async with pool.acquire() as conn:  # claimed again while the robot has no token: still a resend later
        await repository_lanes.release(conn, ids)
        assert await conn.fetchval("SELECT bool_and(posting) FROM robot_queue")
    await digests(healthy).round()
    assert len(crashing.posted) == len(healthy.posted) == 1
    assert crashing.posted[0].text == healthy.posted[0].text  # the same digest, once more
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT status, ambiguous_resends, message_id FROM deliveries"
                                " WHERE notification_id = ANY($1::uuid[])", ids)
        left = await conn.fetchval("SELECT count(*) FROM robot_queue")
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
    assert [(r["status"], r["ambiguous_resends"]) for r in rows] == [("sent", 1)] * 3
    assert len({r["message_id"] for r in rows}) == 1 and left == 0 and outbox == 3
    await digests(healthy).round()
    assert len(healthy.posted) == 1  # nothing left to send
    assert await repository_lanes.robots_waiting(pool) == []

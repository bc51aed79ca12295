"""The order of attempts (pure, with scripted channels), the rate limiter on a fake clock, and
one failover between real SMS channels and their fakes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from antibully.fakes import FakeProviders, running_fakes
from services.notify.channels.aliyun_sms import AliyunSms
from services.notify.channels.base import (
    ChannelError,
    OutboundMessage,
    PermanentError,
    SendResult,
    TransientError,
)
from services.notify.channels.ratelimit import KeyedBuckets, TokenBucket
from services.notify.channels.tencent_sms import TencentSms
from services.notify.channels.wecom import WeComRobot
from services.notify.failover import Address, Failover, RetryPolicy, Status

KEY = "notification-0001"


class Scripted:
    """A channel that fails as scripted, then accepts; records what it was asked to send."""

    def __init__(self, kind: str, provider: str, *script: ChannelError | Exception) -> None:
        self.kind = kind
        self.provider = provider
        self.script = list(script)
        self.calls: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> SendResult:
        self.calls.append(message)
        if self.script:
            raise self.script.pop(0)
        return SendResult(self.provider, f"{self.provider}-{len(self.calls)}")


class FakeTime:
    """A clock that only moves when someone sleeps: waits are recorded, never spent."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def compose(address: Address) -> OutboundMessage:
    return OutboundMessage(address.value, "通知", "正文", KEY, sms_params={"case_ref": "LC-1"})


SMS = Address("sms", "+8613800138000")
MAIL = Address("email", "guardian@example.cn")
ROBOT = Address("wecom", "robot-key")


def failover(channels: dict[str, list[Scripted]], time: FakeTime, **policy: Any) -> Failover:
    return Failover(channels, RetryPolicy(**policy), sleep=time.sleep, rand=lambda: 1.0)


@pytest.mark.pure
async def test_permanent_error_falls_over_to_the_next_provider_of_the_kind() -> None:
    a = Scripted("sms", "aliyun", PermanentError("isv.MOBILE_NUMBER_ILLEGAL"))
    b = Scripted("sms", "tencent")
    time = FakeTime()
    outcome = await failover({"sms": [a, b]}, time).deliver([SMS, MAIL], compose)
    assert outcome.status is Status.delivered and outcome.result == SendResult("tencent", "tencent-1")
    assert [(x.provider, x.tries, x.code) for x in outcome.attempts] == [
        ("aliyun", 1, "isv.MOBILE_NUMBER_ILLEGAL"), ("tencent", 1, "ok")]
    assert len(a.calls) == 1 and time.sleeps == []  # no retry of a permanent refusal
    assert b.calls[0].idempotency_key == KEY


@pytest.mark.pure
async def test_transient_errors_are_retried_with_backoff_then_succeed() -> None:
    a = Scripted("sms", "aliyun", TransientError("http_500"), TransientError("timeout"))
    time = FakeTime()
    outcome = await failover({"sms": [a]}, time, base_delay_s=0.5).deliver([SMS], compose)
    assert outcome.status is Status.delivered and outcome.tries == 3
    assert time.sleeps == [0.5, 1.0]  # rand=1.0: the top of each jitter range


@pytest.mark.pure
def test_backoff_jitter_stays_in_its_range() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=3.0)
    assert [policy.backoff_s(n, 0.0) for n in (1, 2, 3, 4)] == [0.5, 1.0, 1.5, 1.5]
    assert [policy.backoff_s(n, 1.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, 3.0]


@pytest.mark.pure
async def test_exhausted_transient_retries_fall_over_to_the_next_provider() -> None:
    a = Scripted("sms", "aliyun", *[TransientError("http_503")] * 5)
    b = Scripted("sms", "tencent")
    time = FakeTime()
    outcome = await failover({"sms": [a, b]}, time, max_tries_per_channel=3).deliver([SMS], compose)
    assert len(a.calls) == 3 and len(time.sleeps) == 2
    assert outcome.status is Status.delivered and outcome.result is not None
    assert outcome.result.provider == "tencent"


@pytest.mark.pure
async def test_provider_asking_for_a_long_wait_is_skipped_not_waited_for() -> None:
    a = Scripted("sms", "aliyun", TransientError("isv.BUSINESS_LIMIT_CONTROL", 60.0))
    b = Scripted("sms", "tencent")
    time = FakeTime()
    outcome = await failover({"sms": [a, b]}, time, max_inline_wait_s=5.0).deliver([SMS], compose)
    assert len(a.calls) == 1 and time.sleeps == [] and outcome.status is Status.delivered


@pytest.mark.pure
async def test_short_retry_after_is_honoured() -> None:
    a = Scripted("wecom", "wecom", TransientError("http_503", 2.0))
    time = FakeTime()
    outcome = await failover({"wecom": [a]}, time).deliver([ROBOT], compose)
    assert time.sleeps == [2.0] and outcome.status is Status.delivered


@pytest.mark.pure
async def test_next_address_kind_when_every_provider_of_a_kind_refuses() -> None:
    a = Scripted("sms", "aliyun", PermanentError("isv.MOBILE_NUMBER_ILLEGAL"))
    b = Scripted("sms", "tencent", PermanentError("InvalidParameterValue.IncorrectPhoneNumber"))
    mail = Scripted("email", "smtp")
    outcome = await failover({"sms": [a, b], "email": [mail]}, FakeTime()).deliver([SMS, MAIL], compose)
    assert outcome.status is Status.delivered and outcome.channel_kind == "email"
    assert [m.address for m in mail.calls] == [MAIL.value] and [m.address for m in a.calls] == [SMS.value]
    assert [x.address_index for x in outcome.attempts] == [0, 0, 1]


@pytest.mark.pure
async def test_all_permanent_is_failed_with_codes_only() -> None:
    a = Scripted("sms", "aliyun", PermanentError("isv.MOBILE_NUMBER_ILLEGAL"))
    mail = Scripted("email", "smtp", PermanentError("smtp_550"))
    outcome = await failover({"sms": [a], "email": [mail]}, FakeTime()).deliver([SMS, MAIL, ROBOT], compose)
    assert outcome.status is Status.failed and outcome.retry_after_s is None
    assert outcome.reasons == ("sms/aliyun:isv.MOBILE_NUMBER_ILLEGAL", "email/smtp:smtp_550",
                               "wecom/none:no_channel")
    text = repr(outcome) + repr([SMS, MAIL])
    assert "13800138000" not in text and "guardian@" not in text and "robot-key" not in text


@pytest.mark.pure
async def test_transient_only_is_retry_later_with_the_earliest_hint() -> None:
    a = Scripted("sms", "aliyun", TransientError("isv.BUSINESS_LIMIT_CONTROL", 60.0))
    b = Scripted("sms", "tencent", *[TransientError("timeout")] * 3)
    robot = Scripted("wecom", "wecom", TransientError("errcode_45009", 20.0))
    time = FakeTime()
    outcome = await failover({"sms": [a, b], "wecom": [robot]}, time).deliver([SMS, ROBOT], compose)
    assert outcome.status is Status.retry_later and outcome.retry_after_s == 20.0
    assert [x.transient for x in outcome.attempts] == [True, True, True]
    assert outcome.reasons == ("sms/aliyun:isv.BUSINESS_LIMIT_CONTROL", "sms/tencent:timeout",
                               "wecom/wecom:errcode_45009")


@pytest.mark.pure
async def test_retry_later_without_hints_uses_the_default_and_mixed_failures_retry() -> None:
    a = Scripted("sms", "aliyun", PermanentError("isv.MOBILE_NUMBER_ILLEGAL"))
    mail = Scripted("email", "smtp", *[TransientError("smtp_unavailable")] * 3)
    outcome = await failover({"sms": [a], "email": [mail]}, FakeTime(),
                             later_default_s=45.0).deliver([SMS, MAIL], compose)
    assert (outcome.status, outcome.retry_after_s) == (Status.retry_later, 45.0)


@pytest.mark.pure
async def test_nothing_to_try() -> None:
    outcome = await failover({}, FakeTime()).deliver([], compose)
    assert outcome.status is Status.failed and outcome.reasons == ("none/none:no_contact",)


@pytest.mark.pure
async def test_a_broken_adapter_does_not_stop_failover() -> None:
    a = Scripted("sms", "aliyun", *[RuntimeError("bug 13800138000")] * 3)
    b = Scripted("sms", "tencent")
    outcome = await failover({"sms": [a, b]}, FakeTime()).deliver([SMS], compose)
    assert outcome.status is Status.delivered
    assert outcome.reasons == ("sms/aliyun:unexpected_RuntimeError",)


# --- rate limiting (fake clock: counts and order, never wall-clock speed) -----------------------


@pytest.mark.pure
async def test_bucket_keeps_any_window_within_the_limit() -> None:
    time = FakeTime()
    bucket = TokenBucket.per_window(20, 60.0, burst=5, clock=time.clock, sleep=time.sleep)
    sent_at = []
    for _ in range(60):
        await bucket.acquire()
        sent_at.append(time.now)
    assert sent_at[:5] == [0.0] * 5 and sent_at[5] > 0.0
    worst = max(sum(1 for t in sent_at if start <= t < start + 60.0) for start in sent_at)
    assert worst <= 20
    assert len(time.sleeps) == 55


@pytest.mark.pure
async def test_concurrent_callers_wait_in_order_of_asking() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:  # yields to the others; the clock stands still
        slept.append(seconds)
        await asyncio.sleep(0)

    bucket = TokenBucket(1.0, 2, clock=lambda: 0.0, sleep=sleep)
    waits = await asyncio.gather(*(bucket.acquire() for _ in range(6)))
    assert waits == [0.0, 0.0, 1.0, 2.0, 3.0, 4.0] and slept == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.pure
async def test_too_long_a_wait_is_transient_and_takes_no_token() -> None:
    time = FakeTime()
    bucket = TokenBucket(0.5, 1, clock=time.clock, sleep=time.sleep)
    await bucket.acquire()
    with pytest.raises(TransientError) as exc:
        await bucket.acquire(max_wait_s=1.0)
    assert exc.value.code == "rate_limited" and exc.value.retry_after_s == pytest.approx(2.0)
    assert await bucket.acquire(max_wait_s=5.0) == pytest.approx(2.0)  # the refused call reserved nothing


@pytest.fixture
async def fakes() -> AsyncIterator[FakeProviders]:
    async with running_fakes() as f:
        yield f


async def test_robot_is_paced_per_robot_against_the_fake(fakes: FakeProviders) -> None:
    time = FakeTime()
    limiter = KeyedBuckets(lambda: TokenBucket.per_window(20, 60.0, burst=5, clock=time.clock, sleep=time.sleep))
    async with httpx.AsyncClient(timeout=5.0) as http:
        robot = WeComRobot(http, base_url=f"{fakes.base_url}/wecom", limiter=limiter)
        for _ in range(7):
            await robot.send(OutboundMessage("wecom-robot-1", "s", "t", KEY))
        assert time.sleeps == [4.0, 4.0]  # two past the burst, one token every 60/15 s
        for _ in range(5):
            await robot.send(OutboundMessage("wecom-robot-2", "s", "t", KEY))
    assert time.sleeps == [4.0, 4.0]  # another robot has its own bucket
    assert [a.address for a in fakes.accepted_by("wecom")] == ["wecom-robot-1"] * 7 + ["wecom-robot-2"] * 5


async def test_real_sms_failover_from_aliyun_to_tencent(fakes: FakeProviders) -> None:
    fakes.fail_next("aliyun", 3, "http500")
    time = FakeTime()
    async with httpx.AsyncClient(timeout=5.0) as http:
        channels = {"sms": [
            AliyunSms(http, "LTAI-test", "aliyun-secret", "校园安全", {"notice": "SMS_100001"},
                      endpoint=f"{fakes.base_url}/aliyun/"),
            TencentSms(http, "AKID-test", "tencent-secret", fakes.tencent_app_id, "校园安全", {"notice": "2000001"},
                       endpoint=f"{fakes.base_url}/tencent/"),
        ]}
        outcome = await Failover(channels, sleep=time.sleep).deliver([SMS], compose)
    assert outcome.status is Status.delivered and outcome.result == SendResult("tencent", "serial-1")
    assert fakes.requests == {"aliyun": 3, "tencent": 1} and len(time.sleeps) == 2
    assert [a.idempotency_key for a in fakes.accepted] == [KEY]

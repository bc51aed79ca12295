"""Batch SMS (Aliyun SendBatchSms, Tencent multi-number SendSms) against the fakes, which check
signatures and apply the providers' documented per-number limits; and the carriers' frequency
refusals as waits with a hint, never as permanent failures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from antibully.fake_limits import FakeLimits, latency_from_env, limits_from_env
from antibully.fakes import FakeProviders, running_fakes
from services.notify.channels import aliyun_sms, tencent_sms
from services.notify.channels._sms import groups, until_next_day_s
from services.notify.channels.aliyun_sms import AliyunSms
from services.notify.channels.base import (
    BatchChannel,
    OutboundMessage,
    PermanentError,
    SendResult,
    TransientError,
    send_each,
)
from services.notify.channels.tencent_sms import TencentSms


@pytest.fixture
async def fakes() -> AsyncIterator[FakeProviders]:
    async with running_fakes(FakeProviders(limits=None, latency_ms={})) as f:
        yield f


@pytest.fixture
async def limited() -> AsyncIterator[FakeProviders]:
    async with running_fakes(FakeProviders(limits=FakeLimits(), latency_ms={})) as f:
        yield f


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


def phone(i: int) -> str:
    return f"+86138{i:08d}"


def sms(i: int, address: str | None = None, params: dict[str, str] | None = None,
        template: str = "notice") -> OutboundMessage:
    return OutboundMessage(address or phone(i), "致家长的一封信", "请查收。", f"key-{i}", sms_template=template,
                           sms_params=params if params is not None else {"case_ref": "LETTER-1"})


def aliyun(f: FakeProviders, http: httpx.AsyncClient, secret: str = "aliyun-secret") -> AliyunSms:
    return AliyunSms(http, "LTAI-test", secret, "校园安全", {"notice": "SMS_100001"}, endpoint=f"{f.base_url}/aliyun/")


def tencent(f: FakeProviders, http: httpx.AsyncClient, secret: str = "tencent-secret") -> TencentSms:
    return TencentSms(http, "AKID-test", secret, f.tencent_app_id, "校园安全", {"notice": "2000001"},
                      endpoint=f"{f.base_url}/tencent/")


async def test_both_adapters_are_batch_channels(fakes: FakeProviders, http: httpx.AsyncClient) -> None:
    assert isinstance(aliyun(fakes, http), BatchChannel) and aliyun(fakes, http).max_batch == 100
    assert isinstance(tencent(fakes, http), BatchChannel) and tencent(fakes, http).max_batch == 200


async def test_aliyun_batch_is_one_signed_call_with_parameters_per_number(fakes: FakeProviders,
                                                                         http: httpx.AsyncClient) -> None:
    messages = [sms(i, params={"name": f"家长{i}"}) for i in range(5)]
    results = await aliyun(fakes, http).send_batch(messages)
    assert fakes.requests == {"aliyun": 1} and fakes.batch_sizes == [("aliyun", 5)]
    # one BizId per call; each number its own id within it, which its delivery report can be matched to
    ids = [r.message_id for r in results if isinstance(r, SendResult)]
    assert len(set(ids)) == 5 and all(i.startswith("biz-5/") for i in ids)
    assert "13800000001" not in "".join(ids)
    got = fakes.accepted_by("aliyun")
    assert [a.address for a in got] == [f"138{i:08d}" for i in range(5)]
    assert [json.loads(a.payload["TemplateParam"]) for a in got] == [{"name": f"家长{i}"} for i in range(5)]
    assert {a.payload["Action"] for a in got} == {"SendBatchSms"}


async def test_aliyun_splits_at_100_numbers(fakes: FakeProviders, http: httpx.AsyncClient) -> None:
    results = await send_each(aliyun(fakes, http), [sms(i) for i in range(250)])
    assert all(isinstance(r, SendResult) for r in results) and len(fakes.accepted) == 250
    assert fakes.batch_sizes == [("aliyun", 100), ("aliyun", 100), ("aliyun", 50)]


async def test_aliyun_one_bad_number_fails_alone(fakes: FakeProviders, http: httpx.AsyncClient) -> None:
    messages = [sms(i) for i in range(32)]
    messages[13] = sms(13, "+8612345")
    results = await aliyun(fakes, http).send_batch(messages)
    assert isinstance(results[13], PermanentError) and results[13].code == "isv.MOBILE_NUMBER_ILLEGAL"
    assert all(isinstance(r, SendResult) for i, r in enumerate(results) if i != 13)
    assert len(fakes.accepted_by("aliyun")) == 31
    assert fakes.requests["aliyun"] <= 1 + 2 * 5  # halves down to the bad one: about 2·log2(32) calls


async def test_aliyun_number_over_its_frequency_limit_waits_and_the_rest_go(limited: FakeProviders,
                                                                            http: httpx.AsyncClient) -> None:
    channel = aliyun(limited, http)
    await channel.send(sms(7))
    results = await channel.send_batch([sms(i) for i in range(10)])
    refused = results[7]
    assert isinstance(refused, TransientError) and refused.code == "isv.BUSINESS_LIMIT_CONTROL"
    assert refused.retry_after_s == 60.0  # the fake said 分钟级: a minute's wait, not a permanent failure
    assert all(isinstance(r, SendResult) for i, r in enumerate(results) if i != 7)
    assert limited.refusals["isv.BUSINESS_LIMIT_CONTROL"] >= 1
    assert sorted(a.address for a in limited.accepted_by("aliyun")) == [f"138{i:08d}" for i in range(10)]


async def test_aliyun_unmapped_template_fails_only_its_message(fakes: FakeProviders,
                                                              http: httpx.AsyncClient) -> None:
    results = await aliyun(fakes, http).send_batch([sms(0), sms(1, template="unknown"), sms(2)])
    assert isinstance(results[1], PermanentError) and results[1].code == "template_unmapped"
    assert isinstance(results[0], SendResult) and isinstance(results[2], SendResult)
    assert fakes.batch_sizes == [("aliyun", 2)]


async def test_a_whole_call_refused_gives_each_message_its_error(fakes: FakeProviders,
                                                                 http: httpx.AsyncClient) -> None:
    wrong = await aliyun(fakes, http, secret="nope").send_batch([sms(i) for i in range(3)])
    assert [getattr(r, "code", None) for r in wrong] == ["SignatureDoesNotMatch"] * 3
    assert all(isinstance(r, PermanentError) for r in wrong)
    fakes.fail_next("tencent", 1, "http500")
    down = await tencent(fakes, http).send_batch([sms(i) for i in range(3)])
    assert all(isinstance(r, TransientError) and r.code == "http_502" for r in down)
    assert fakes.accepted == []


async def test_tencent_batch_has_a_serial_per_number(fakes: FakeProviders, http: httpx.AsyncClient) -> None:
    results = await tencent(fakes, http).send_batch([sms(i) for i in range(5)])
    assert fakes.requests == {"tencent": 1} and fakes.batch_sizes == [("tencent", 5)]
    serials = [r.message_id for r in results if isinstance(r, SendResult)]
    assert len(set(serials)) == 5
    [payload] = {json.dumps(a.payload, sort_keys=True) for a in fakes.accepted_by("tencent")}
    assert json.loads(payload)["PhoneNumberSet"] == [phone(i) for i in range(5)]


async def test_tencent_groups_by_parameters_and_splits_at_200(fakes: FakeProviders, http: httpx.AsyncClient) -> None:
    messages = [sms(i, params={"school": "一中" if i % 2 else "二中"}) for i in range(450)]
    results = await send_each(tencent(fakes, http), messages)
    assert all(isinstance(r, SendResult) for r in results)
    assert sorted(n for _, n in fakes.batch_sizes) == [25, 25, 100, 100, 100, 100]
    for a in fakes.accepted_by("tencent"):  # every number got its own school's parameters
        i = int(a.address[-8:])
        assert a.payload["TemplateParamSet"] == ["一中" if i % 2 else "二中"]


async def test_tencent_bad_number_and_frequency_limit_are_per_number(limited: FakeProviders,
                                                                     http: httpx.AsyncClient) -> None:
    channel = tencent(limited, http)
    await channel.send(sms(3))
    messages = [sms(i) for i in range(6)]
    messages[5] = sms(5, "+86999")
    results = await channel.send_batch(messages)
    assert limited.requests["tencent"] == 2
    assert isinstance(results[3], TransientError)
    assert (results[3].code, results[3].retry_after_s) == ("LimitExceeded.PhoneNumberThirtySecondLimit", 30.0)
    assert isinstance(results[5], PermanentError) and results[5].code == "InvalidParameterValue.IncorrectPhoneNumber"
    assert [isinstance(r, SendResult) for r in results] == [True, True, True, False, True, False]
    with pytest.raises(TransientError) as single:  # the single send says the same
        await channel.send(sms(3))
    assert single.value.retry_after_s == 30.0


async def test_robots_refuse_past_20_a_minute(limited: FakeProviders, http: httpx.AsyncClient) -> None:
    from services.notify.channels.dingtalk import DingTalkRobot
    from services.notify.channels.ratelimit import KeyedBuckets, TokenBucket
    from services.notify.channels.wecom import WeComRobot

    def unpaced() -> KeyedBuckets:  # our own pacing off: the fake's limit is what is tested
        return KeyedBuckets(lambda: TokenBucket(1000.0, 1000))

    wecom = WeComRobot(http, base_url=f"{limited.base_url}/wecom", limiter=unpaced())
    ding = DingTalkRobot(http, secret="SECding-secret", base_url=f"{limited.base_url}/dingtalk", limiter=unpaced())
    for robot, address in ((wecom, "wecom-robot-1"), (ding, "ding-token-1")):
        for _ in range(20):
            await robot.send(OutboundMessage(address, "s", "t", "k"))
        with pytest.raises(TransientError):
            await robot.send(OutboundMessage(address, "s", "t", "k"))
    await wecom.send(OutboundMessage("wecom-robot-2", "s", "t", "k"))  # another robot has its own minute
    assert limited.robot_messages == {"wecom-robot-1": 20, "ding-token-1": 20, "wecom-robot-2": 1}
    assert limited.refusals == {"errcode_45009": 1, "errcode_130101": 1}


async def test_provider_qps_limit_is_throttling(http: httpx.AsyncClient) -> None:
    async with running_fakes(FakeProviders(limits=FakeLimits(qps={"aliyun": 2}), latency_ms={})) as f:
        outcomes = [await send_each(aliyun(f, http), [sms(i)]) for i in range(10)]
    throttled = [r for [r] in outcomes if isinstance(r, TransientError)]
    assert throttled and {(t.code, t.retry_after_s) for t in throttled} == {("Throttling.User", 1.0)}
    assert f.refusals["Throttling.User"] == len(throttled)


@pytest.mark.pure
def test_frequency_refusals_carry_the_window_as_their_wait() -> None:
    now = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai: an hour to the next day
    assert until_next_day_s(now) == 3600.0
    assert aliyun_sms.classify("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1", now).retry_after_s == 60.0
    assert aliyun_sms.classify("isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5", now).retry_after_s == 3600.0
    assert aliyun_sms.classify("isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10", now).retry_after_s == 3600.0
    assert isinstance(aliyun_sms.classify("isv.MOBILE_NUMBER_ILLEGAL"), PermanentError)
    ts = now.timestamp()
    for code, wait in (("LimitExceeded.PhoneNumberThirtySecondLimit", 30.0),
                       ("LimitExceeded.PhoneNumberOneHourLimit", 3600.0),
                       ("LimitExceeded.PhoneNumberDailyLimit", 3600.0),
                       ("LimitExceeded.PhoneNumberSameContentDailyLimit", 3600.0)):
        got = tencent_sms.classify(code, ts)
        assert isinstance(got, TransientError) and got.retry_after_s == wait, code
    assert isinstance(tencent_sms.classify("InvalidParameterValue.IncorrectPhoneNumber", ts), PermanentError)


@pytest.mark.pure
def test_groups_keep_one_template_and_each_number_once_per_call() -> None:
    messages = [sms(0), sms(1), sms(0), sms(2, template="other"), sms(3), sms(4)]
    got = groups(messages, lambda m: m.sms_template, lambda m: m.address, 3)
    assert got == [[0, 1, 4], [2], [3], [5]] or got == [[0, 1, 4], [2, 5], [3]]


@pytest.mark.pure
def test_fake_latency_and_limits_from_the_environment() -> None:
    assert latency_from_env("") == {}
    assert latency_from_env("80")["tencent"] == (80.0, 80.0)
    got = latency_from_env("sms=50-150,robot=60")
    assert got == {"aliyun": (50.0, 150.0), "tencent": (50.0, 150.0), "wecom": (60.0, 60.0), "dingtalk": (60.0, 60.0)}
    assert limits_from_env("") is None and limits_from_env("realistic") == FakeLimits()


async def test_a_number_over_its_limits_everywhere_falls_to_email_or_waits(limited: FakeProviders,
                                                                           http: httpx.AsyncClient) -> None:
    """Both SMS providers refuse the number for frequency: the notice goes by e-mail if the reader has one,
    else it waits for the shortest window (retry_later), and is never failed."""
    from services.notify.failover import Address, Failover, Status

    async def no_wait(_: float) -> None:
        return None

    class Mail:
        kind, provider = "email", "smtp"

        async def send(self, message: OutboundMessage) -> SendResult:
            return SendResult("smtp", "<m@x>")

    sms_channels = [aliyun(limited, http), tencent(limited, http)]
    for channel in sms_channels:  # the number's one-a-minute and 30-second windows are used up
        await channel.send(sms(9))
    failover = Failover({"sms": sms_channels, "email": [Mail()]}, sleep=no_wait)

    def compose(address: Address) -> OutboundMessage:
        return sms(9, address.value) if address.kind == "sms" else sms(9, "g9@example.cn")

    with_mail = await failover.deliver([Address("sms", phone(9)), Address("email", "g9@example.cn")], compose)
    assert with_mail.status is Status.delivered and with_mail.channel_kind == "email"
    assert with_mail.reasons == ("sms/aliyun:isv.BUSINESS_LIMIT_CONTROL",
                                 "sms/tencent:LimitExceeded.PhoneNumberThirtySecondLimit")
    only_sms = await failover.deliver([Address("sms", phone(9))], compose)
    assert only_sms.status is Status.retry_later and only_sms.retry_after_s == 30.0

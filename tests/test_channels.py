"""Each channel against a fake of its provider that checks signatures and payloads itself."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from antibully.fakes import FakeProviders, running_fakes
from antibully.infra import SmtpSink, free_port
from services.notify.channels import build_channels
from services.notify.channels.aliyun_sms import AliyunSms
from services.notify.channels.base import Channel, OutboundMessage, PermanentError, TransientError
from services.notify.channels.dingtalk import DingTalkRobot
from services.notify.channels.smtp import SmtpChannel
from services.notify.channels.tencent_sms import TencentSms
from services.notify.channels.webhook import Webhook
from services.notify.channels.wecom import WeComRobot
from services.notify.mailer import SmtpMailer
from shared.config import Settings

PHONE = "+8613800138000"
KEY = "6f1c8f1e-8a57-4e43-9a43-3c0d6a1b0f01"
PARAMS = {"case_ref": "LC-2026-0042", "school": "乐昌市 示范中学*~+/&="}


@pytest.fixture
async def fakes() -> AsyncIterator[FakeProviders]:
    async with running_fakes() as f:
        yield f


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


def msg(address: str = PHONE, key: str = KEY) -> OutboundMessage:
    return OutboundMessage(address=address, subject="校园欺凌事件通知", text="请及时处置。", idempotency_key=key,
                           sms_params=PARAMS)


def aliyun(f: FakeProviders, http: httpx.AsyncClient, secret: str = "aliyun-secret") -> AliyunSms:
    return AliyunSms(http, "LTAI-test", secret, "校园安全", {"notice": "SMS_100001"}, endpoint=f"{f.base_url}/aliyun/")


def tencent(f: FakeProviders, http: httpx.AsyncClient, secret: str = "tencent-secret") -> TencentSms:
    return TencentSms(http, "AKID-test", secret, f.tencent_app_id, "校园安全", {"notice": "2000001"},
                      endpoint=f"{f.base_url}/tencent/")


def wecom(f: FakeProviders, http: httpx.AsyncClient) -> WeComRobot:
    return WeComRobot(http, base_url=f"{f.base_url}/wecom")


def dingtalk(f: FakeProviders, http: httpx.AsyncClient, secret: str = "SECding-secret") -> DingTalkRobot:
    return DingTalkRobot(http, secret=secret, base_url=f"{f.base_url}/dingtalk")


def webhook(f: FakeProviders, http: httpx.AsyncClient, secret: str = "hook-secret") -> Webhook:
    return Webhook(http, secret)


# (factory, good address, provider name at the fake)
CASES: dict[str, tuple[Callable[..., Channel], Callable[[FakeProviders], str]]] = {
    "aliyun": (aliyun, lambda f: PHONE),
    "tencent": (tencent, lambda f: PHONE),
    "wecom": (wecom, lambda f: "wecom-robot-1"),
    "dingtalk": (dingtalk, lambda f: "ding-token-1"),
    "webhook": (webhook, lambda f: f"{f.base_url}/hook/bureau"),
}
THROTTLE = {"aliyun": ("isv.BUSINESS_LIMIT_CONTROL", 60.0),
            "tencent": ("LimitExceeded.PhoneNumberOneHourLimit", 3600.0),  # a carrier's window: a wait, not a refusal
            "wecom": ("errcode_45009", 60.0), "dingtalk": ("errcode_130101", 600.0), "webhook": ("http_429", 7.0)}
HTTP_FAIL = {"aliyun": "http_500", "tencent": "http_502", "wecom": "http_503", "dingtalk": "http_500",
             "webhook": "http_503"}
PERMANENT = {"aliyun": "isv.MOBILE_NUMBER_ILLEGAL", "tencent": "InvalidParameterValue.IncorrectPhoneNumber",
             "wecom": "errcode_93000", "dingtalk": "errcode_310000", "webhook": "http_404"}
WRONG_SECRET = {"aliyun": "SignatureDoesNotMatch", "tencent": "AuthFailure.SignatureFailure",
                "dingtalk": "errcode_310000", "webhook": "http_401"}


async def test_aliyun_signed_request_is_accepted_with_out_id(fakes: FakeProviders, http: httpx.AsyncClient) -> None:
    result = await aliyun(fakes, http).send(msg())
    [got] = fakes.accepted_by("aliyun")
    assert result.provider == "aliyun" and result.message_id == "biz-1"
    assert got.address == "13800138000" and got.idempotency_key == KEY
    assert (got.payload["TemplateCode"], got.payload["SignName"]) == ("SMS_100001", "校园安全")
    assert json.loads(got.payload["TemplateParam"]) == PARAMS


async def test_tencent_signed_request_is_accepted_with_session_context(fakes: FakeProviders,
                                                                       http: httpx.AsyncClient) -> None:
    result = await tencent(fakes, http).send(msg(address="13800138000"))
    [got] = fakes.accepted_by("tencent")
    assert (result.provider, result.message_id) == ("tencent", "serial-1")
    assert got.address == PHONE and got.idempotency_key == KEY
    assert got.payload["TemplateId"] == "2000001"
    assert got.payload["TemplateParamSet"] == list(PARAMS.values())  # positional, in the order given


async def test_robots_and_webhook_are_accepted(fakes: FakeProviders, http: httpx.AsyncClient) -> None:
    await wecom(fakes, http).send(msg("wecom-robot-1"))
    await dingtalk(fakes, http).send(msg("ding-token-1"))
    result = await webhook(fakes, http).send(msg(f"{fakes.base_url}/hook/bureau"))
    [w], [d], [h] = fakes.accepted_by("wecom"), fakes.accepted_by("dingtalk"), fakes.accepted_by("webhook")
    assert w.payload["text"]["content"] == "校园欺凌事件通知\n\n请及时处置。"
    assert d.payload == {"msgtype": "text", "text": {"content": "校园欺凌事件通知\n\n请及时处置。"}}
    assert h.idempotency_key == KEY and h.payload == {"id": KEY, "subject": "校园欺凌事件通知", "text": "请及时处置。"}
    assert result.message_id == "hook-3"


async def test_webhook_retry_with_same_key_is_taken_once(fakes: FakeProviders, http: httpx.AsyncClient) -> None:
    channel = webhook(fakes, http)
    await channel.send(msg(f"{fakes.base_url}/hook/bureau"))
    await channel.send(msg(f"{fakes.base_url}/hook/bureau"))
    assert fakes.requests["webhook"] == 2 and len(fakes.accepted_by("webhook")) == 1


async def test_dingtalk_address_may_carry_its_own_secret(fakes: FakeProviders, http: httpx.AsyncClient) -> None:
    await dingtalk(fakes, http, secret="").send(msg("ding-token-1:SECding-secret"))
    assert [a.address for a in fakes.accepted_by("dingtalk")] == ["ding-token-1"]
    with pytest.raises(PermanentError) as exc:
        await dingtalk(fakes, http, secret="").send(msg("ding-token-1"))
    assert exc.value.code == "no_secret"


@pytest.mark.parametrize("provider", sorted(WRONG_SECRET))
async def test_wrong_secret_is_rejected_by_the_fake_and_permanent(provider: str, fakes: FakeProviders,
                                                                  http: httpx.AsyncClient) -> None:
    factory, address = CASES[provider]
    with pytest.raises(PermanentError) as exc:
        await factory(fakes, http, secret="not-the-secret").send(msg(address(fakes)))
    assert exc.value.code == WRONG_SECRET[provider]
    assert fakes.accepted == []


@pytest.mark.parametrize("provider", sorted(CASES))
async def test_throttling_is_transient_with_retry_hint(provider: str, fakes: FakeProviders,
                                                       http: httpx.AsyncClient) -> None:
    factory, address = CASES[provider]
    fakes.fail_next(provider, 1, "throttle")
    with pytest.raises(TransientError) as exc:
        await factory(fakes, http).send(msg(address(fakes)))
    assert (exc.value.code, exc.value.retry_after_s) == THROTTLE[provider]
    await factory(fakes, http).send(msg(address(fakes)))  # the next one goes through
    assert len(fakes.accepted_by(provider)) == 1


@pytest.mark.parametrize("provider", sorted(CASES))
async def test_server_errors_are_transient(provider: str, fakes: FakeProviders, http: httpx.AsyncClient) -> None:
    factory, address = CASES[provider]
    fakes.fail_next(provider, 1, "http500")
    with pytest.raises(TransientError) as exc:
        await factory(fakes, http).send(msg(address(fakes)))
    assert exc.value.code == HTTP_FAIL[provider]


@pytest.mark.parametrize("provider", sorted(CASES))
async def test_provider_refusal_is_permanent_and_says_no_personal_data(provider: str, fakes: FakeProviders,
                                                                       http: httpx.AsyncClient) -> None:
    factory, address = CASES[provider]
    fakes.fail_next(provider, 1, "permanent")
    message = msg(address(fakes))
    with pytest.raises(PermanentError) as exc:
        await factory(fakes, http).send(message)
    assert exc.value.code == PERMANENT[provider]
    for text in (str(exc.value), repr(exc.value), repr(message)):
        assert message.address not in text and "138" not in text and "请及时" not in text


async def test_unknown_robot_key_is_permanent(fakes: FakeProviders, http: httpx.AsyncClient) -> None:
    with pytest.raises(PermanentError) as exc:
        await wecom(fakes, http).send(msg("no-such-robot"))
    assert exc.value.code == "errcode_93000"


async def test_unreachable_provider_is_transient(http: httpx.AsyncClient) -> None:
    channel = AliyunSms(http, "id", "secret", "sign", {"notice": "SMS_1"}, endpoint=f"http://127.0.0.1:{free_port()}/")
    with pytest.raises(TransientError) as exc:
        await channel.send(msg())
    assert exc.value.code == "network"


async def test_unmapped_sms_template_is_permanent(fakes: FakeProviders, http: httpx.AsyncClient) -> None:
    message = OutboundMessage(PHONE, "", "", KEY, sms_template="unknown")
    for channel in (aliyun(fakes, http), tencent(fakes, http)):
        with pytest.raises(PermanentError) as exc:
            await channel.send(message)
        assert exc.value.code == "template_unmapped"
    assert fakes.requests == {}


async def test_smtp_channel_sends_with_stable_message_id(smtp_sink: SmtpSink) -> None:
    channel = SmtpChannel(SmtpMailer(Settings(smtp_host="127.0.0.1", smtp_port=smtp_sink.port, smtp_timeout_s=5)))
    result = await channel.send(msg("guardian@example.cn"))
    await channel.aclose()
    [mail] = smtp_sink.messages
    assert result.message_id == mail["Message-ID"] == f"<{KEY}@antibully.notify>"
    assert mail["To"] == "guardian@example.cn" and mail["Subject"] == "校园欺凌事件通知"


async def test_smtp_unreachable_is_transient() -> None:
    channel = SmtpChannel(SmtpMailer(Settings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout_s=2)))
    with pytest.raises(TransientError) as exc:
        await channel.send(msg("guardian@example.cn"))
    assert exc.value.code == "smtp_unavailable"


@pytest.mark.pure
async def test_build_channels_has_only_configured_providers_in_order(http: httpx.AsyncClient) -> None:
    bare = build_channels(Settings(wecom_webhook_base="", dingtalk_webhook_base=""), http)
    assert {k: [c.provider for c in v] for k, v in bare.items()} == {"email": ["smtp"]}
    full = Settings(
        aliyun_access_key_id="a", aliyun_access_key_secret="b", aliyun_sms_sign_name="c", aliyun_sms_template="d",
        tencent_secret_id="a", tencent_secret_key="b", tencent_sms_app_id="c", tencent_sms_sign_name="d",
        tencent_sms_template_id="e", webhook_secret="s", sms_providers="tencent, aliyun",
    )
    got = build_channels(full, http)
    assert {k: [c.provider for c in v] for k, v in got.items()} == {
        "email": ["smtp"], "sms": ["tencent", "aliyun"], "wecom": ["wecom"], "dingtalk": ["dingtalk"],
        "webhook": ["webhook"],
    }
    assert all(isinstance(c, Channel) and c.kind == kind for kind, cs in got.items() for c in cs)
    half = full.model_copy(update={"tencent_secret_key": ""})
    assert [c.provider for c in build_channels(half, http)["sms"]] == ["aliyun"]


async def test_dingtalk_sign_with_plus_and_slash_survives_the_query(fakes: FakeProviders,
                                                                   http: httpx.AsyncClient) -> None:
    """'+' unencoded would arrive as a space: pick a timestamp whose sign has both '+' and '/'."""
    import base64
    import hashlib
    import hmac
    import time

    ts = int(time.time() * 1000)
    while not {"+", "/"} <= set(base64.b64encode(
            hmac.new(b"SECding-secret", f"{ts}\nSECding-secret".encode(), hashlib.sha256).digest()).decode()):
        ts += 1
    await DingTalkRobot(http, secret="SECding-secret", base_url=f"{fakes.base_url}/dingtalk",
                        clock_ms=lambda: ts).send(msg("ding-token-1"))
    assert len(fakes.accepted_by("dingtalk")) == 1

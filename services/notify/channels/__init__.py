"""Notification channels: one interface (`base.Channel`), one adapter per provider.

`build_channels` gives, per address kind, the configured providers in order of preference;
failover (services/notify/failover.py) walks them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from services.notify.channels.aliyun_sms import AliyunSms
from services.notify.channels.base import (
    DEFAULT_SMS_TEMPLATE,
    Channel,
    ChannelError,
    OutboundMessage,
    PermanentError,
    SendResult,
    TransientError,
)
from services.notify.channels.dingtalk import DingTalkRobot
from services.notify.channels.ratelimit import KeyedBuckets, Limiter, TokenBucket
from services.notify.channels.smtp import SmtpChannel
from services.notify.channels.tencent_sms import TencentSms
from services.notify.channels.webhook import Webhook
from services.notify.channels.wecom import WeComRobot, robot_limiter
from services.notify.mailer import SmtpMailer
from shared.config import Settings

if TYPE_CHECKING:
    from services.notify.limits import SharedLimits

__all__ = [
    "Channel", "ChannelError", "OutboundMessage", "PermanentError", "SendResult", "TransientError",
    "build_channels", "new_http_client",
]


def new_http_client(settings: Settings) -> httpx.AsyncClient:
    """One pooled client for all HTTP channels; the caller closes it (`async with`)."""
    return httpx.AsyncClient(timeout=httpx.Timeout(settings.channel_timeout_s), follow_redirects=False,
                             trust_env=False)


def _sms(settings: Settings, name: str, http: httpx.AsyncClient, limits: SharedLimits | None) -> Channel | None:
    s = settings
    limiter = TokenBucket(s.sms_rate_per_s, max(1.0, s.sms_rate_per_s))
    if limits is not None:  # the provider's QPS is one allowance for every replica
        from services.notify.limits import SharedBucket
        limiter = SharedBucket(limits, name, s.sms_rate_per_s, max(1.0, s.sms_rate_per_s))
    if name == "aliyun" and all((s.aliyun_access_key_id, s.aliyun_access_key_secret, s.aliyun_sms_sign_name,
                                 s.aliyun_sms_template)):
        return AliyunSms(http, s.aliyun_access_key_id, s.aliyun_access_key_secret, s.aliyun_sms_sign_name,
                         {DEFAULT_SMS_TEMPLATE: s.aliyun_sms_template}, endpoint=s.aliyun_sms_endpoint,
                         region=s.aliyun_sms_region, limiter=limiter, max_wait_s=s.channel_max_wait_s)
    if name == "tencent" and all((s.tencent_secret_id, s.tencent_secret_key, s.tencent_sms_app_id,
                                  s.tencent_sms_sign_name, s.tencent_sms_template_id)):
        return TencentSms(http, s.tencent_secret_id, s.tencent_secret_key, s.tencent_sms_app_id,
                          s.tencent_sms_sign_name, {DEFAULT_SMS_TEMPLATE: s.tencent_sms_template_id},
                          endpoint=s.tencent_sms_endpoint, region=s.tencent_sms_region, limiter=limiter,
                          max_wait_s=s.channel_max_wait_s)
    return None


def build_channels(settings: Settings, http: httpx.AsyncClient, limits: SharedLimits | None = None
                   ) -> dict[str, list[Channel]]:
    """Providers per kind, in order of preference; a kind without a configured provider is absent.
    With `limits`, the providers' own limits (SMS QPS, per number, per robot) are shared across replicas."""
    s = settings
    out: dict[str, list[Channel]] = {"email": [SmtpChannel(SmtpMailer(s))]} if s.smtp_host else {}
    sms = [c for name in s.sms_providers.split(",") if (c := _sms(s, name.strip(), http, limits)) is not None]
    if sms and limits is not None and s.sms_per_number_limit > 0:
        from services.notify.limits import wrap_per_number
        sms = wrap_per_number(sms, limits, s.sms_per_number_limit, s.sms_per_number_window_s)
    if sms:
        out["sms"] = sms

    def robots(kind: str) -> Limiter:
        if limits is None:
            return robot_limiter(s.robot_per_minute, s.robot_window_s)
        from services.notify.limits import SharedKeyed
        return SharedKeyed(limits, kind, s.robot_per_minute, s.robot_window_s)

    if s.wecom_webhook_base:
        out["wecom"] = [WeComRobot(http, base_url=s.wecom_webhook_base, limiter=robots("wecom"),
                                   max_wait_s=s.channel_max_wait_s)]
    if s.dingtalk_webhook_base:
        out["dingtalk"] = [DingTalkRobot(http, secret=s.dingtalk_secret, base_url=s.dingtalk_webhook_base,
                                         limiter=robots("dingtalk"), max_wait_s=s.channel_max_wait_s)]
    if s.webhook_secret:
        out["webhook"] = [Webhook(http, s.webhook_secret, limiter=KeyedBuckets(lambda: TokenBucket(5.0, 10)),
                                  max_wait_s=s.channel_max_wait_s)]
    return out

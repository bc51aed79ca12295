"""The one small interface every notification channel implements, and its two kinds of failure.

Failover (services/notify/failover.py) only needs to know whether trying again can help:
`TransientError` (later, maybe elsewhere) or `PermanentError` (not with this provider).
Both carry codes only: provider messages may echo a phone number or an address.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

KINDS = ("email", "sms", "wecom", "dingtalk", "webhook")
DEFAULT_SMS_TEMPLATE = "notice"


@dataclass(frozen=True)
class OutboundMessage:
    """One message for one address. Personal fields are kept out of repr (and so out of logs).

    `sms_template` is a logical template name (e.g. "notice"); each SMS channel maps it to its
    provider's own template code, so one message can fail over between providers.
    `sms_params` are named; providers with positional parameters (Tencent) take them in order.
    """

    address: str = field(repr=False)
    subject: str = field(repr=False)
    text: str = field(repr=False)
    idempotency_key: str
    sms_template: str = DEFAULT_SMS_TEMPLATE
    sms_params: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class SendResult:
    """What a provider gave back: the id its delivery receipts will refer to."""

    provider: str
    message_id: str


class ChannelError(Exception):
    """A send that did not go through. `code` is safe to log: never personal data."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class TransientError(ChannelError):
    """Worth trying again: throttling, 5xx, timeouts. `retry_after_s` is the provider's hint."""

    def __init__(self, code: str, retry_after_s: float | None = None) -> None:
        super().__init__(code)
        self.retry_after_s = retry_after_s


class PermanentError(ChannelError):
    """This provider will never take this message (bad number, credentials, signature, template)."""


@runtime_checkable
class Channel(Protocol):
    """A way to reach an address of one kind through one provider."""

    kind: str  # email | sms | wecom | dingtalk | webhook
    provider: str  # smtp | aliyun | tencent | wecom | dingtalk | webhook

    async def send(self, message: OutboundMessage) -> SendResult:
        """Send once; raise TransientError or PermanentError when it did not go through."""
        ...

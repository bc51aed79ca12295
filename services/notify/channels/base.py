"""The one small interface every notification channel implements, and its two kinds of failure.

Failover (services/notify/failover.py) only needs to know whether trying again can help:
`TransientError` (later, maybe elsewhere) or `PermanentError` (not with this provider).
Both carry codes only: provider messages may echo a phone number or an address.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


@runtime_checkable
class BatchChannel(Channel, Protocol):
    """A channel whose provider takes many messages of one template in one call (Aliyun `SendBatchSms`,
    Tencent's multi-number `SendSms`, several messages over one SMTP connection).

    The result lists, in the messages' order, a SendResult or the ChannelError for that message:
    one bad number does not fail the others. An error for the call as a whole (the provider away)
    is raised as usual and concerns every message of the batch.
    """

    max_batch: int  # the provider's limit per call (Aliyun 100 numbers, Tencent 200)

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SendResult | ChannelError]:
        ...


async def send_each(channel: Channel, messages: Sequence[OutboundMessage]) -> list[SendResult | ChannelError]:
    """The batch contract for any channel: one send per message, each outcome in its place."""
    if isinstance(channel, BatchChannel):
        out: list[SendResult | ChannelError] = []
        for start in range(0, len(messages), max(1, channel.max_batch)):
            out.extend(await channel.send_batch(messages[start:start + channel.max_batch]))
        return out
    return await send_one_by_one(channel, messages)


async def send_one_by_one(channel: Channel, messages: Sequence[OutboundMessage]) -> list[SendResult | ChannelError]:
    """One `send` per message, each outcome (a result or its ChannelError) in its place."""
    results: list[SendResult | ChannelError] = []
    for message in messages:
        try:
            results.append(await channel.send(message))
        except ChannelError as exc:
            results.append(exc)
    return results

"""The order of attempts for one notification: addresses in preference, providers per kind.

Pure orchestration over injected channels (no I/O of its own besides the injected sleep).
Within one delivery it retries a transient failure a few times with jittered backoff, then
falls over to the next provider of the same kind, then to the next address. Long waits are
not done here: the outcome says `retry_later` with a delay, and the caller naks the JetStream
message with that delay; `failed` means every attempt was refused for good. Our own shared rate
limits (`RateLimited`) are never waited for: the next provider or address at once. A throttled
robot (`Park`) ends the round as `parked`: the notice joins the robot's digest (robot_digest.py).

Attempt records carry kinds, providers and codes only, never an address.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from services.notify.channels.base import Channel, ChannelError, OutboundMessage, SendResult, TransientError
from services.notify.channels.ratelimit import Park, RateLimited
from shared.bus import safe_error

log = logging.getLogger("antibully.notify.failover")


@dataclass(frozen=True)
class Address:
    """One way to reach a recipient: a kind (email, sms, wecom, dingtalk, webhook) and its value."""

    kind: str
    value: str = field(repr=False)


@dataclass(frozen=True)
class RetryPolicy:
    max_tries_per_channel: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 4.0
    max_inline_wait_s: float = 5.0  # a provider asking for longer is skipped (and its wait reported)
    later_default_s: float = 30.0  # retry_later delay when no provider said when
    later_min_s: float = 5.0
    later_max_s: float = 900.0

    def backoff_s(self, tries: int, rand: float) -> float:
        """Exponential with jitter in [half, full]: spreads retries of many notifications."""
        full = min(self.max_delay_s, self.base_delay_s * 2.0 ** (tries - 1))
        return full * (0.5 + 0.5 * rand)


class Status(StrEnum):
    delivered = "delivered"
    retry_later = "retry_later"  # at least one failure was transient: nak with `retry_after_s`
    failed = "failed"  # every attempt was permanent (or there was nothing to try)
    parked = "parked"  # a throttled robot: the last attempt's address joins the robot's digest queue


@dataclass(frozen=True)
class Attempt:
    """What one channel did for one address: how many tries and the last code ("ok" if sent)."""

    address_index: int
    kind: str
    provider: str
    tries: int
    code: str
    transient: bool = False
    retry_after_s: float | None = None
    limited: bool = False  # our own shared limit said "not now": no floor on the wait

    @property
    def reason(self) -> str:
        return f"{self.kind}/{self.provider}:{self.code}"


@dataclass(frozen=True)
class Outcome:
    status: Status
    attempts: tuple[Attempt, ...]
    result: SendResult | None = None
    channel_kind: str | None = None
    retry_after_s: float | None = None

    @property
    def reasons(self) -> tuple[str, ...]:
        """Per-attempt failure reasons, e.g. ("sms/aliyun:isv.MOBILE_NUMBER_ILLEGAL", ...)."""
        return tuple(a.reason for a in self.attempts if a.code != "ok")

    @property
    def tries(self) -> int:
        return sum(a.tries for a in self.attempts)


Sleep = Callable[[float], Awaitable[None]]


class Failover:
    def __init__(self, channels: Mapping[str, Sequence[Channel]], policy: RetryPolicy | None = None, *,
                 sleep: Sleep = asyncio.sleep, rand: Callable[[], float] = random.random) -> None:
        self.channels = channels
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._rand = rand

    async def deliver(self, addresses: Sequence[Address], compose: Callable[[Address], OutboundMessage]) -> Outcome:
        """Try every address with every provider of its kind until one accepts."""
        attempts: list[Attempt] = []
        if not addresses:
            return Outcome(Status.failed, (Attempt(-1, "none", "none", 0, "no_contact"),))
        for index, address in enumerate(addresses):
            providers = self.channels.get(address.kind, ())
            if not providers:
                attempts.append(Attempt(index, address.kind, "none", 0, "no_channel"))
                continue
            message = compose(address)
            for channel in providers:
                attempt, result = await self._try_channel(index, channel, message)
                attempts.append(attempt)
                if attempt.code == Park.CODE:
                    return Outcome(Status.parked, tuple(attempts), channel_kind=channel.kind)
                if result is not None:
                    return Outcome(Status.delivered, tuple(attempts), result, channel.kind)
                log.warning("channel %s/%s failed after %d tries: %s", channel.kind, channel.provider,
                            attempt.tries, attempt.code)
        return self._undelivered(tuple(attempts))

    async def _try_channel(self, index: int, channel: Channel,
                           message: OutboundMessage) -> tuple[Attempt, SendResult | None]:
        p = self.policy
        tries = 0
        while True:
            tries += 1
            error: TransientError
            try:
                result = await channel.send(message)
            except Park as exc:
                return Attempt(index, channel.kind, channel.provider, tries, Park.CODE, True, exc.retry_after_s), None
            except RateLimited as exc:  # never waited for here: the next provider or address, or later
                return Attempt(index, channel.kind, channel.provider, tries, exc.code, True, exc.retry_after_s,
                               limited=True), None
            except TransientError as exc:
                error = exc
            except ChannelError as exc:
                return Attempt(index, channel.kind, channel.provider, tries, exc.code), None
            except Exception as exc:  # noqa: BLE001 - a broken adapter must not stop failover
                log.error("channel %s/%s raised %s", channel.kind, channel.provider, safe_error(exc))
                error = TransientError(f"unexpected_{type(exc).__name__}")
            else:
                return Attempt(index, channel.kind, channel.provider, tries, "ok"), result
            hint = error.retry_after_s
            give_up = tries >= p.max_tries_per_channel or (hint is not None and hint > p.max_inline_wait_s)
            if give_up:
                return Attempt(index, channel.kind, channel.provider, tries, error.code, True, hint), None
            await self._sleep(hint if hint is not None else p.backoff_s(tries, self._rand()))

    def _undelivered(self, attempts: tuple[Attempt, ...]) -> Outcome:
        transient = [a for a in attempts if a.transient]
        if not transient:
            return Outcome(Status.failed, attempts)
        p = self.policy

        def wait(a: Attempt) -> float:
            hint = a.retry_after_s if a.retry_after_s is not None else p.later_default_s
            return max(0.05 if a.limited else p.later_min_s, hint)

        # The earliest moment any provider may take it again.
        delay = min(wait(a) for a in transient)
        return Outcome(Status.retry_later, attempts, retry_after_s=min(p.later_max_s, delay))

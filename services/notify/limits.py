"""Provider limits shared by every notify replica: token buckets in PostgreSQL, not in one process.

A robot's 20 messages a minute, an SMS provider's calls per second and a carrier's per-number
frequency belong to the provider, so two replicas must not each spend the whole allowance. Each
bucket is a row taken in one statement (repository_lanes.take_token). Keys are HMACs of the robot
address or phone number under a key of notify's own: no address or number is stored in clear.

A token not there at once is never waited for long while holding a lane's slot: at most
`inline_wait_s`, then `RateLimited` (failover moves on; the message comes back after the wait), or
for a robot `Park` (the notice joins the robot's digest queue).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Sequence

import asyncpg

from services.notify import repository_lanes
from services.notify.channels.base import Channel, OutboundMessage, SendResult
from services.notify.channels.ratelimit import RateLimited, TokenBucket


def window_bucket(n: int, window_s: float) -> tuple[float, float]:
    """(rate per second, burst) admitting at most `n` in any window (as TokenBucket.per_window)."""
    burst = max(1, n // 4) if n > 1 else 1
    rate = (n - burst) / window_s if n > burst else n / window_s
    return rate, float(burst)


class SharedLimits:
    """`reserve`: the share of each bucket's burst this caller must leave for the urgent lane (0 for urgent),
    so standard and bulk notices never spend the allowance a police notice needs next."""

    def __init__(self, pool: asyncpg.Pool, secret: bytes, inline_wait_s: float = 0.25, reserve: float = 0.0) -> None:
        self.pool = pool
        self._secret = secret
        self.inline_wait_s = inline_wait_s
        self.reserve = reserve

    def key(self, kind: str, value: str) -> str:
        """`kind:hmac` — the same for every replica holding the same key, meaningless without it."""
        return f"{kind}:{hmac.new(self._secret, value.encode(), hashlib.sha256).hexdigest()[:40]}"

    async def take(self, key: str, rate_per_s: float, burst: float) -> float:
        """0 when a token was taken now, else the wait for the next one (nothing taken)."""
        async with self.pool.acquire() as conn:
            # a bucket of one (a phone number's) has nothing to reserve: every lane may take its token
            return await repository_lanes.take_token(conn, key, rate_per_s, burst,
                                                     min(self.reserve * burst, burst - 1))

    async def hold(self, key: str, rate_per_s: float, seconds: float) -> None:
        async with self.pool.acquire() as conn:
            await repository_lanes.hold(conn, key, rate_per_s, seconds)

    async def acquire(self, key: str, rate_per_s: float, burst: float, max_wait_s: float | None = None) -> float:
        """A token, waiting for it only briefly; RateLimited with the wait otherwise."""
        limit = self.inline_wait_s if max_wait_s is None else min(self.inline_wait_s, max_wait_s)
        waited = 0.0
        for _ in range(4):
            wait = await self.take(key, rate_per_s, burst)
            if wait == 0.0:
                return waited
            if waited + wait > limit:
                raise RateLimited(wait)
            await asyncio.sleep(wait)
            waited += wait
        raise RateLimited(1.0 / rate_per_s)


class SharedKeyed:
    """A per-target limit (robot, number) with the shape the channels take (`Limiter`)."""

    def __init__(self, limits: SharedLimits, kind: str, n: int, window_s: float) -> None:
        self.limits = limits
        self.kind = kind
        self.rate_per_s, self.burst = window_bucket(n, window_s)

    def key(self, target: str) -> str:
        return self.limits.key(self.kind, target)

    async def take(self, target: str) -> float:
        return await self.limits.take(self.key(target), self.rate_per_s, self.burst)

    async def hold(self, target: str, seconds: float) -> None:
        await self.limits.hold(self.key(target), self.rate_per_s, seconds)

    async def acquire(self, key: str, max_wait_s: float | None = None) -> float:
        return await self.limits.acquire(self.key(key), self.rate_per_s, self.burst, max_wait_s)


class SharedBucket(TokenBucket):
    """One provider's calls per second, shared; a drop-in for the SMS adapters' `limiter`."""

    def __init__(self, limits: SharedLimits, name: str, rate_per_s: float, burst: float) -> None:
        super().__init__(rate_per_s, burst)
        self.limits = limits
        self.name = name

    async def acquire(self, max_wait_s: float | None = None) -> float:
        return await self.limits.acquire(f"provider:{self.name}", self.rate_per_s, self.burst, max_wait_s)


class PerNumber:
    """A carrier's frequency limit per phone number (per provider), shared; wraps an SMS channel."""

    def __init__(self, inner: Channel, limiter: SharedKeyed) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.provider = inner.provider
        self.limiter = limiter

    async def send(self, message: OutboundMessage) -> SendResult:
        await self.limiter.acquire(f"{self.provider}:{message.address}")
        return await self.inner.send(message)


def wrap_per_number(channels: Sequence[Channel], limits: SharedLimits, n: int, window_s: float) -> list[Channel]:
    limiter = SharedKeyed(limits, "sms-number", n, window_s)
    return [PerNumber(c, limiter) for c in channels]

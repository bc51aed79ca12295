"""Token buckets so providers' limits are respected by waiting, not by being refused.

A bucket hands out reservations: each caller learns how long to wait for its token, in the
order it asked (asyncio is single-threaded, so no lock is needed). A wait longer than the
caller accepts is not reserved; it becomes a TransientError carrying the wait as
`retry_after_s`, so failover can move on and JetStream can redeliver later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from services.notify.channels.base import TransientError

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
_EPS = 1e-9


class RateLimited(TransientError):
    """Our own limit (not the provider's refusal) has no token now: try another provider or address, or come
    back after `retry_after_s`; never wait for it holding a lane's slot."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("rate_limited", retry_after_s)


class Park(TransientError):
    """A throttled robot: the notice waits in the robot's digest queue (services/notify/robot_digest.py)."""

    CODE = "parked"

    def __init__(self, retry_after_s: float | None = None) -> None:
        super().__init__(self.CODE, retry_after_s)


class Limiter(Protocol):
    """A limit per target (robot, URL): the wait taken, or TransientError when it would be too long."""

    async def acquire(self, key: str, max_wait_s: float | None = None) -> float: ...


class TokenBucket:
    def __init__(self, rate_per_s: float, burst: float, *, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._last = clock()

    @classmethod
    def per_window(cls, n: int, window_s: float, *, burst: int | None = None, clock: Clock = time.monotonic,
                   sleep: Sleep = asyncio.sleep) -> TokenBucket:
        """At most `n` in any window of `window_s` (e.g. 20/min for a robot).

        A bucket admits burst + rate*window in a window, so the rate is what the burst leaves.
        """
        b = burst if burst is not None else max(1, n // 4)
        if not 1 <= b < n:
            raise ValueError("burst must be at least 1 and below n")
        return cls((n - b) / window_s, b, clock=clock, sleep=sleep)

    def reserve(self, max_wait_s: float | None = None) -> float:
        """Take the next token; return how long to wait before using it."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate_per_s)
        self._last = now
        wait = max(0.0, (1.0 - self._tokens) / self.rate_per_s)
        if wait <= _EPS:
            wait = 0.0
        if max_wait_s is not None and wait > max_wait_s:
            raise TransientError("rate_limited", retry_after_s=wait)
        self._tokens -= 1.0
        return wait

    async def acquire(self, max_wait_s: float | None = None) -> float:
        """Wait for a token (raises TransientError when the wait would exceed `max_wait_s`)."""
        wait = self.reserve(max_wait_s)
        if wait > 0:
            await self._sleep(wait)
        return wait


class KeyedBuckets:
    """One bucket per target (robot, webhook URL), made on first use."""

    def __init__(self, make: Callable[[], TokenBucket]) -> None:
        self._make = make
        self._buckets: dict[str, TokenBucket] = {}

    def bucket(self, key: str) -> TokenBucket:
        if (found := self._buckets.get(key)) is None:
            found = self._buckets[key] = self._make()
        return found

    async def acquire(self, key: str, max_wait_s: float | None = None) -> float:
        return await self.bucket(key).acquire(max_wait_s)

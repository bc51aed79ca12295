"""The providers' documented limits and latencies, for the fakes (antibully/fakes.py).

Off unless asked: tests get instant, unlimited fakes; a test, the benchmarks or `make run`
turn them on with `FakeProviders.realistic()`, constructor arguments, or the environment:

    FAKE_LATENCY_MS=80                       every provider answers after 80 ms
    FAKE_LATENCY_MS=sms=50-150,robot=60      SMS uniformly 50-150 ms, robots 60 ms (webhook, aliyun,
                                             tencent, wecom, dingtalk name one provider)
    FAKE_LIMITS=realistic                    the limits below (off: none)

The environment applies to every FakeProviders made without those arguments (that is how
`make run` gets them): leave it unset when running the tests.

Limits (each provider's documentation, defaults of a new account):
- WeCom and DingTalk group robots: 20 messages a minute per robot; WeCom answers errcode 45009,
  DingTalk errcode 130101 and then refuses that robot for 10 minutes.
- Aliyun SendSms/SendBatchSms: per number 1 a minute, 5 an hour, 10 a day →
  isv.BUSINESS_LIMIT_CONTROL (a batch with such a number is refused as a whole); API 5000 QPS →
  Throttling.User.
- Tencent SendSms: per number the same content once in 30 s, 5 an hour, 10 a day →
  LimitExceeded.PhoneNumberThirtySecondLimit / OneHourLimit / DailyLimit, per number in
  SendStatusSet; API 3000 QPS → RequestLimitExceeded.
"""

from __future__ import annotations

import os
import random
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field

SMS = ("aliyun", "tencent")
ROBOTS = ("wecom", "dingtalk")
PROVIDERS = (*SMS, *ROBOTS, "webhook")
REALISTIC_LATENCY_MS: dict[str, tuple[float, float]] = {
    "aliyun": (50.0, 150.0), "tencent": (50.0, 150.0), "wecom": (60.0, 60.0), "dingtalk": (60.0, 60.0),
    "webhook": (20.0, 20.0),
}


@dataclass(frozen=True)
class Window:
    seconds: float
    count: int
    name: str  # how the provider names it in its refusal


@dataclass(frozen=True)
class FakeLimits:
    robot_per_minute: int = 20
    dingtalk_penalty_s: float = 600.0  # DingTalk keeps refusing a robot this long after it went over
    aliyun_per_number: tuple[Window, ...] = (Window(60, 1, "分钟级"), Window(3600, 5, "小时级"),
                                             Window(86400, 10, "天级"))
    tencent_same_content: tuple[Window, ...] = (Window(30, 1, "LimitExceeded.PhoneNumberThirtySecondLimit"),)
    tencent_per_number: tuple[Window, ...] = (Window(3600, 5, "LimitExceeded.PhoneNumberOneHourLimit"),
                                              Window(86400, 10, "LimitExceeded.PhoneNumberDailyLimit"))
    qps: Mapping[str, int] = field(default_factory=lambda: {"aliyun": 5000, "tencent": 3000})


class Windows:
    """Sliding windows of events per key: `full()` says which window refuses, `add()` records."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._events: dict[Hashable, deque[float]] = {}

    def full(self, key: Hashable, windows: Iterable[Window]) -> Window | None:
        now = self._clock()
        events = self._events.get(key)
        if not events:
            return None
        longest = max((w.seconds for w in windows), default=0.0)
        while events and now - events[0] >= longest:
            events.popleft()
        for w in windows:
            if sum(1 for t in events if now - t < w.seconds) >= w.count:
                return w
        return None

    def add(self, key: Hashable) -> None:
        self._events.setdefault(key, deque()).append(self._clock())


def latency_from_env(raw: str | None = None) -> dict[str, tuple[float, float]]:
    """FAKE_LATENCY_MS as per-provider (low, high) milliseconds; empty: no added latency."""
    raw = os.environ.get("FAKE_LATENCY_MS", "") if raw is None else raw
    out: dict[str, tuple[float, float]] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        target, _, value = part.rpartition("=")
        low, _, high = value.partition("-")
        span = (float(low), float(high or low))
        names = {"": PROVIDERS, "sms": SMS, "robot": ROBOTS, "robots": ROBOTS}.get(target, (target,))
        out.update(dict.fromkeys(names, span))
    return out


def limits_from_env(raw: str | None = None) -> FakeLimits | None:
    raw = os.environ.get("FAKE_LIMITS", "") if raw is None else raw
    return FakeLimits() if raw.strip().lower() in ("1", "on", "true", "realistic") else None


def delay_s(latency_ms: Mapping[str, tuple[float, float]], provider: str) -> float:
    low, high = latency_ms.get(provider, (0.0, 0.0))
    return random.uniform(low, high) / 1000.0 if high > 0 else 0.0

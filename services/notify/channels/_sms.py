"""What the SMS adapters share for batch sends and carriers' frequency limits (pure).

A batch call takes one template (Tencent: one parameter set too) and at most the provider's
number of phone numbers; `groups` cuts a list of messages into such calls, keeping each
message's index so every outcome lands in its place. A number appears once per call, so a
per-number answer can be matched to its message without doubt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.notify.channels.base import OutboundMessage

SHANGHAI = ZoneInfo("Asia/Shanghai")


def until_next_day_s(now: datetime) -> float:
    """Seconds until the next calendar day in China: when a carrier's daily per-number count resets."""
    local = now.astimezone(SHANGHAI)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1.0, (midnight - local).total_seconds())


def utc_now() -> datetime:
    return datetime.now(UTC)


def groups(messages: Sequence[OutboundMessage], key: Callable[[OutboundMessage], Hashable],
           number: Callable[[OutboundMessage], str], max_size: int) -> list[list[int]]:
    """Indices of `messages` per call: same `key`, at most `max_size`, each number once per call."""
    open_calls: dict[Hashable, list[list[int]]] = {}
    numbers: dict[int, set[str]] = {}
    out: list[list[int]] = []
    for i, message in enumerate(messages):
        n = number(message)
        calls = open_calls.setdefault(key(message), [])
        call = next((c for c in calls if len(c) < max_size and n not in numbers[id(c)]), None)
        if call is None:
            call = []
            calls.append(call)
            numbers[id(call)] = set()
            out.append(call)
        call.append(i)
        numbers[id(call)].add(n)
    return out


def batch_context(keys: Sequence[str]) -> str:
    """What a batch call echoes (Aliyun OutId, Tencent SessionContext): the key of a lone message,
    else a digest of the keys (one value per call; receipts are matched by the provider's ids)."""
    if len(keys) == 1:
        return keys[0]
    return "batch-" + hashlib.sha256("\n".join(keys).encode()).hexdigest()[:24]

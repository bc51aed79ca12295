"""One batch of letters through the channels (no database): the batch contract per provider, failover
to the next provider of the same kind for what one refused, then to each parent's next address.

Every parent ends `sent` (kind/provider), `failed` (every address refused for good) or `retry` (some
refusal was transient: a provider away or throttled; the batch is retried later for those only).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from services.notify.channels.base import (
    BatchChannel,
    Channel,
    ChannelError,
    OutboundMessage,
    SendResult,
    TransientError,
    send_each,
)
from shared.bus import safe_error
from shared.contracts.notification import Address

log = logging.getLogger("antibully.notify.letters")

Compose = Callable[[str, Address], OutboundMessage]


@dataclass
class Parent:
    key: str
    routes: list[Address] = field(repr=False)
    position: int = 0
    transient: bool = False
    tried: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Settled:
    key: str
    state: str  # sent | failed | retry
    channel: str | None
    error: str | None
    message_id: str | None = None


PARALLEL = 8  # calls to one provider in flight per batch: a provider's own limiter (lanes) still applies


async def _send(channel: Channel, messages: Sequence[OutboundMessage], gate: asyncio.Semaphore
                ) -> list[SendResult | ChannelError]:
    """The batch in up to PARALLEL parts at once (each part in the provider's batch calls where it has
    them), every outcome in its message's place."""
    size = max(1, -(-len(messages) // PARALLEL))
    if isinstance(channel, BatchChannel):
        size = max(size, channel.max_batch)
    parts = await asyncio.gather(*(_send_part(channel, messages[i:i + size], gate)
                                   for i in range(0, len(messages), size)))
    return [r for part in parts for r in part]


async def _send_part(channel: Channel, messages: Sequence[OutboundMessage], gate: asyncio.Semaphore
                     ) -> list[SendResult | ChannelError]:
    try:
        async with gate:  # the replica's letter sends in flight: what a notice may find ahead in a rate bucket
            return await send_each(channel, messages)
    except ChannelError as exc:  # the call as a whole: every message of it
        return [exc] * len(messages)
    except Exception as exc:  # noqa: BLE001 - a broken adapter must not stop the batch
        log.error("channel %s/%s raised %s", channel.kind, channel.provider, safe_error(exc))
        return [TransientError(f"unexpected_{type(exc).__name__}")] * len(messages)


async def send_batch(channels: Mapping[str, Sequence[Channel]], parents: list[Parent], compose: Compose,
                     gate: asyncio.Semaphore | None = None) -> list[Settled]:
    """`gate`: shared by every batch of the replica, it bounds the letter sends in flight at once."""
    gate = gate or asyncio.Semaphore(PARALLEL)
    out: list[Settled] = []
    todo = [p for p in parents if p.routes]
    out += [Settled(p.key, "failed", None, "no_contact") for p in parents if not p.routes]
    while todo:
        by_kind: dict[str, list[Parent]] = defaultdict(list)
        for p in todo:
            by_kind[p.routes[p.position].kind.value].append(p)
        todo = []
        for kind, group in by_kind.items():
            remaining = group
            for channel in channels.get(kind, ()):
                if not remaining:
                    break
                results = await _send(channel, [compose(p.key, p.routes[p.position]) for p in remaining], gate)
                still = []
                for p, result in zip(remaining, results, strict=True):
                    if isinstance(result, SendResult):
                        out.append(Settled(p.key, "sent", f"{kind}/{channel.provider}", None, result.message_id))
                        continue
                    p.transient = p.transient or isinstance(result, TransientError)
                    p.tried.append(f"{kind}/{channel.provider}:{result.code}")
                    still.append(p)
                remaining = still
            if not channels.get(kind):
                for p in remaining:
                    p.tried.append(f"{kind}/none:no_channel")
            for p in remaining:
                p.position += 1
                if p.position < len(p.routes):
                    todo.append(p)
                else:
                    out.append(Settled(p.key, "retry" if p.transient else "failed", None, ",".join(p.tried)[:500]))
    return out

"""One batch of letters through the channels (no database): the batch contract per provider, failover
to the next provider of the same kind for what one refused, then to each parent's next address.

Every parent ends `sent` (kind/provider), `failed` (every address refused for good) or `retry` (some
refusal was transient: a provider away or throttled; the batch is retried later for those only).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
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


PARALLEL = 8  # parts of one batch to one provider in flight (and the default gate across batches)
PART = 16  # messages per part to a provider without batch calls: what one crash may leave unknown per part

OnSent = Callable[[list["Settled"]], Awaitable[None]]


def _parts(channel: Channel, n: int) -> list[tuple[int, int]]:
    """Where the messages are cut: PART each, or the provider's own batch size where it has batch calls."""
    size = max(1, channel.max_batch) if isinstance(channel, BatchChannel) else PART
    return [(i, min(n, i + size)) for i in range(0, n, size)]


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
                     gate: asyncio.Semaphore | None = None, on_sent: OnSent | None = None) -> list[Settled]:
    """`gate`: shared by every batch of the replica, it bounds the parts in flight at once. `on_sent`: told
    each part's sent parents as soon as the part returns, so that a crash leaves unknown only the parts
    in flight (≤ gate × PART parents, or gate × the provider's batch size), not the whole batch."""
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

                async def part(chunk: list[Parent], channel: Channel = channel, kind: str = kind
                               ) -> list[tuple[Parent, SendResult | ChannelError]]:
                    results = await _send_part(channel, [compose(p.key, p.routes[p.position]) for p in chunk], gate)
                    sent = [Settled(p.key, "sent", f"{kind}/{channel.provider}", None, r.message_id)
                            for p, r in zip(chunk, results, strict=True) if isinstance(r, SendResult)]
                    if sent and on_sent is not None:
                        await on_sent(sent)
                    out.extend(sent)
                    return list(zip(chunk, results, strict=True))

                done = await asyncio.gather(*(part(remaining[a:b]) for a, b in _parts(channel, len(remaining))))
                still = []
                for p, result in (pair for chunk in done for pair in chunk):
                    if isinstance(result, SendResult):
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

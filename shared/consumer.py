"""Durable pull consumers that never drop a duty and never dead-letter one for an outage.

Per message: parse it tolerantly (an unknown field from a newer producer is ignored); run the
handler, with a JetStream `in_progress` heartbeat (and the handler's own keep-alive hooks)
so that a slow handler keeps its message; then ack. A failure is classified by
`shared.failures` and the dependency gate (`shared.health`):
- the database away: the message is held, heartbeating, until it is back, then handled in
  place; nothing is fetched meanwhile (FastStream fetches the next batch only when this one is done);
- another transient failure or a `NotYet`: nak with a backoff capped at a minute, for as
  long as it takes;
- a permanent failure: nak with backoff until `POISON_ATTEMPTS` strikes, then the dead-letter stream.
A payload its contract refuses is a dead letter at once: it fails the same way every time.

At most `handler_concurrency` handlers of a service run at once, whatever the consumers fetched:
that bound and the pool size are chosen together (`shared.config`), so a burst waits for a
connection in memory, heartbeating, instead of timing out into a redelivery storm. A subscription
may bring its own limiter instead (a priority lane: its handlers never wait for a slot that a
lower lane holds); its pool is then the caller's to size.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import ValidationError

from shared import dead_letters
from shared.bus import publish_raw, safe_error
from shared.bus_topology import TOPOLOGY, ConsumerSpec, Grants, durable_name, filter_subject, inbox_prefix
from shared.config import Settings
from shared.contracts.base import Event
from shared.crypto import Sealer
from shared.failures import RETRY_CAP_S, NotYet, backoff_s
from shared.health import Dependencies
from shared.subjects import DEAD_LETTER_PREFIX, DEAD_LETTERS
from shared.tasks import BackgroundLoop, every

log = logging.getLogger("antibully.bus")

E = TypeVar("E", bound=Event)
Hook = Callable[[], Awaitable[object]]


@dataclass
class Delivery:
    """What a handler knows of its message: JetStream's delivery count, and a way to keep it alive."""

    attempt: int
    hooks: list[Hook] = field(default_factory=list)

    def keep_alive(self, hook: Hook) -> None:
        """Call `hook` on every heartbeat while the handler runs (e.g. to extend a lease of its own)."""
        self.hooks.append(hook)


Handler = Callable[[E, Delivery], Awaitable[None]]


@dataclass
class _Strikes:
    count: int
    first_at: datetime


class DurableConsumers:
    """Registers a service's durable pull consumers; see the module docstring for the rules."""

    MAX_TRACKED = 4096  # messages with permanent failures remembered at once (oldest forgotten first)

    def __init__(self, broker: NatsBroker, service: str, settings: Settings, registry: CollectorRegistry,
                 deps: Dependencies, grants: Grants | None = None) -> None:
        """`grants`: the service's consumers; by default its row of shared/bus_topology.py (tests: their own)."""
        self.broker = broker
        self.service = service
        self.deps = deps
        self.poison_attempts = settings.poison_attempts
        self.ack_wait_s = settings.ack_wait_s
        self.heartbeat_s = max(0.2, settings.ack_wait_s / 3)
        self.limiter = asyncio.Semaphore(settings.handler_concurrency)
        self.sealer = Sealer(settings.dead_letter_key, "DEAD_LETTER_KEY") if settings.dead_letter_key else None
        self._strikes: OrderedDict[tuple[str, int], _Strikes] = OrderedDict()
        self._stopping = asyncio.Event()
        self.dead_letters = Counter("antibully_dead_letters", "Messages moved to the dead-letter stream",
                                    ["service", "subject", "reason"], registry=registry)
        self.failures = Counter("antibully_handler_failures", "Handler failures, by kind (transient ones wait)",
                                ["service", "subject", "kind"], registry=registry)
        self.pending = Gauge("antibully_dead_letters_pending", "Dead letters of this service in AB_DEAD_LETTERS",
                             ["service", "subject"], registry=registry)
        self.table = {c.durable: c for c in (grants or TOPOLOGY[service]).consumers}
        self.registered: list[ConsumerSpec] = []  # the consumers subscribed to, in order (checked at start-up)
        self.gauge_loop: BackgroundLoop = every("dead-letter gauge", 60.0, self.count_dead_letters, deps)

    def subscribe(self, model: type[E], handler: Handler[E], concurrency: int = 16, *, lane: str | None = None,
                  limiter: AbstractAsyncContextManager[object] | None = None) -> None:
        """Up to `concurrency` messages are handled at once; a free handler takes the next at once.
        `lane`: only the events published below the type's subject on this lane (its own durable consumer).
        `limiter`: this subscription's own bound on handlers at once, instead of the service-wide one."""
        own = limiter if limiter is not None else self.limiter
        durable = durable_name(self.service, model, lane)
        spec = self.table.get(durable)
        if spec is None:  # its NATS user could not bind to it anyway: fail at start, not at the first message
            raise LookupError(f"{durable} is not among {self.service}'s consumers in shared/bus_topology.py")
        self.registered.append(spec)
        subject = filter_subject(model, lane)

        async def on_message(msg: NatsMessage) -> None:
            await self._process(msg, model, handler, own)

        on_message.__name__ = durable  # FastStream names the subscriber in its logs after the function

        self.broker.subscriber(
            subject,
            # bound, never created: the setup step made it (`antibully nats-setup`), with this configuration
            stream=JStream(spec.stream, declare=False),
            durable=durable,
            config=spec.config(self.ack_wait_s),
            inbox_prefix=f"{inbox_prefix(self.service)}.".encode(),  # fetched messages arrive in its own inbox
            # A long poll: it returns as soon as messages arrive. `max_workers`: a sliding window (the next
            # fetch as soon as a handler is free), not a batch that waits for its slowest message.
            pull_sub=PullSub(batch_size=concurrency, timeout=5.0),
            max_workers=concurrency,
            ack_policy=AckPolicy.MANUAL,
        )(on_message)

    async def count_dead_letters(self) -> None:
        """The pending gauge, per original subject (a dead letter's own subject names it)."""
        prefix = f"{DEAD_LETTER_PREFIX}.{self.service}."
        info = await self.broker.connection.jetstream().stream_info(DEAD_LETTERS.name, subjects_filter=f"{prefix}>")
        self.pending.clear()
        for subject, n in (info.state.subjects or {}).items():
            self.pending.labels(self.service, subject.removeprefix(prefix)).set(n)

    def stop(self) -> None:
        """Held messages are handed back at once (nak) instead of waiting out the graceful timeout."""
        self._stopping.set()

    async def _process(self, msg: NatsMessage, model: type[E], handler: Handler[E],
                       limiter: AbstractAsyncContextManager[object]) -> None:
        meta = msg.raw_message.metadata
        key = (meta.stream, meta.sequence.stream)
        subject = msg.raw_message.subject  # the lane it came on: where a dead letter is replayed to
        try:
            event = model.model_validate_json(msg.body, extra="ignore")
        except ValidationError as exc:
            # Struck like any permanent failure: during a rolling upgrade another replica may know the new shape.
            fields = ",".join(".".join(str(p) for p in e["loc"]) or e["type"] for e in exc.errors()[:5])
            await self._permanent(msg, key, subject, "invalid_payload", fields, None)
            return
        delivery = Delivery(attempt=meta.num_delivered or 1)
        try:
            async with self._heartbeat(msg, delivery):
                await self._handle(msg, key, subject, event, handler, delivery, limiter)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):  # shutting down: hand it back now, not after ack_wait
                await asyncio.wait_for(msg.nack(), 1.0)
            raise

    async def _handle(self, msg: NatsMessage, key: tuple[str, int], subject: str, event: E, handler: Handler[E],
                      delivery: Delivery, limiter: AbstractAsyncContextManager[object]) -> None:
        while True:
            if not await self._database_or_stop():
                await self._settle(msg.nack())
                return
            try:
                async with limiter:
                    await handler(event, delivery)
            except NotYet as wait:
                log.info("%s event %s: %s", subject, event.event_id, wait)
                delay = wait.delay_s if wait.delay_s is not None else self._backoff(delivery.attempt)
                await self._settle(msg.nack(delay=min(RETRY_CAP_S, delay)))
                return
            except Exception as exc:  # noqa: BLE001 - every failure waits, is retried or is dead-lettered
                if await self.deps.classify(exc):
                    self.failures.labels(self.service, subject, "transient").inc()
                    if not self.deps.database_up:
                        continue  # held until the database is back, then handled again in place
                    log.info("%s event %s: transient %s; retried", subject, event.event_id, safe_error(exc))
                    await self._settle(msg.nack(delay=self._backoff(delivery.attempt)))
                    return
                await self._permanent(msg, key, subject, "handler_failed", safe_error(exc), event)
                return
            self._strikes.pop(key, None)
            await self._settle(msg.ack())
            return

    async def _database_or_stop(self) -> bool:
        """Wait for the database; False when the service stops first."""
        if self.deps.database_up:
            return True
        waiting = asyncio.ensure_future(self.deps.wait_for_database())
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
            stopping.cancel()
        return not self._stopping.is_set()

    @contextlib.asynccontextmanager
    async def _heartbeat(self, msg: NatsMessage, delivery: Delivery) -> AsyncIterator[None]:
        async def beat() -> None:
            while True:
                await asyncio.sleep(self.heartbeat_s)
                with contextlib.suppress(Exception):  # NATS away: the ack, later, settles it anyway
                    await msg.in_progress()
                for hook in delivery.hooks if self.deps.database_up else ():  # the hooks need the database
                    try:
                        await hook()
                    except Exception as exc:  # noqa: BLE001 - a missed extension is retried next beat
                        log.info("keep-alive of a message failed: %s", safe_error(exc))

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _permanent(self, msg: NatsMessage, key: tuple[str, int], subject: str, reason: str, detail: str,
                         event: Event | None) -> None:
        """One strike; the last one moves the message to the dead-letter stream."""
        self.failures.labels(self.service, subject, "permanent").inc()
        strikes = self._strike(key)
        log.warning("%s stream seq %d: %s (%d of %d while its dependencies are healthy): %s", subject, key[1],
                    reason, strikes.count, self.poison_attempts, detail)
        if strikes.count >= self.poison_attempts:
            await self._dead_letter(msg, subject, reason, detail, event, strikes)
        else:
            await self._settle(msg.nack(delay=self._backoff(strikes.count)))

    @staticmethod
    def _backoff(attempt: int) -> float:
        return backoff_s(attempt, rand=random.uniform(0.5, 1))

    def _strike(self, key: tuple[str, int]) -> _Strikes:
        strikes = self._strikes.pop(key, None) or _Strikes(0, _now())
        strikes.count += 1
        self._strikes[key] = strikes
        while len(self._strikes) > self.MAX_TRACKED:
            self._strikes.popitem(last=False)
        return strikes

    async def _settle(self, settling: Awaitable[None]) -> None:
        """Ack or nak; with NATS away the message is simply redelivered after ack_wait."""
        try:
            await settling
        except Exception as exc:  # noqa: BLE001 - redelivery (and the inbox) cover a lost ack
            log.info("could not settle a message: %s", safe_error(exc))

    async def _dead_letter(self, msg: NatsMessage, subject: str, reason: str, detail: str, event: Event | None,
                           strikes: _Strikes) -> None:
        meta = msg.raw_message.metadata
        self._strikes.pop((meta.stream, meta.sequence.stream), None)
        origin = dead_letters.Origin(
            service=self.service, subject=subject, stream=meta.stream, stream_seq=meta.sequence.stream,
            msg_id=(msg.headers or {}).get("Nats-Msg-Id", ""), reason=reason, detail=detail,
            attempts=strikes.count, first_at=strikes.first_at, last_at=_now(),
            event_id=event.event_id if event else None)
        dlq_subject, body, headers, msg_id = dead_letters.seal(origin, msg.body, self.sealer)
        try:
            await publish_raw(self.broker, dlq_subject, body, msg_id, timeout_s=5.0, headers=headers)
        except Exception as exc:  # noqa: BLE001 - not acked: it comes back, and is dead-lettered then
            log.warning("could not dead-letter %s seq %d yet: %s", subject, origin.stream_seq, safe_error(exc))
            return
        self.dead_letters.labels(self.service, subject, reason).inc()
        log.error("DEAD LETTER: %s stream seq %d moved to %s after %d attempt(s): %s %s — "
                  "see `antibully dead-letters list`", subject, origin.stream_seq, dlq_subject, strikes.count,
                  reason, detail)
        await self._settle(msg.ack())


def _now() -> datetime:
    return datetime.now(UTC)

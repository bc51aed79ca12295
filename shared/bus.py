"""NATS JetStream helpers: streams, the broker, durable consumers that never drop a duty.

FastStream's NATS default terminates a message whose handler raises (REJECT_ON_ERROR).
Every consumer here acks manually instead: success acks; a failure naks with a jittered
backoff; the last allowed attempt, or a payload that does not parse, goes to the
dead-letter stream, which is logged and counted, and only then is acked.
"""

from __future__ import annotations

import asyncio
import logging
import random
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import nats
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.prometheus import NatsPrometheusMiddleware
from nats.js import api
from nats.js.errors import BadRequestError
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, Counter
from pydantic import ValidationError

from shared.config import Settings
from shared.contracts.base import Event
from shared.subjects import STREAMS, StreamSpec, dead_letter_subject, stream_for

log = logging.getLogger("antibully.bus")

E = TypeVar("E", bound=Event)


def stream_config(spec: StreamSpec, replicas: int) -> api.StreamConfig:
    return api.StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        storage=api.StorageType.FILE,
        retention=api.RetentionPolicy.LIMITS,
        # Refuse new messages when full rather than silently dropping unconsumed old ones.
        discard=api.DiscardPolicy.NEW,
        max_age=spec.max_age_s,
        max_bytes=spec.max_bytes,
        max_msg_size=spec.max_msg_size,
        duplicate_window=spec.duplicate_window_s,
        num_replicas=replicas,
    )


async def ensure_streams(nats_url: str, replicas: int = 1) -> None:
    """Create or update every stream; safe to run from every service at start-up."""
    nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=3)
    try:
        js = nc.jetstream()
        for spec in STREAMS:
            config = stream_config(spec, replicas)
            try:
                await js.add_stream(config)
            except BadRequestError:
                await js.update_stream(config)
    finally:
        await nc.close()


def make_broker(settings: Settings, tracer_provider: TracerProvider, registry: CollectorRegistry) -> NatsBroker:
    return NatsBroker(
        settings.nats_url,
        middlewares=[
            NatsTelemetryMiddleware(tracer_provider=tracer_provider),
            NatsPrometheusMiddleware(registry=registry, metrics_prefix="antibully_bus"),
        ],
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        logger=logging.getLogger("antibully.faststream"),
    )


async def stop_broker(broker: NatsBroker) -> None:
    """Stop even while NATS is unreachable: shutting down must never hang or raise."""
    try:
        await asyncio.wait_for(broker.stop(), timeout=10)
    except Exception as exc:  # noqa: BLE001 - nothing left to save; unacked messages are redelivered
        log.warning("broker stopped uncleanly: %s", safe_error(exc))


async def publish_event(broker: NatsBroker, event: Event, timeout_s: float) -> api.PubAck:
    """Publish and wait for JetStream's PubAck; the event id is the dedupe key."""
    return await publish_raw(broker, event.subject, event.model_dump_json().encode(), str(event.event_id), timeout_s)


async def publish_raw(
    broker: NatsBroker,
    subject: str,
    payload: bytes,
    msg_id: str,
    timeout_s: float,
    headers: dict[str, str] | None = None,
) -> api.PubAck:
    return await broker.publish(
        payload,
        subject,
        headers={"Nats-Msg-Id": msg_id, **(headers or {})},
        stream=stream_for(subject).name,
        timeout=timeout_s,
    )


def safe_error(exc: BaseException) -> str:
    """Where and what failed, without the exception's message (which may quote personal data)."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in reversed(frames))
    return f"{type(exc).__name__} at {where}"


def backoff_s(attempt: int) -> float:
    return float(min(60.0, 0.5 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0))


class RetryLater(Exception):
    """A handler's way to say "not now, in `delay_s`" (e.g. a provider's Retry-After)."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(f"retry in {delay_s:.0f} s")
        self.delay_s = delay_s


@dataclass(frozen=True)
class Delivery:
    attempt: int
    final: bool


Handler = Callable[[E, Delivery], Awaitable[None]]


class DurableConsumers:
    """Registers a service's durable pull consumers with retry, bounded delivery and a dead-letter path."""

    def __init__(self, broker: NatsBroker, service: str, settings: Settings, registry: CollectorRegistry) -> None:
        self.broker = broker
        self.service = service
        self.max_deliver = settings.max_deliver
        self.ack_wait_s = settings.ack_wait_s
        self.dead_letters = Counter(
            "antibully_dead_letters",
            "Messages moved to the dead-letter stream",
            ["service", "subject", "reason"],
            registry=registry,
        )
        self.failures = Counter(
            "antibully_handler_failures", "Handler failures (retried)", ["service", "subject"], registry=registry
        )

    def subscribe(self, model: type[E], handler: Handler[E], concurrency: int = 16) -> None:
        """`concurrency` messages are fetched at once and handled in parallel (FastStream's pull batch)."""
        spec = stream_for(model.subject)
        durable = f"{self.service}-{model.event_type}"
        config = api.ConsumerConfig(
            durable_name=durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            # The server's own bound is a backstop above ours, so our last attempt always
            # reaches the dead-letter code below.
            max_deliver=self.max_deliver + 2,
            ack_wait=self.ack_wait_s,
            max_ack_pending=256,
        )

        async def on_message(msg: NatsMessage) -> None:
            await self._process(msg, model, handler)

        on_message.__name__ = durable  # FastStream names the subscriber in its logs after the function

        self.broker.subscriber(
            model.subject,
            stream=JStream(spec.name, declare=False),
            durable=durable,
            config=config,
            # A long poll: it returns as soon as messages arrive. (A short one, under load, trips nats-py into
            # raising asyncio.TimeoutError, which FastStream 0.7.8 logs as an ERROR and restarts.)
            pull_sub=PullSub(batch_size=concurrency, timeout=5.0),
            ack_policy=AckPolicy.MANUAL,
        )(on_message)

    async def _process(self, msg: NatsMessage, model: type[E], handler: Handler[E]) -> None:
        attempt = msg.raw_message.metadata.num_delivered or 1
        subject = model.subject
        try:
            event = model.model_validate_json(msg.body)
        except ValidationError as exc:
            fields = ",".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:5])
            await self._dead_letter(msg, subject, "invalid_payload", attempt, detail=fields)
            return
        try:
            await handler(event, Delivery(attempt=attempt, final=attempt >= self.max_deliver))
        except RetryLater as later:
            if attempt >= self.max_deliver:
                await self._dead_letter(msg, subject, "retries_exhausted", attempt, detail=str(later))
            else:
                log.info("%s event %s: %s", subject, event.event_id, later)
                await msg.nack(delay=later.delay_s)
            return
        except Exception as exc:  # noqa: BLE001 - every failure is retried or dead-lettered
            self.failures.labels(self.service, subject).inc()
            log.warning("%s attempt %d for event %s failed: %s", subject, attempt, event.event_id, safe_error(exc))
            if attempt >= self.max_deliver:
                await self._dead_letter(msg, subject, "retries_exhausted", attempt, detail=safe_error(exc))
            else:
                await msg.nack(delay=backoff_s(attempt))
            return
        await msg.ack()

    async def _dead_letter(self, msg: NatsMessage, subject: str, reason: str, attempt: int, detail: str = "") -> None:
        seq = msg.raw_message.metadata.sequence.stream
        await publish_raw(
            self.broker,
            dead_letter_subject(self.service),
            msg.body,
            f"{self.service}:{subject}:{seq}",
            timeout_s=5.0,
            headers={"Ab-Subject": subject, "Ab-Reason": reason, "Ab-Attempts": str(attempt), "Ab-Detail": detail},
        )
        self.dead_letters.labels(self.service, subject, reason).inc()
        log.error(
            "DEAD LETTER: %s stream seq %d moved to %s after %d attempt(s): %s %s",
            subject, seq, dead_letter_subject(self.service), attempt, reason, detail,
        )
        await msg.ack()

"""NATS JetStream helpers: streams, the broker, publishing with PubAck.

The consumers (manual acks, the failure model, dead letters) are in `shared/consumer.py`.
"""

from __future__ import annotations

import asyncio
import logging
import traceback

import nats
from faststream.nats import NatsBroker
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.prometheus import NatsPrometheusMiddleware
from nats.js import api
from nats.js.errors import BadRequestError
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from shared.config import Settings
from shared.contracts.base import Event
from shared.subjects import STREAMS, StreamSpec, stream_for

log = logging.getLogger("antibully.bus")


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


def servers(nats_url: str) -> list[str]:
    """NATS_URL may list a cluster's nodes, comma-separated: clients fail over between them."""
    return [u.strip() for u in nats_url.split(",") if u.strip()]


async def ensure_streams(nats_url: str, replicas: int = 1) -> None:
    """Create or update every stream; safe to run from every service at start-up."""
    nc = await nats.connect(servers(nats_url), connect_timeout=5, max_reconnect_attempts=3)
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
    logger = logging.getLogger("antibully.faststream")
    if not any(isinstance(f, IdleFetchTimeout) for f in logger.filters):
        logger.filters.insert(0, IdleFetchTimeout())  # before RedactExceptions drops the exception it looks at
    return NatsBroker(
        servers(settings.nats_url),
        middlewares=[
            NatsTelemetryMiddleware(tracer_provider=tracer_provider),
            NatsPrometheusMiddleware(registry=registry, metrics_prefix="antibully_bus"),
        ],
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        # On stop, messages being handled get this long to finish (and be acked) before the process exits.
        graceful_timeout=settings.graceful_timeout_s,
        logger=logger,
    )


class IdleFetchTimeout(logging.Filter):
    """Drops exactly one false alarm: FastStream 0.7.8's pull loop suppresses nats-py's own fetch timeout
    but not the bare `asyncio.TimeoutError` that nats-py 2.x raises when a long poll ends empty,
    so its task supervisor logs "raised an exception, retrying" with a traceback at ERROR and
    restarts the loop (losing nothing). Any other exception from the loop still logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "raised an exception, retrying" not in record.getMessage() or not record.exc_info:
            return True
        exc = record.exc_info[1]
        if type(exc) is not TimeoutError or exc is None:
            return True
        frames = traceback.extract_tb(exc.__traceback__)
        return not any(f.filename.endswith("nats/js/client.py") for f in frames)


async def stop_consuming(broker: NatsBroker, graceful_timeout_s: float) -> None:
    """Stop fetching; messages in hand get `graceful_timeout_s` to finish (FastStream's graceful stop)."""
    try:
        await asyncio.wait_for(asyncio.gather(*(sub.stop() for sub in broker.subscribers)), graceful_timeout_s + 5)
    except Exception as exc:  # noqa: BLE001 - whatever is unacked is redelivered to the next process
        log.warning("consumers stopped uncleanly: %s", safe_error(exc))


async def stop_broker(broker: NatsBroker, graceful_timeout_s: float = 10.0) -> None:
    """Stop even while NATS is unreachable: shutting down must never hang or raise."""
    try:
        await asyncio.wait_for(broker.stop(), timeout=graceful_timeout_s + 10)
    except Exception as exc:  # noqa: BLE001 - nothing left to save; unacked messages are redelivered
        log.warning("broker stopped uncleanly: %s", safe_error(exc))


async def publish_event(broker: NatsBroker, event: Event, timeout_s: float) -> api.PubAck:
    """Publish and wait for JetStream's PubAck; the event id is the dedupe key."""
    return await publish_raw(broker, event.routing_subject, event.model_dump_json().encode(), str(event.event_id),
                             timeout_s)


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

"""NATS JetStream helpers: streams, the broker, publishing with PubAck.

The consumers (manual acks, the failure model, dead letters) are in `shared/consumer.py`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import traceback
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import nats
from faststream.nats import NatsBroker
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.prometheus import NatsPrometheusMiddleware
from faststream.nats.security import NatsNKey, NatsSecurity
from nats.aio.client import Client
from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError, NotFoundError
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from shared.bus_topology import ADMIN, TOPOLOGY, ConsumerSpec, consumers, inbox_prefix
from shared.config import Settings
from shared.contracts.base import Event
from shared.nats_keys import setting_name
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


def connect_options(settings: Settings, role: str) -> dict[str, Any]:
    """How `role` (a service, or `admin`) reaches NATS, as nats-py's `connect` keywords (`make_broker`
    turns them into FastStream's): its own nkey seed, its own inbox prefix (its permissions allow no
    other), and TLS verified against NATS_TLS_CA when that is set. With a seed, credentials in NATS_URL
    (a test server's admin, for raw clients) are dropped: a service signs in as itself only."""
    urls = servers(settings.nats_url)
    options: dict[str, Any] = {"inbox_prefix": inbox_prefix(role), "name": role}
    if seed := getattr(settings, setting_name(role)):
        options["nkeys_seed_str"] = seed
        urls = [_without_credentials(u) for u in urls]
    if settings.nats_tls_ca:
        options["tls"] = tls_context(settings.nats_tls_ca)
    return {"servers": urls, **options}


def _without_credentials(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"nats://{url}")
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def tls_context(ca_file: str) -> ssl.SSLContext:
    """Verify the server's certificate and name against our own CA only (not the system's)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


async def connect(settings: Settings, role: str, **extra: Any) -> Client:
    """A plain nats-py connection as `role` (the setup step, the CLI, a service's start-up check)."""
    return await nats.connect(**{"connect_timeout": 5, "max_reconnect_attempts": 3, **connect_options(settings, role),
                                 **extra})


async def setup_nats(settings: Settings) -> None:
    """Create or update every stream and every durable consumer (shared/bus_topology.py), as the admin:
    `antibully nats-setup`; the services create nothing (their users may not)."""
    nc = await connect(settings, ADMIN)
    try:
        js = nc.jetstream()
        for spec in STREAMS:
            stream = stream_config(spec, settings.nats_replicas)
            try:
                await js.add_stream(stream)
            except BadRequestError:
                await js.update_stream(stream)
        for consumer in consumers():
            # create, or update an existing durable's editable settings (ack_wait, limits): no action given
            await js.add_consumer(consumer.stream, consumer.config(settings.ack_wait_s))
    finally:
        await nc.close()


class NotSetUp(Exception):
    """A stream or consumer a service needs is missing: `antibully nats-setup` has not run."""


async def check_topology(js: JetStreamContext, streams: Iterable[str], bound: Iterable[ConsumerSpec]) -> None:
    """The streams a service uses and the consumers it is about to bind to exist (NotSetUp if not)."""
    try:
        for stream in streams:
            await js.stream_info(stream)
        for consumer in bound:
            await js.consumer_info(consumer.stream, consumer.durable)
    except NotFoundError as exc:
        raise NotSetUp("a stream or consumer is missing; run `antibully nats-setup`") from exc


async def wait_for_topology(broker: NatsBroker, service: str, bound: Iterable[ConsumerSpec],
                            retry_s: float = 2.0) -> None:
    """Before consuming: wait (not ready meanwhile) until the setup step has made what `service` uses."""
    streams, wanted = TOPOLOGY[service].streams, list(bound)
    while True:
        try:
            await check_topology(broker.connection.jetstream(), streams, wanted)
            return
        except NotSetUp as exc:
            log.warning("%s: %s; retrying in %.0f s", service, exc, retry_s)
        await asyncio.sleep(retry_s)


def make_broker(settings: Settings, tracer_provider: TracerProvider, registry: CollectorRegistry,
                service: str) -> NatsBroker:
    logger = logging.getLogger("antibully.faststream")
    if not any(isinstance(f, IdleFetchTimeout) for f in logger.filters):
        logger.filters.insert(0, IdleFetchTimeout())  # before RedactExceptions drops the exception it looks at
    options = connect_options(settings, service)
    seed, tls = options.pop("nkeys_seed_str", None), options.pop("tls", None)
    security = NatsNKey.from_seed(seed, ssl_context=tls) if seed else NatsSecurity(ssl_context=tls) if tls else None
    return NatsBroker(
        options.pop("servers"),
        security=security,
        middlewares=[
            NatsTelemetryMiddleware(tracer_provider=tracer_provider),
            NatsPrometheusMiddleware(registry=registry, metrics_prefix="antibully_bus"),
        ],
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        # On stop, messages being handled get this long to finish (and be acked) before the process exits.
        graceful_timeout=settings.graceful_timeout_s,
        logger=logger,
        **options,
    )


_SUPERVISOR_CALLBACK = re.compile(r"callback for \S+ is being executed\.\.\.")


class IdleFetchTimeout(logging.Filter):
    """Drops exactly one false alarm: FastStream 0.7.8's pull loop suppresses nats-py's own fetch timeout
    but not the bare `asyncio.TimeoutError` that nats-py 2.x raises when a long poll ends empty,
    so its task supervisor logs "raised an exception, retrying" with a traceback at ERROR and
    restarts the loop (losing nothing). Any other exception from the loop still logs. Also drops the
    supervisor's INFO "callback for Task-N is being executed..." that each such restart (so every idle
    durable, every few seconds) adds: it says nothing to an operator and buried the lines that do."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and _SUPERVISOR_CALLBACK.fullmatch(record.getMessage()):
            return False
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

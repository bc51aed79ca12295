"""A handler that keeps failing is retried a bounded number of times, then dead-lettered and counted."""

from __future__ import annotations

import nats
from faststream.nats import NatsBroker
from prometheus_client import CollectorRegistry

from services.intake.reports import reported_event
from shared.bus import Delivery, DurableConsumers, ensure_streams
from shared.config import Settings
from shared.contracts import IncidentReport, IncidentReported
from shared.subjects import DEAD_LETTERS, INCIDENT_REPORTED
from tests.helpers import eventually, publish, report, stream_messages


async def test_failing_handler_is_retried_then_dead_lettered(settings: Settings) -> None:
    await ensure_streams(settings.nats_url)
    registry = CollectorRegistry()
    broker = NatsBroker(settings.nats_url)
    consumers = DurableConsumers(broker, "probe", settings.model_copy(update={"max_deliver": 3}), registry)
    attempts: list[Delivery] = []

    async def always_fails(event: IncidentReported, delivery: Delivery) -> None:
        attempts.append(delivery)
        raise RuntimeError("database unavailable")

    consumers.subscribe(IncidentReported, always_fails)
    await broker.start()
    try:
        event = reported_event(IncidentReport.model_validate(report()), "dlq-key")
        await publish(settings.nats_url, event)
        [dead] = await eventually(lambda: stream_messages(settings.nats_url, DEAD_LETTERS.name), timeout_s=30)
    finally:
        await broker.stop()
    assert [(a.attempt, a.final) for a in attempts] == [(1, False), (2, False), (3, True)]
    assert dead.headers is not None
    assert (dead.headers["Ab-Reason"], dead.headers["Ab-Attempts"]) == ("retries_exhausted", "3")
    assert IncidentReported.model_validate_json(dead.data) == event  # the original, intact
    assert registry.get_sample_value("antibully_dead_letters_total", {
        "service": "probe", "subject": INCIDENT_REPORTED, "reason": "retries_exhausted"}) == 1.0
    nc = await nats.connect(settings.nats_url)
    try:
        info = await nc.jetstream().consumer_info("AB_REPORTS", "probe-IncidentReported")
        assert info.num_ack_pending == 0 and info.num_pending == 0  # acked after dead-lettering, not lost
    finally:
        await nc.close()

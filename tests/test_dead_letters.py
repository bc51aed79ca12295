"""The consumer's failure model on real JetStream and PostgreSQL: a permanent failure is struck out and
dead-lettered (sealed), a transient one waits for as long as it takes, a slow handler keeps its
message, and the CLI lists, shows and replays dead letters exactly once."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import nats
from faststream.nats import NatsBroker
from prometheus_client import CollectorRegistry

from antibully import dead_letters as cli
from services.intake.reports import reported_event
from shared import dead_letters
from shared.bus import setup_nats
from shared.bus_topology import Grants
from shared.config import Settings
from shared.consumer import Delivery, DurableConsumers, Handler
from shared.contracts import IncidentReport, IncidentReported
from shared.crypto import Sealer, new_key_b64
from shared.db import apply_schema, create_pool
from shared.failures import NotYet
from shared.health import Dependencies
from shared.subjects import DEAD_LETTERS, INCIDENT_REPORTED
from tests.helpers import eventually, publish, report, stream_messages

# a consumer of the test's own (created by this admin broker on binding; services' consumers are made by setup)
PROBE = Grants("probe", publishes=(), consumes=((IncidentReported, None),))
CHILD = "李小明"  # the example report's victim: must never appear in a dead letter's clear text


@asynccontextmanager
async def consuming(settings: Settings, handler: Handler[IncidentReported]) -> AsyncIterator[CollectorRegistry]:
    await setup_nats(settings)
    admin = await asyncpg.connect(settings.database_url)
    try:
        await apply_schema(admin, "probe")  # a service of its own: the inbox and outbox tables
    finally:
        await admin.close()
    pool = await create_pool(settings.database_url, "probe")
    registry = CollectorRegistry()
    broker = NatsBroker(settings.nats_url)
    deps = Dependencies("probe", pool, registry)
    consumers = DurableConsumers(broker, "probe", settings, registry, deps, grants=PROBE)
    consumers.subscribe(IncidentReported, handler)
    await broker.start()
    try:
        yield registry
    finally:
        consumers.stop()
        await broker.stop()
        await deps.close()
        await pool.close()


def _event() -> IncidentReported:
    body = report()
    assert CHILD in str(body)
    return reported_event(IncidentReport.model_validate(body), "dlq-key")


async def _ack_pending(settings: Settings) -> tuple[int, int]:
    nc = await nats.connect(settings.nats_url)
    try:
        info = await nc.jetstream().consumer_info("AB_REPORTS", "probe-IncidentReported")
        return info.num_ack_pending, info.num_pending
    finally:
        await nc.close()


def _args(action: str, **kw: object) -> argparse.Namespace:
    defaults: dict[str, object] = {"subject": None, "service": None, "since": None, "seq": None, "keep": False,
                                   "dry_run": False}
    return argparse.Namespace(action=action, **(defaults | kw))


async def test_permanent_failure_is_struck_out_then_dead_lettered_sealed(settings: Settings) -> None:
    key = new_key_b64()
    settings = settings.model_copy(update={"poison_attempts": 3, "dead_letter_key": key})
    attempts: list[int] = []

    async def always_fails(event: IncidentReported, delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        raise RuntimeError("a bug that fails the same way every time")

    event = _event()
    async with consuming(settings, always_fails) as registry:
        await publish(settings.nats_url, event)
        [dead] = await eventually(lambda: stream_messages(settings.nats_url, DEAD_LETTERS.name), timeout_s=30)
        await eventually(lambda: _settled(settings))
        assert registry.get_sample_value("antibully_dead_letters_total", {
            "service": "probe", "subject": INCIDENT_REPORTED, "reason": "handler_failed"}) == 1.0
    assert attempts == [1, 2, 3]
    assert dead.subject == f"ab.dlq.probe.{INCIDENT_REPORTED}"
    assert dead.headers is not None
    h = dead.headers
    assert (h["Ab-Reason"], h["Ab-Attempts"], h["Ab-Event-Id"], h["Ab-Body"]) == (
        "handler_failed", "3", str(event.event_id), "sealed")
    assert h["Ab-Detail"].startswith("RuntimeError at ")  # where, never the exception's text
    assert CHILD.encode() not in dead.data and b"RuntimeError" not in dead.data
    assert all(CHILD not in v for v in h.values())
    opened = Sealer(key).open(dead.data, f"dead-letter:AB_REPORTS:{h['Ab-Stream-Seq']}".encode())
    assert IncidentReported.model_validate_json(opened) == event


async def _settled(settings: Settings) -> bool:
    return await _ack_pending(settings) == (0, 0)


async def test_transient_failures_never_use_the_poison_budget(settings: Settings) -> None:
    settings = settings.model_copy(update={"poison_attempts": 2})
    failures: list[BaseException] = [ConnectionResetError(), NotYet(0.1), TimeoutError(), NotYet(None, "waits"),
                                     NotYet(0.1)]
    handled: list[int] = []

    async def flaky(event: IncidentReported, delivery: Delivery) -> None:
        if failures:
            raise failures.pop(0)
        handled.append(delivery.attempt)

    async with consuming(settings, flaky) as registry:
        await publish(settings.nats_url, _event())
        await eventually(lambda: _true_if(bool(handled)), timeout_s=30)
        await eventually(lambda: _settled(settings))
        transient = registry.get_sample_value("antibully_handler_failures_total", {
            "service": "probe", "subject": INCIDENT_REPORTED, "kind": "transient"})
    assert handled == [6]  # five transient failures (more than twice the budget of 2), then handled once
    assert transient == 2.0  # the NotYet waits are not failures at all
    assert await stream_messages(settings.nats_url, DEAD_LETTERS.name) == []


async def _true_if(value: bool) -> bool:
    return value


async def test_a_slow_handler_keeps_its_message(settings: Settings) -> None:
    """ack_wait 1 s, a handler taking 3.5 s: the heartbeat keeps JetStream from redelivering it, and
    the handler's own keep-alive hook runs on every beat."""
    settings = settings.model_copy(update={"ack_wait_s": 1.0})
    calls: list[int] = []
    beats: list[int] = []

    async def slow(event: IncidentReported, delivery: Delivery) -> None:
        calls.append(delivery.attempt)

        async def beat() -> None:
            beats.append(1)

        delivery.keep_alive(beat)
        await asyncio.sleep(3.5)

    async with consuming(settings, slow):
        await publish(settings.nats_url, _event())
        await eventually(lambda: _settled_after(settings, calls))
        await asyncio.sleep(1.5)  # a redelivery would show itself by now
    assert calls == [1]
    assert len(beats) >= 6


async def _settled_after(settings: Settings, calls: list[int]) -> bool:
    return bool(calls) and await _settled(settings)


async def test_cli_lists_shows_and_replays_exactly_once(settings: Settings) -> None:
    settings = settings.model_copy(update={"poison_attempts": 2, "dead_letter_key": new_key_b64()})
    fixed = asyncio.Event()
    handled: list[str] = []

    async def broken_until_fixed(event: IncidentReported, delivery: Delivery) -> None:
        if not fixed.is_set():
            raise KeyError("school")
        handled.append(str(event.event_id))

    event = _event()
    async with consuming(settings, broken_until_fixed):
        await publish(settings.nats_url, event)
        await eventually(lambda: stream_messages(settings.nats_url, DEAD_LETTERS.name), timeout_s=30)
        code, listed = await cli.run(_args("list"), settings)
        assert code == 0 and listed[-1] == "1 dead letter(s)"
        assert "handler_failed" in listed[1] and str(event.event_id) in listed[1]
        seq = int(listed[1].split()[0])
        code, shown = await cli.run(argparse.Namespace(action="show", seq=seq), settings)
        assert code == 0 and any("KeyError at " in line for line in shown)
        assert CHILD not in "\n".join(listed + shown)
        code, filtered = await cli.run(_args("list", subject="ab.notify.requested"), settings)
        assert filtered[-1] == "0 dead letter(s)"

        fixed.set()  # the operator fixed the cause
        code, replayed = await cli.run(_args("replay"), settings)
        assert code == 0 and replayed[-1] == "1 of 1 replayed", replayed
        await eventually(lambda: _true_if(bool(handled)))
        assert await stream_messages(settings.nats_url, DEAD_LETTERS.name) == []  # handed back
        await eventually(lambda: _settled(settings))
    assert handled == [str(event.event_id)]


async def test_replaying_twice_publishes_once(settings: Settings) -> None:
    """A dead letter kept (--keep) and replayed again: the stream's duplicate window drops the second."""
    settings = settings.model_copy(update={"poison_attempts": 1})  # no key: the letter is a reference

    async def fails(event: IncidentReported, delivery: Delivery) -> None:
        raise ValueError("permanent")

    async with consuming(settings, fails):
        await publish(settings.nats_url, _event())
        [dead] = await eventually(lambda: stream_messages(settings.nats_url, DEAD_LETTERS.name), timeout_s=30)
    assert dead.data == b"" and dead.headers and dead.headers["Ab-Body"] == "reference"
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        [letter] = await dead_letters.read(js)
        assert await dead_letters.replay(js, letter, None, keep=True) is True
        assert await dead_letters.replay(js, letter, None, keep=True) is False
        reports = await js.stream_info("AB_REPORTS")
    finally:
        await nc.close()
    assert reports.state.messages == 2  # the original and one replay

"""Slow sends with real notify processes and a mail server that takes its time to answer:
- SIGTERM lets a send in progress finish: notify completes it, records it, acks it and exits 0,
  and the next notify sends nothing again;
- a send that outlasts ack_wait keeps its message and its lease (heartbeats), so a second
  replica never sends the same notice again because the first was slow."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import asyncpg

from antibully.infra import NatsServer, SmtpSink, free_port, wait_port
from services.escalation.domain import decide
from services.escalation.notices import plan
from services.intake.reports import reported_event
from shared.config import Settings
from shared.contracts import IncidentReport, NotificationRequested
from shared.directory import load_directory
from tests.fault_rig import rig_env
from tests.helpers import ServiceProcesses, default_policy, eventually, publish, report

SMTP_ANSWERS_AFTER_S = 4.0


def _requests(key: str) -> list[NotificationRequested]:
    event = reported_event(IncidentReport.model_validate(report()), key)
    return plan(event, decide(event.facts, default_policy(), event.occurred_at),
                load_directory(Settings().directory_file))[1]


def _slow_sink(arrived: threading.Event) -> SmtpSink:
    def slow_answer(_: object) -> None:  # aiosmtpd's thread: the 250 comes a while after the DATA
        arrived.set()
        time.sleep(SMTP_ANSWERS_AFTER_S)

    return SmtpSink(on_message=slow_answer).start()


async def test_sigterm_lets_a_send_in_progress_finish(tmp_path: Path, nats_server: NatsServer, database: str) -> None:
    arrived = threading.Event()
    sink = _slow_sink(arrived)
    env = rig_env(nats_server.url, database, sink.port, SMTP_TIMEOUT_S="15", GRACEFUL_TIMEOUT_S="20")
    fleet = ServiceProcesses(env, tmp_path)
    request = _requests("graceful")[0]
    try:
        fleet.start("notify")
        wait_port(int(env["NOTIFY_PORT"]), timeout_s=60, proc=fleet.procs["notify"])
        await publish(nats_server.url, request)
        assert await asyncio.to_thread(arrived.wait, 30)
        started = time.monotonic()
        assert fleet.stop("notify") == 0
        assert time.monotonic() - started >= SMTP_ANSWERS_AFTER_S - 1.0  # it waited for the answer
        conn = await asyncpg.connect(database)
        try:
            row = await conn.fetchrow("SELECT status, attempts, ambiguous_resends FROM notify.deliveries"
                                      " WHERE notification_id = $1", request.notification_id)
        finally:
            await conn.close()
        assert row is not None and dict(row) == {"status": "sent", "attempts": 1, "ambiguous_resends": 0}

        arrived.clear()
        fleet.start("notify", NOTIFY_PORT=env["NOTIFY_PORT"])  # the next process finds nothing to resend
        wait_port(int(env["NOTIFY_PORT"]), timeout_s=60, proc=fleet.procs["notify"])
        await asyncio.sleep(3.0)
        assert not arrived.is_set()
        assert len(sink.messages) == 1
        assert "notify stopping" in (tmp_path / "notify.log").read_text()
    finally:
        fleet.stop_all()
        sink.stop()
        fleet.print_logs(10)


async def test_a_send_slower_than_ack_wait_is_not_sent_twice(tmp_path: Path, nats_server: NatsServer,
                                                             database: str) -> None:
    """ack_wait 1.5 s, the mail server answers after 4 s, two replicas: without the heartbeat JetStream
    would hand each notice to the other replica, whose lease check would find it expired and resend."""
    sink = _slow_sink(threading.Event())
    env = rig_env(nats_server.url, database, sink.port, SMTP_TIMEOUT_S="15", ACK_WAIT_S="1.5")
    fleet = ServiceProcesses(env, tmp_path)
    requests = _requests("slow")[:3]
    try:
        for name in ("notify-a", "notify-b"):
            fleet.start(name, "notify", NOTIFY_PORT=str(free_port()))
        await asyncio.sleep(4.0)  # both subscribed
        for request in requests:
            await publish(nats_server.url, request)
        conn = await asyncpg.connect(database)
        try:
            async def all_sent() -> bool:
                return bool(await conn.fetchval(
                    "SELECT count(*) = $1 FROM notify.deliveries WHERE status = 'sent'", len(requests)))

            await eventually(all_sent, timeout_s=60)
            await asyncio.sleep(3.0)  # a second copy would be on its way by now
            resends = await conn.fetchval("SELECT coalesce(sum(ambiguous_resends), 0) FROM notify.deliveries")
        finally:
            await conn.close()
        assert len(sink.messages) == len(requests) and resends == 0
    finally:
        fleet.stop_all()
        sink.stop()
        fleet.print_logs(10)

"""The raw floor for bench/pipeline.py: the same durable work per report, with nothing of ours in the way.

Per report: one JetStream publish with PubAck (the "202"); a consumer writes the decision and an archive
entry in one PostgreSQL transaction and publishes seven notices (PubAck each); a consumer per notice writes a
`sending` row, sends one e-mail over SMTP, then writes `sent` and an archive entry in one transaction. Bare
nats-py, asyncpg and aiosmtplib on the same nats-server (fsync always), database and SMTP sink: what any
implementation of these guarantees must pay. No validation, templates, outbox, tracing, failover or policy.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

NOTICES_PER_REPORT = 7
SCHEMA = """
CREATE SCHEMA IF NOT EXISTS floor;
CREATE TABLE IF NOT EXISTS floor.decisions (report_id uuid PRIMARY KEY, level text NOT NULL);
CREATE TABLE IF NOT EXISTS floor.deliveries (notice_id uuid PRIMARY KEY, report_id uuid NOT NULL, status text NOT NULL);
CREATE TABLE IF NOT EXISTS floor.entries (seq bigserial PRIMARY KEY, case_id uuid NOT NULL, payload bytea NOT NULL);
"""


@dataclass
class FloorRun:
    accepted: dict[uuid.UUID, float] = field(default_factory=dict)  # report → wall time of its PubAck
    sent: dict[uuid.UUID, list[float]] = field(default_factory=dict)  # report → wall times of its sends
    done: asyncio.Event = field(default_factory=asyncio.Event)
    expected_sends: int = 0

    def record_send(self, report_id: uuid.UUID) -> None:
        self.sent.setdefault(report_id, []).append(time.time())
        if sum(len(v) for v in self.sent.values()) >= self.expected_sends:
            self.done.set()


class Floor:
    def __init__(self, nats_url: str, database_url: str, smtp_port: int) -> None:
        self.nats_url = nats_url
        self.database_url = database_url
        self.smtp_port = smtp_port
        self.run = FloorRun()

    async def __aenter__(self) -> Floor:
        import aiosmtplib
        import asyncpg
        import nats
        from nats.js import api

        self.nc = await nats.connect(self.nats_url)
        self.js = self.nc.jetstream()
        for name, subject in (("FLOOR_REPORTS", "floor.report"), ("FLOOR_NOTICES", "floor.notice")):
            await self.js.add_stream(api.StreamConfig(name=name, subjects=[subject], storage=api.StorageType.FILE))
        self.pool = await asyncpg.create_pool(self.database_url, min_size=2, max_size=10)
        async with self.pool.acquire() as conn:
            await conn.execute(SCHEMA)
        self.smtp = [aiosmtplib.SMTP(hostname="127.0.0.1", port=self.smtp_port) for _ in range(4)]
        for client in self.smtp:
            await client.connect()
        self._smtp_free: asyncio.Queue[Any] = asyncio.Queue()
        for client in self.smtp:
            self._smtp_free.put_nowait(client)
        self.tasks = [asyncio.create_task(self._consume("floor.report", "floor-reports", self._decide)),
                      asyncio.create_task(self._consume("floor.notice", "floor-notices", self._send))]
        return self

    async def __aexit__(self, *_: object) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for client in self.smtp:
            await client.quit()
        await self.pool.close()
        await self.nc.close()

    async def report(self) -> None:
        """One report published; its PubAck time is its acceptance."""
        report_id = uuid.uuid4()
        self.run.expected_sends += NOTICES_PER_REPORT
        await self.js.publish("floor.report", json.dumps({"id": str(report_id), "facts": "x" * 1500}).encode(),
                              headers={"Nats-Msg-Id": str(report_id)})
        self.run.accepted[report_id] = time.time()

    async def _consume(self, subject: str, durable: str, handle: Callable[[Any], Awaitable[None]]) -> None:
        from nats.errors import TimeoutError as NatsTimeout

        sub = await self.js.pull_subscribe(subject, durable=durable)
        while True:
            try:
                msgs = await sub.fetch(16, timeout=1.0)
            except (NatsTimeout, TimeoutError):
                continue
            await asyncio.gather(*(handle(m) for m in msgs))

    async def _decide(self, msg: Any) -> None:
        body = json.loads(msg.data)
        report_id = uuid.UUID(body["id"])
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO floor.decisions VALUES ($1, 'severe') ON CONFLICT DO NOTHING", report_id)
            await conn.execute("INSERT INTO floor.entries (case_id, payload) VALUES ($1, $2)", report_id, msg.data)
        await asyncio.gather(*(self.js.publish(
            "floor.notice", json.dumps({"report": str(report_id), "n": i}).encode(),
            headers={"Nats-Msg-Id": f"{report_id}:{i}"}) for i in range(NOTICES_PER_REPORT)))
        await msg.ack()

    async def _send(self, msg: Any) -> None:
        body = json.loads(msg.data)
        report_id = uuid.UUID(body["report"])
        notice_id = uuid.uuid5(report_id, str(body["n"]))
        async with self.pool.acquire() as conn:
            await conn.execute("INSERT INTO floor.deliveries VALUES ($1, $2, 'sending') ON CONFLICT DO NOTHING",
                               notice_id, report_id)
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "floor@localhost", f"{notice_id}@example.cn", "floor"
        mail["Message-ID"] = f"<{notice_id}@floor>"
        mail.set_content("x" * 800)
        client = await self._smtp_free.get()
        try:
            await client.send_message(mail)
        finally:
            self._smtp_free.put_nowait(client)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("UPDATE floor.deliveries SET status = 'sent' WHERE notice_id = $1", notice_id)
            await conn.execute("INSERT INTO floor.entries (case_id, payload) VALUES ($1, $2)", report_id, msg.data)
        self.run.record_send(report_id)
        await msg.ack()


async def letters_floor(n: int, in_flight: int = 2, batch: int = 100) -> dict[str, Any]:
    """The letters' raw floor: a row per parent written in bulk, Aliyun `SendBatchSms` calls of `batch`
    numbers (`in_flight` at once) to the fakes at realistic latency, each call's rows marked sent."""
    import tempfile
    from pathlib import Path

    import asyncpg
    import httpx

    from antibully.fake_limits import FakeLimits
    from antibully.fakes import FakeProviders, FakeProvidersThread
    from antibully.infra import free_port
    from bench.common import bench_infrastructure
    from services.notify.channels.aliyun_sms import AliyunSms
    from services.notify.channels.base import OutboundMessage

    fakes = FakeProviders.realistic(limits=FakeLimits(aliyun_per_number=(), tencent_same_content=(),
                                                      tencent_per_number=()), keep_accepted=False)
    thread = FakeProvidersThread(fakes, free_port()).start()
    env = fakes.env()
    with tempfile.TemporaryDirectory(prefix="bench-letters-floor-") as tmp:
        async with bench_infrastructure(Path(tmp)) as infra, httpx.AsyncClient(timeout=30) as http:
            conn = await asyncpg.connect(infra.database_url)
            sms = AliyunSms(http, env["ALIYUN_ACCESS_KEY_ID"], env["ALIYUN_ACCESS_KEY_SECRET"],
                            env["ALIYUN_SMS_SIGN_NAME"], {"notice": env["ALIYUN_SMS_TEMPLATE"]},
                            endpoint=env["ALIYUN_SMS_ENDPOINT"])
            try:
                await conn.execute("CREATE TABLE floor_letters (k int PRIMARY KEY, state text NOT NULL)")
                started = time.monotonic()
                await conn.copy_records_to_table("floor_letters", records=[(i, "sending") for i in range(n)])
                calls: asyncio.Queue[list[int]] = asyncio.Queue()
                for start in range(0, n, batch):
                    calls.put_nowait(list(range(start, min(n, start + batch))))
                lock = asyncio.Lock()

                async def worker() -> None:
                    while not calls.empty():
                        keys = calls.get_nowait()
                        await sms.send_batch([OutboundMessage(f"139{k:08d}", "", "", f"floor-{k}",
                                                             sms_params={"link": f"https://x/{k}"}) for k in keys])
                        async with lock:
                            await conn.execute("UPDATE floor_letters SET state = 'sent' WHERE k = ANY($1::int[])",
                                               keys)

                await asyncio.gather(*(worker() for _ in range(in_flight)))
                took = time.monotonic() - started
            finally:
                await conn.close()
                thread.stop()
    return {"letters": n, "handed_s": round(took, 1), "letters_per_s": round(n / took, 1),
            "accepted_by_fake": fakes.accepted_count["aliyun"]}

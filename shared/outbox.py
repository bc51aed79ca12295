"""Exactly-once effect over at-least-once delivery: an inbox row and an outbox row per effect.

A consumer claims the incoming event id in the same transaction as its effect and the
events it will publish; the relay publishes them after commit (with Nats-Msg-Id set to
the event id) and keeps retrying until JetStream acknowledges. A crash between commit and
publish therefore loses nothing, and a redelivered message finds its id claimed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from shared.contracts.base import Event
from shared.db import Conn
from shared.health import Dependencies
from shared.tasks import BackgroundLoop
from shared.telemetry import attach_trace_headers, current_trace_headers, detach

log = logging.getLogger("antibully.outbox")

Publisher = Callable[[str, bytes, str, dict[str, str]], Awaitable[object]]


async def claim(conn: Conn, message_id: str, subject: str) -> bool:
    """True the first time this message id is seen in this service; False for a duplicate."""
    row = await conn.fetchval(
        "INSERT INTO inbox (message_id, subject) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
        message_id,
        subject,
    )
    return row is not None


async def enqueue(conn: Conn, *events: Event) -> None:
    headers = json.dumps(current_trace_headers())
    await conn.executemany(
        "INSERT INTO outbox (event_id, subject, payload, trace_headers) VALUES ($1, $2, $3, $4::jsonb)"
        " ON CONFLICT (event_id) DO NOTHING",
        [(e.event_id, e.routing_subject, e.model_dump_json().encode(), headers) for e in events],
    )


class OutboxRelay:
    """Publishes committed outbox rows; woken after each commit and on a timer for crash recovery."""

    def __init__(self, pool: asyncpg.Pool, publish: Publisher, deps: Dependencies, *, interval_s: float = 1.0) -> None:
        self._pool = pool
        self._deps = deps
        self._publish = publish
        self._interval = interval_s
        self._wake = asyncio.Event()
        self._loop = BackgroundLoop("outbox-relay", self._run)

    def kick(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        """Stop relaying, after one last bounded try at what is committed (the next start publishes the rest)."""
        await self._loop.stop()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5.0):
                await self._drain()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()
            await self._deps.guard("outbox relay", self._drain)  # the rows stay pending until published

    async def _drain(self) -> None:
        while await self.flush() > 0:
            pass

    async def flush(self, limit: int = 100) -> int:
        """Publish a batch concurrently (nats-server fsyncs concurrent publishes together), then mark it."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, event_id, subject, payload, trace_headers FROM outbox"
                " WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                limit,
            )
            await asyncio.gather(*(self._publish_row(row) for row in rows))
            await conn.execute(
                "UPDATE outbox SET published_at = now(), payload = NULL WHERE id = ANY($1::bigint[])",
                [row["id"] for row in rows],
            )
            return len(rows)

    async def _publish_row(self, row: asyncpg.Record) -> None:
        token = attach_trace_headers(json.loads(row["trace_headers"]))  # rejoin the report's trace
        try:
            await self._publish(row["subject"], row["payload"], str(row["event_id"]), {})
        finally:
            detach(token)

"""Notify's part of the letter to every parent: one batch (≤ 500 parents of one school) per message,
on its own durable consumer at bulk priority, so notices never wait behind letters.

Exactly once per parent across redeliveries and replicas: the batch's parents are claimed in one
statement with a lease (`letter_sends`), only the claimed ones are sent, and their outcomes are settled
in one statement. A crash between a provider's acceptance and that statement leaves at most the
batch in hand (≤ 500 parents of `concurrency` batches per replica) with an unknown outcome: once the
lease runs out they are sent again with the same idempotency key (SMTP Message-ID, SMS OutId). When
every parent is settled, `LetterBatchSent` (counts only) goes out through the outbox, once per batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import asyncpg
from prometheus_client import CollectorRegistry, Counter

from services.notify import repository_letters as sql
from services.notify.channels.base import DEFAULT_SMS_TEMPLATE, Channel, OutboundMessage
from services.notify.letter_sending import Parent, Settled, send_batch
from services.notify.links import LinkClaims, Links
from shared.consumer import Delivery
from shared.contracts.base import derive_id
from shared.contracts.letters import LetterBatchRequested, LetterBatchSent
from shared.contracts.notification import Address, ChannelKind
from shared.crypto import Sealer
from shared.failures import NotYet, backoff_s
from shared.health import Dependencies
from shared.letter_routes import open_routes
from shared.outbox import OutboxRelay, enqueue

log = logging.getLogger("antibully.notify.letters")
LINK_PREFIX = "letter:"


def letter_ref(school_id: str, key: str) -> str:
    """What a letter link's token names besides the letter: the school and the parent's pseudonymous key."""
    return f"{LINK_PREFIX}{school_id}:{key}"


def parse_ref(ref: str) -> tuple[str, str] | None:
    if not ref.startswith(LINK_PREFIX):
        return None
    school_id, _, key = ref.removeprefix(LINK_PREFIX).rpartition(":")
    return (school_id, key) if school_id and key else None


def sms_text(title: str, link: str) -> str:
    return f"【教育局】致家长的一封信：{title}，请点击阅读 {link}"


def email_text(body: str, link: str) -> str:
    return f"{body}\n\n请打开以下链接阅读本信，并点击“已阅”：\n{link}\n"


class LetterSender:
    def __init__(self, pool: asyncpg.Pool, relay: OutboxRelay, channels: dict[str, list[Channel]],
                 links: Links | None, public_base_url: str, link_ttl_s: int, lease_s: float, deps: Dependencies,
                 registry: CollectorRegistry, sends_in_flight: int = 8, routes_sealer: Sealer | None = None) -> None:
        self.pool = pool
        self.relay = relay
        self.channels = channels
        self.links = links
        self.base = public_base_url.rstrip("/")
        self.link_ttl_s = link_ttl_s
        self.lease_s = lease_s
        self.deps = deps
        self.routes_sealer = routes_sealer
        self.gate = asyncio.Semaphore(sends_in_flight)
        self.outcomes = Counter("antibully_notify_letters", "Letters to parents, by outcome", ["outcome"],
                                registry=registry)

    def _link(self, letter_id: uuid.UUID, school_id: str, key: str) -> str:
        if self.links is None:
            return ""
        claims = LinkClaims(letter_id, letter_ref(school_id, key), int(time.time()) + self.link_ttl_s)
        return f"{self.base}/letter/{self.links.sign(claims)}"

    async def on_batch(self, batch: LetterBatchRequested, delivery: Delivery) -> None:
        if self.routes_sealer is None:
            # fails the same way every time: a dead letter someone is told about, replayed once configured
            raise RuntimeError("LETTER_CONTACT_KEY is not set: letters cannot be sent")
        keys = [r.key for r in batch.recipients]
        # opened before anything is claimed: a batch sealed under another key claims nobody
        routes = {r.key: open_routes(self.routes_sealer, batch.letter_id, r.key, r.sealed_routes)
                  for r in batch.recipients}
        async with self.pool.acquire() as conn, conn.transaction():
            await sql.keep_text(conn, batch.letter_id, batch.title, batch.body)
            claimed = await sql.claim(conn, batch.letter_id, batch.school_id, batch.batch_no, keys, self.lease_s)
        if claimed:
            mine = list(claimed)
            delivery.keep_alive(lambda: sql.extend_lease(self.pool, batch.letter_id, mine, self.lease_s))
            resent = sum(1 for n in claimed.values() if n > 1)
            if resent:
                self.outcomes.labels("resend").inc(resent)
            await self._send(batch, [Parent(k, routes[k]) for k in keys if k in claimed])
        await self._finish(batch, keys, delivery)

    async def _send(self, batch: LetterBatchRequested, parents: list[Parent]) -> None:

        def compose(key: str, address: Address) -> OutboundMessage:
            link = self._link(batch.letter_id, batch.school_id, key)
            idem = str(derive_id("letter-message", batch.letter_id, key))
            if address.kind is ChannelKind.email:
                return OutboundMessage(address.to, f"致家长的一封信：{batch.title}", email_text(batch.body, link), idem)
            return OutboundMessage(address.to, batch.title, sms_text(batch.title, link), idem, DEFAULT_SMS_TEMPLATE,
                                   {"kind": "致家长的一封信", "school": "教育局", "level": batch.title,
                                    "ask": "请点击阅读", "ref": "", "link": link})

        async def record(settled: list[Settled]) -> None:
            async def step() -> None:
                async with self.pool.acquire() as conn:
                    await sql.settle(conn, batch.letter_id, [(s.key, s.state, s.channel, s.error, s.message_id)
                                                             for s in settled])

            # What went out must be recorded even if the database went away meanwhile, or it goes out twice.
            await self.deps.until_done("recording letters", step)

        # each part's sent parents as soon as the part returns; the refused ones once failover is done
        settled = await send_batch(self.channels, parents, compose, self.gate, on_sent=record)
        await record([s for s in settled if s.state != "sent"])
        for s in settled:
            self.outcomes.labels(s.state).inc()

    async def _finish(self, batch: LetterBatchRequested, keys: list[str], delivery: Delivery) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            counts = await sql.batch_counts(conn, batch.letter_id, keys)
            if counts["open"] == 0 and counts["known"] == len(keys):
                await enqueue(conn, LetterBatchSent(
                    event_id=derive_id("letter-batch-sent", batch.letter_id, batch.school_id, batch.batch_no),
                    letter_id=batch.letter_id, school_id=batch.school_id, batch_no=batch.batch_no,
                    sent=counts["sent"], failed=counts["failed"], by_sms=counts["by_sms"],
                    by_email=counts["by_email"]))
        if counts["open"] == 0 and counts["known"] == len(keys):
            self.relay.kick()
            return
        # a provider away or throttled (retry), or another replica's lease: the rest, later
        log.info("letter %s school batch %d: %d parents not settled yet", batch.letter_id, batch.batch_no,
                 counts["open"])
        raise NotYet(backoff_s(delivery.attempt), "letters not settled yet")

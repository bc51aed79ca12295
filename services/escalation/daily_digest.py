"""Sends the duty room's daily digest of overdue duties, once a day per jurisdiction.

Run by the watchdog's loop on its clock. The day is decided in PostgreSQL (`overdue_digests`, one row
per day and jurisdiction, inserted by the transaction that enqueues the notice): two replicas send it
once, and a service that was down at `digest_at` sends that day's digest when it comes back.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

import asyncpg
from prometheus_client import CollectorRegistry, Gauge

from services.escalation import digest_repository
from services.escalation.digest import Digest, digest_day, digests
from services.escalation.outbox import enqueue
from services.escalation.policy_store import PolicyStore
from shared.directory import Directory
from shared.outbox import OutboxRelay

log = logging.getLogger("antibully.escalation.digest")


class DailyDigest:
    def __init__(self, pool: asyncpg.Pool, relay: OutboxRelay, directory: Directory, policies: PolicyStore,
                 registry: CollectorRegistry) -> None:
        self.pool = pool
        self.relay = relay
        self.directory = directory
        self.policies = policies
        self.in_digest = Gauge("antibully_duties_in_digest", "Open duties whose escalation is used up: listed in "
                               "the duty room's daily digest instead of chased one by one", registry=registry)
        self._decided: date | None = None  # only spares a query: the database decides

    async def run(self, now: datetime) -> list[Digest]:
        """Refresh the gauge; from `digest_at` on, decide today's digest (once); returns what this call sent
        or decided (empty when it was decided before)."""
        async with self.pool.acquire() as conn:
            self.in_digest.set(await digest_repository.count_in_digest(conn))
        policy = self.policies.current()
        day = digest_day(now, policy.timing.digest_at)
        if day is None or day == self._decided:
            return []
        decided: list[Digest] = []
        async with self.pool.acquire() as conn, conn.transaction():
            duties = await digest_repository.in_digest(conn)
            for digest in digests(duties, day, now, self.directory, policy):
                notification_id = digest.request.notification_id if digest.request else None
                if await digest_repository.decide_day(conn, day, digest.jurisdiction, digest.duties, notification_id):
                    decided.append(digest)
                    if digest.request:
                        await enqueue(conn, digest.request)
        self._decided = day
        for digest in decided:
            log.info("OVERDUE DIGEST %s for %s: %d duties%s", day, digest.jurisdiction, digest.duties,
                     "" if digest.request else " (nothing sent)")
        if any(d.request for d in decided):
            self.relay.kick()
        return decided

"""Escalation's duties as an operator counts them: open obligations past their deadline, by kind.

A gauge read from the table every interval (any replica may read it; they agree), not a counter of
misses: the alert asks "is anything overdue now", which a counter cannot answer after a restart.
"""

from __future__ import annotations

import asyncpg
from prometheus_client import CollectorRegistry, Gauge

from shared.health import Dependencies
from shared.tasks import BackgroundLoop, every

KINDS = ("notice", "task")


class OverdueDuties:
    def __init__(self, pool: asyncpg.Pool, registry: CollectorRegistry, deps: Dependencies,
                 interval_s: float = 15.0) -> None:
        self.pool = pool
        self.gauge = Gauge("antibully_duties_overdue", "Open obligations past a deadline (missed at least once, "
                           "or due and not yet chased), by kind", ["kind"], registry=registry)
        for kind in KINDS:
            self.gauge.labels(kind).set(0)
        self.loop: BackgroundLoop = every("overdue duties", interval_s, self.read, deps)

    async def read(self) -> None:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT kind, count(*) AS n FROM obligations"
                " WHERE state NOT IN ('acknowledged', 'done', 'waived', 'not_applicable')"
                " AND (step > 0 OR due_at < now()) GROUP BY kind")
        counts = {r["kind"]: r["n"] for r in rows}
        for kind in KINDS:
            self.gauge.labels(kind).set(counts.get(kind, 0))

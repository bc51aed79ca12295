"""Sealed notices are kept only as long as their links work; then they are purged."""

from __future__ import annotations

import logging
from datetime import timedelta

import asyncpg

from services.notify import repository
from shared.contracts.base import utcnow
from shared.health import Dependencies
from shared.tasks import BackgroundLoop, every

log = logging.getLogger("antibully.notify.retention")


def notice_purge(pool: asyncpg.Pool, link_ttl_s: int, deps: Dependencies, interval_s: float = 3600.0
                 ) -> BackgroundLoop:
    async def purge() -> None:
        async with pool.acquire() as conn:
            n = await repository.purge_notices(conn, utcnow() - timedelta(seconds=link_ttl_s + 3600))
        if n:
            log.info("purged %d sealed notices whose links expired", n)

    return every("notice-purge", interval_s, purge, deps)

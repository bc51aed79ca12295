"""Sealed notices are kept only as long as their links work; then they are purged."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import asyncpg

from services.notify import repository
from shared.bus import safe_error
from shared.contracts.base import utcnow
from shared.tasks import BackgroundLoop

log = logging.getLogger("antibully.notify.retention")


def notice_purge(pool: asyncpg.Pool, link_ttl_s: int, interval_s: float = 3600.0) -> BackgroundLoop:
    async def run() -> None:
        while True:
            try:
                async with pool.acquire() as conn:
                    n = await repository.purge_notices(conn, utcnow() - timedelta(seconds=link_ttl_s + 3600))
                if n:
                    log.info("purged %d sealed notices whose links expired", n)
            except Exception as exc:  # noqa: BLE001 - try again next round
                log.warning("notice purge failed: %s", safe_error(exc))
            await asyncio.sleep(interval_s)

    return BackgroundLoop("notice-purge", run)

"""Archive's scheduled work: destroying expired data keys and signing checkpoints of the chain heads.

Both are safe to run in several archive processes at once and log counts only.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import asyncpg

from services.archive import checkpoint, repository
from services.archive.payloads import Payloads
from shared.contracts.base import utcnow

log = logging.getLogger("antibully.archive")


async def shred_expired(pool: asyncpg.Pool, payloads: Payloads, retention: timedelta,
                        now: datetime | None = None, batch: int = 500) -> int:
    """Destroy the data key of every case whose last entry is older than the retention period.

    The entries stay: their hashes cover the ciphertext, so the chain verifies after shredding.
    Returns how many keys were destroyed.
    """
    at = now or utcnow()
    total = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            shredded = await repository.shred_expired(conn, at, at - retention, batch)
        payloads.forget(shredded)
        total += len(shredded)
        if len(shredded) < batch:
            break
    if total:
        log.info("destroyed the data keys of %d expired cases", total)
    return total


async def write_checkpoint(pool: asyncpg.Pool, signer: checkpoint.CheckpointSigner,
                           now: datetime | None = None) -> int | None:
    """Sign the heads that moved since the last checkpoint; None (nothing written) when none moved."""
    async with pool.acquire() as conn, conn.transaction():
        await repository.lock_checkpoints(conn)
        heads = await repository.moved_heads(conn)
        if not heads:
            return None
        cp = checkpoint.make(signer, await repository.last_checkpoint(conn), now or utcnow(), heads)
        await repository.add_checkpoint(conn, cp)
    log.info("checkpoint %d signed: %d chain heads moved", cp.id, len(heads))
    return cp.id

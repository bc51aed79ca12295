"""The payloads interface on real PostgreSQL (no broker): keys per case, the cache, and after shredding."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from cryptography.exceptions import InvalidTag

from services.archive import envelope
from services.archive.jobs import shred_expired
from services.archive.payloads import NoDataKey, Payloads
from services.archive.repository import SCHEMA
from shared.contracts.base import utcnow
from shared.db import create_pool


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database, SCHEMA, role="antibully_archive", max_size=2)  # the database is migrated
    try:
        yield pool
    finally:
        await pool.close()


async def test_each_case_has_its_own_wrapped_key(pool: asyncpg.Pool) -> None:
    kek = envelope.new_dek()
    payloads = Payloads(kek)
    a, b, event, event2 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        ct_a = await payloads.seal_payload(conn, a, event, b"alpha")
        ct_b = await payloads.seal_payload(conn, b, event, b"bravo")
        ct_a2 = await payloads.seal_payload(conn, a, event2, b"again")
    rows = {r["incident_id"]: bytes(r["wrapped_dek"]) for r in await pool.fetch("SELECT * FROM case_keys")}
    assert set(rows) == {a, b}  # one key per case, made on first use and reused
    dek_a, dek_b = (envelope.unwrap(kek, case, rows[case]) for case in (a, b))
    assert dek_a != dek_b and dek_a not in rows[a]
    assert envelope.open_sealed(dek_a, a, event, ct_a) == b"alpha"
    fresh = Payloads(kek)  # another process: nothing cached, unwraps from the table
    async with pool.acquire() as conn:
        assert await fresh.open_payload(conn, b, event, ct_b) == b"bravo"
        assert await fresh.open_payload(conn, a, event2, ct_a2) == b"again"
        with pytest.raises(InvalidTag):
            await fresh.open_payload(conn, b, event, ct_a)  # case a's ciphertext does not open as case b's
        with pytest.raises(NoDataKey):
            await fresh.open_payload(conn, uuid.uuid4(), event, ct_a)


async def test_the_key_cache_is_bounded(pool: asyncpg.Pool) -> None:
    payloads = Payloads(envelope.new_dek(), cache_size=2)
    cases = [uuid.uuid4() for _ in range(3)]
    async with pool.acquire() as conn, conn.transaction():
        for case in cases:
            await payloads.seal_payload(conn, case, uuid.uuid4(), b"x")
    assert list(payloads._cache) == cases[1:]


async def test_a_shredded_case_keeps_no_new_personal_data(pool: asyncpg.Pool) -> None:
    payloads = Payloads(envelope.new_dek())
    case, event = uuid.uuid4(), uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        ct = await payloads.seal_payload(conn, case, event, b"secret")
        await conn.execute("INSERT INTO chain_heads (incident_id, seq, hash, last_at) VALUES ($1, 1, 'h', $2)",
                           case, utcnow() - timedelta(days=11))
    assert await shred_expired(pool, payloads, timedelta(days=10)) == 1
    late = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        late_ct = await payloads.seal_payload(conn, case, late, b"late secret")
        assert await payloads.open_payload(conn, case, event, ct) is None
        assert await payloads.open_payload(conn, case, late, late_ct) is None
    assert b"late secret" not in late_ct and case not in payloads._cache

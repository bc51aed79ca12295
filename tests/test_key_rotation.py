"""Key rotation on real PostgreSQL: case keys rewrapped under a new ARCHIVE_KEK still open what was sealed
under the old one, `antibully rotate archive-kek` is idempotent and batched, and a case key under a KEK
id the ring does not hold is refused; notify (real JetStream and PostgreSQL) opens links of every key of
LINK_KEY's ring and refuses any other key id."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest

from antibully.rotate import rotate_archive_kek
from services.archive import envelope
from services.archive.payloads import Payloads, UnknownKek, kek_ring
from services.archive.repository import SCHEMA
from services.notify.app import running as notify
from services.notify.links import LinkClaims, Links
from shared.config import ROOT, Settings
from shared.contracts.base import utcnow
from shared.crypto import new_key_b64
from shared.db import create_pool


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    # the `database` fixture migrated: the archive's own role, as the service runs
    pool = await create_pool(database, SCHEMA, role="antibully_archive", max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


async def _seal(pool: asyncpg.Pool, payloads: Payloads, n: int) -> dict[uuid.UUID, tuple[uuid.UUID, bytes]]:
    sealed = {}
    async with pool.acquire() as conn, conn.transaction():
        for i in range(n):
            case, event = uuid.uuid4(), uuid.uuid4()
            sealed[case] = (event, await payloads.seal_payload(conn, case, event, f"child {i}".encode()))
    return sealed


async def _opens(pool: asyncpg.Pool, payloads: Payloads, sealed: dict[uuid.UUID, tuple[uuid.UUID, bytes]]) -> None:
    async with pool.acquire() as conn:
        for case, (event, ct) in sealed.items():
            assert await payloads.open_payload(conn, case, event, ct) is not None


async def test_data_sealed_under_the_old_kek_reads_after_rotation(pool: asyncpg.Pool, database: str) -> None:
    old, new = new_key_b64(), new_key_b64()
    before = await _seal(pool, Payloads(kek_ring(old)), 5)  # written before the rotation: a plain single key
    overlap = Payloads(kek_ring(f"{new},{old}"))  # step 1: the new KEK first, the old one still held
    await _opens(pool, overlap, before)
    during = await _seal(pool, overlap, 2)  # new cases are wrapped under the new KEK at once
    new_id, old_id = kek_ring(new).current_id, kek_ring(old).current_id
    assert await pool.fetchval("SELECT count(*) FROM case_keys WHERE kek_id = $1", new_id) == 2

    report = await rotate_archive_kek(database, f"{new},{old}", batch=2)  # step 2: rewrap
    assert (report.rewrapped, report.batches, report.failed) == (5, 3, [])
    assert report.remaining == {new_id: 7}
    assert "ARCHIVE_KEK may now hold that key alone" in report.lines()[-1]

    again = await rotate_archive_kek(database, f"{new},{old}", batch=2)  # idempotent: nothing left to do
    assert (again.rewrapped, again.batches) == (0, 0)

    only_new = Payloads(kek_ring(new))  # step 3: the old KEK dropped
    await _opens(pool, only_new, before | during)
    with pytest.raises(UnknownKek) as refused:  # a KEK id the ring does not hold: refused, not tried
        await _opens(pool, Payloads(kek_ring(old)), before)
    assert new_id in str(refused.value) and old_id in str(refused.value)


async def test_a_rotation_resumes_and_leaves_keys_under_unknown_keks_alone(pool: asyncpg.Pool, database: str) -> None:
    a, b, c = new_key_b64(), new_key_b64(), new_key_b64()
    under_a = await _seal(pool, Payloads(kek_ring(a)), 3)
    under_b = await _seal(pool, Payloads(kek_ring(b)), 2)
    # the operator forgot B in the ring: its keys cannot be rewrapped and are reported, untouched
    report = await rotate_archive_kek(database, f"{c},{a}", batch=100)
    assert report.rewrapped == 3 and report.remaining == {kek_ring(c).current_id: 3, kek_ring(b).current_id: 2}
    assert "keep them in ARCHIVE_KEK" in report.lines()[-1]
    await _opens(pool, Payloads(kek_ring(b)), under_b)
    # run again with B: only B's keys move (A's were done: the run resumes where it left off)
    report = await rotate_archive_kek(database, f"{c},{b}", batch=100)
    assert report.rewrapped == 2 and report.remaining == {kek_ring(c).current_id: 5}
    await _opens(pool, Payloads(kek_ring(c)), under_a | under_b)


async def test_a_shredded_case_stays_shredded_through_a_rotation(pool: asyncpg.Pool, database: str) -> None:
    old, new = new_key_b64(), new_key_b64()
    sealed = await _seal(pool, Payloads(kek_ring(old)), 2)
    gone = next(iter(sealed))
    async with pool.acquire() as conn:
        await conn.execute("UPDATE case_keys SET wrapped_dek = NULL, shredded_at = now() WHERE incident_id = $1",
                           gone)
    report = await rotate_archive_kek(database, f"{new},{old}")
    assert report.rewrapped == 1
    async with pool.acquire() as conn:
        event, ct = sealed[gone]
        assert await Payloads(kek_ring(new)).open_payload(conn, gone, event, ct) is None


async def test_the_rewrap_trigger_refuses_anything_but_a_new_wrap(pool: asyncpg.Pool) -> None:
    sealed = await _seal(pool, Payloads(envelope.new_dek()), 1)
    case = next(iter(sealed))
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.RaiseError):  # same kek_id: not a rotation
            await conn.execute("UPDATE case_keys SET wrapped_dek = '\\x00'::bytea WHERE incident_id = $1", case)
        with pytest.raises(asyncpg.RaiseError):  # moving a key to another case
            await conn.execute("UPDATE case_keys SET kek_id = 'x', incident_id = $2 WHERE incident_id = $1",
                               case, uuid.uuid4())


async def test_the_rotate_command(pool: asyncpg.Pool, database: str) -> None:
    old, new = new_key_b64(), new_key_b64()
    sealed = await _seal(pool, Payloads(kek_ring(old)), 3)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "antibully.cli", "rotate", "archive-kek", "--batch", "2", cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database, "ARCHIVE_KEK": f"{new},{old}"}, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out
    first = out.decode().splitlines()[0]
    assert first == f"rewrapped 3 case key(s) under KEK {kek_ring(new).current_id} in 2 batch(es)"
    await _opens(pool, Payloads(kek_ring(new)), sealed)


async def test_notify_honours_links_of_every_key_of_its_ring_and_no_other(settings: Settings) -> None:
    """notify running with LINK_KEY=new,old: links of both keys open (also one from before key ids);
    a link under a key id notify does not hold is refused as forged."""
    old, new, stranger = new_key_b64(), new_key_b64(), new_key_b64()
    rotated = settings.model_copy(update={"link_key": f"{new},{old}"})
    claims = LinkClaims(uuid.uuid4(), "AB-0000ROTA", int((utcnow() + timedelta(days=7)).timestamp()))
    body = Links(old).sign(claims).split(".")[1]
    legacy = f"{body}.{_mac(old, body)}"  # as notify signed links before key ids: a MAC over the claims alone
    async with notify(rotated), httpx.AsyncClient(base_url=f"http://127.0.0.1:{rotated.notify_port}",
                                                  timeout=10) as client:
        for token in (Links(old).sign(claims), Links(new).sign(claims), legacy):
            page = await client.get(f"/ack/{token}")
            assert page.status_code == 200 and "AB-0000ROTA" in page.text, token
        for token in (Links(stranger).sign(claims), Links(f"{stranger},{old}").sign(claims)):
            page = await client.get(f"/ack/{token}")
            assert page.status_code == 400 and "链接无效" in page.text


def _mac(key_b64: str, body: str) -> str:
    import base64
    import hashlib
    import hmac

    digest = hmac.new(base64.b64decode(key_b64), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def test_the_archive_says_at_start_when_archive_kek_lacks_a_kek_still_in_use(
        pool: asyncpg.Pool, settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    from services.archive.app import running as archive

    old, new = new_key_b64(), new_key_b64()
    await _seal(pool, Payloads(kek_ring(old)), 2)
    caplog.set_level("INFO", logger="antibully.archive")
    async with archive(settings.model_copy(update={"archive_kek": new})):
        pass
    assert f"ARCHIVE_KEK lacks KEK(s) {kek_ring(old).current_id}, under which 2 case key(s)" in caplog.text
    caplog.clear()
    async with archive(settings.model_copy(update={"archive_kek": f"{new},{old}"})):
        pass
    assert "lacks" not in caplog.text and "2 case key(s) are still wrapped under an older KEK" in caplog.text

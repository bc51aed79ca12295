"""Tamper evidence and data at rest on real JetStream and PostgreSQL: `antibully verify`, signed
checkpoints, the service role's grants, and crypto-shredding after retention."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from antibully.verify import verify
from services.archive import payloads as payloads_module
from services.archive.app import running
from services.archive.checkpoint import CheckpointSigner
from services.archive.jobs import shred_expired, write_checkpoint
from services.archive.payloads import Payloads
from shared.config import ROOT, Settings
from shared.contracts.base import utcnow
from shared.service import Infra
from tests.helpers import eventually, official_headers, owner_connection, tamper
from tests.test_archive_consumer import _case_flow, _record


@dataclass
class Archive:
    infra: Infra
    client: httpx.AsyncClient
    settings: Settings
    signer: CheckpointSigner

    async def case(self, key: str = "archive-key") -> tuple[Any, int]:
        """A whole case through the bus; returns its IncidentReported and the record's length once complete."""
        reported, _, requests, *_ = await _case_flow(self.settings.nats_url, key)
        n = 4 + len(requests)
        await eventually(lambda: _record(self.client, reported.incident_id, n))
        return reported, n


@pytest.fixture
async def archive(settings: Settings) -> AsyncIterator[Archive]:
    seed = base64.b64encode(os.urandom(32)).decode()
    # The scheduled jobs run once at start (nothing to do yet), then not again during a test.
    settings = settings.model_copy(update={"archive_signing_key": seed, "archive_checkpoint_interval_s": 3600,
                                           "archive_shred_interval_s": 3600})
    async with running(settings) as infra, httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10
    ) as client:
        client.headers.update(await official_headers(client, settings.database_url, "bureau-auditor"))
        yield Archive(infra, client, settings, CheckpointSigner(seed))


async def _cli_verify(database_url: str, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "antibully.cli", "verify", *args, cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url}, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode().strip()


async def test_verify_names_an_edited_entry(archive: Archive) -> None:
    reported, n = await archive.case()
    url = archive.settings.database_url
    code, out = await _cli_verify(url)
    first, reads = out.splitlines()
    assert (code, first) == (0, f"OK: 1 cases, {n} entries, 0 checkpoints verified")
    assert re.fullmatch(r"OK: access log, [1-9]\d* reads verified", reads)  # the test's own reads
    owner = await owner_connection(archive.settings)
    try:
        await tamper(owner, "UPDATE entries SET summary = '{\"category\": \"verbal\"}'::jsonb"
                            " WHERE incident_id = $1 AND seq = 2", reported.incident_id)
        code, out = await _cli_verify(url)
        assert code == 1
        assert out == f"BROKEN: case {reported.incident_id} seq 2: hash does not match the entry's contents"
        # An edited hash is caught at its own entry; an earlier break is named first.
        await tamper(owner, "UPDATE entries SET hash = repeat('a', 64) WHERE incident_id = $1 AND seq = 1",
                     reported.incident_id)
        verdict = await verify(url)
        assert verdict.broken == f"case {reported.incident_id} seq 1: hash does not match the entry's contents"
    finally:
        await owner.close()


async def test_rehashed_chain_and_deleted_last_entry_are_caught_by_the_checkpoint(archive: Archive) -> None:
    reported, n = await archive.case()
    url = archive.settings.database_url
    assert await write_checkpoint(archive.infra.pool, archive.signer) == 1
    assert await write_checkpoint(archive.infra.pool, archive.signer) is None  # nothing moved: nothing written
    key = base64.b64encode(archive.signer.public_key).decode()
    code, out = await _cli_verify(url, "--public-key", key)
    assert (code, out.splitlines()[0]) == (
        0, f"OK: 1 cases, {n} entries, 1 checkpoints verified (signed by {archive.signer.fingerprint})")
    owner = await owner_connection(archive.settings)
    try:
        # Someone with the database but not the signing key drops the last entry and rewinds the head:
        # every remaining link holds, the signed checkpoint does not.
        await tamper(owner, "DELETE FROM entries WHERE incident_id = $1 AND seq = $2", reported.incident_id, n)
        await owner.execute("UPDATE chain_heads SET seq = seq - 1 WHERE incident_id = $1", reported.incident_id)
        code, out = await _cli_verify(url)
    finally:
        await owner.close()
    assert code == 1
    assert out == (f"BROKEN: case {reported.incident_id} seq {n}: missing,"
                   " but checkpoint 1 recorded it as the chain's head")


async def test_an_edited_read_in_the_access_log_is_named(archive: Archive) -> None:
    await archive.case()
    owner = await owner_connection(archive.settings)
    try:
        # someone hides why they read a case
        await tamper(owner, "UPDATE access_log SET purpose = 'routine' WHERE seq = 1", table="access_log")
    finally:
        await owner.close()
    code, out = await _cli_verify(archive.settings.database_url)
    assert (code, out) == (1, "BROKEN: access log seq 1: hash does not match the entry's contents")


async def test_tampered_checkpoint_signature_is_caught(archive: Archive) -> None:
    await archive.case("first")
    await archive.case("second")
    assert await write_checkpoint(archive.infra.pool, archive.signer) == 1
    url = archive.settings.database_url
    assert (await verify(url)).broken is None
    forger = CheckpointSigner(base64.b64encode(os.urandom(32)).decode())
    pinned = await verify(url, public_key=forger.public_key)
    assert pinned.broken == (f"checkpoint 1: signed by key {archive.signer.fingerprint},"
                             f" not the expected {forger.fingerprint}")
    owner = await owner_connection(archive.settings)
    try:
        await tamper(owner, "UPDATE checkpoints SET signature = overlay(signature placing '\\x00'::bytea from 1)"
                            " WHERE id = 1", table="checkpoints")
        signature_edited = await verify(url)
    finally:
        await owner.close()
    assert signature_edited.broken == "checkpoint 1: signature does not verify"
    assert (signature_edited.cases, signature_edited.checkpoints) == (2, 0)


async def test_app_role_cannot_change_entries_even_with_the_triggers_off(archive: Archive) -> None:
    reported, _ = await archive.case()
    await write_checkpoint(archive.infra.pool, archive.signer)
    pool = archive.infra.pool
    assert await pool.fetchval("SELECT current_user") == archive.settings.service_database("archive").role
    owner = await owner_connection(archive.settings)
    try:
        for table in ("entries", "checkpoints"):
            await owner.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for sql in ("UPDATE entries SET summary = '{}'::jsonb WHERE incident_id = $1",
                    "DELETE FROM entries WHERE incident_id = $1",
                    "UPDATE checkpoints SET heads = '[]'::jsonb WHERE $1::uuid IS NOT NULL",
                    "DELETE FROM checkpoints WHERE $1::uuid IS NOT NULL"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await pool.execute(sql, reported.incident_id)
        for sql in ("TRUNCATE entries", "TRUNCATE checkpoints", "ALTER TABLE entries DISABLE TRIGGER USER"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await pool.execute(sql)
        # RESET ROLE would give a superuser back its rights; the service's pool is not one (see operations.md).
    finally:
        for table in ("entries", "checkpoints"):
            await owner.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        await owner.close()
    assert (await verify(archive.settings.database_url)).broken is None


async def test_expired_case_is_shredded_and_still_verifies(archive: Archive) -> None:
    reported, n = await archive.case()
    pool, case = archive.infra.pool, reported.incident_id
    retention = timedelta(days=archive.settings.archive_retention_days)
    payloads = Payloads.from_settings(archive.settings)
    row = await pool.fetchrow("SELECT event_id, payload_ct FROM entries WHERE incident_id = $1"
                              " AND event_type = 'IncidentReported'", case)
    assert row is not None
    async with pool.acquire() as conn:
        opened = await payloads.open_payload(conn, case, row["event_id"], bytes(row["payload_ct"]))
    assert opened is not None and "李小明" in opened.decode()
    await write_checkpoint(pool, archive.signer)

    now = utcnow()
    assert await shred_expired(pool, payloads, retention, now=now + retention - timedelta(days=1)) == 0
    assert await shred_expired(pool, payloads, retention, now=now + retention + timedelta(days=1)) == 1
    assert await shred_expired(pool, payloads, retention, now=now + retention + timedelta(days=2)) == 0

    async with pool.acquire() as conn:
        assert await payloads.open_payload(conn, case, row["event_id"], bytes(row["payload_ct"])) is None
        # The running service's instance (with the key in its cache) cannot open it either.
        assert await payloads_module.open_payload(conn, case, row["event_id"], bytes(row["payload_ct"])) is None
    key = await pool.fetchrow("SELECT wrapped_dek, shredded_at FROM case_keys WHERE incident_id = $1", case)
    assert key is not None and key["wrapped_dek"] is None and key["shredded_at"] is not None
    record = await _record(archive.client, case, n)
    assert record is not None
    assert record["personal_data"]["status"] == "destroyed" and record["personal_data"]["destroyed_at"]
    assert record["level"] == "severe" and record["chain"]["valid"] is True
    verdict = await verify(archive.settings.database_url)
    assert verdict.broken is None and (verdict.entries, verdict.checkpoints) == (n, 1)
    # A destroyed key stays destroyed: it cannot be put back, nor its row removed.
    with pytest.raises(asyncpg.RaiseError, match="only be destroyed"):
        await pool.execute("UPDATE case_keys SET wrapped_dek = '\\x00'::bytea, shredded_at = NULL"
                           " WHERE incident_id = $1", case)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pool.execute("DELETE FROM case_keys WHERE incident_id = $1", case)


async def test_checkpoints_across_a_signing_key_rotation_verify_with_both_public_keys(archive: Archive) -> None:
    """ARCHIVE_SIGNING_KEY rotated: each checkpoint records its signer; verify takes the key history."""
    old, new = archive.signer, CheckpointSigner(base64.b64encode(os.urandom(32)).decode())
    await archive.case("before")
    assert await write_checkpoint(archive.infra.pool, old) == 1
    await archive.case("after")
    assert await write_checkpoint(archive.infra.pool, new) == 2
    url = archive.settings.database_url
    both = await verify(url, public_key={old.public_key, new.public_key})
    assert both.broken is None and both.checkpoints == 2 and both.signers == {old.fingerprint, new.fingerprint}
    assert (await verify(url, public_key=new.public_key)).broken == (
        f"checkpoint 1: signed by key {old.fingerprint}, not the expected {new.fingerprint}")
    b64 = [base64.b64encode(k).decode() for k in (old.public_key, new.public_key)]
    code, out = await _cli_verify(url, "--public-key", b64[0], "--public-key", b64[1])
    assert code == 0 and out.startswith("OK: 2 cases"), out
    code, out = await _cli_verify(url, "--public-key", ",".join(b64))  # a key history as one list
    assert code == 0, out
    code, out = await _cli_verify(url, "--public-key", b64[1])
    assert code == 1 and out.startswith("BROKEN: checkpoint 1: signed by key"), out

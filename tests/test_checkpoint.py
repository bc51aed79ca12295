"""Signed checkpoints of the chain heads, without a database."""

from __future__ import annotations

import base64
import dataclasses
import os
import uuid
from datetime import timedelta

import pytest

from services.archive import checkpoint
from services.archive.checkpoint import CheckpointSigner
from shared.contracts.base import utcnow

pytestmark = pytest.mark.pure


def _signer() -> CheckpointSigner:
    return CheckpointSigner(base64.b64encode(os.urandom(32)).decode())


def _heads(n: int) -> list[checkpoint.Head]:
    return [(uuid.uuid4(), i + 1, f"{i:064x}") for i in range(n)]


def test_checkpoints_chain_and_verify() -> None:
    signer = _signer()
    first = checkpoint.make(signer, None, utcnow(), _heads(3))
    second = checkpoint.make(signer, first, utcnow() + timedelta(seconds=1), _heads(1))
    assert (first.id, second.id, second.prev_digest) == (1, 2, first.digest)
    assert checkpoint.problem(first, None) is None
    assert checkpoint.problem(second, first, expected_keys={signer.public_key}) is None


@pytest.mark.parametrize("change, expected", [
    ({"signature": b"\0" * 64}, "signature does not verify"),
    ({"digest": "0" * 64}, "digest does not match"),
    ({"key_fingerprint": "0" * 32}, "fingerprint does not match"),
    ({"prev_digest": "f" * 64}, "does not chain"),
])
def test_altered_checkpoint_is_named(change: dict[str, object], expected: str) -> None:
    signer = _signer()
    first = checkpoint.make(signer, None, utcnow(), _heads(2))
    second = checkpoint.make(signer, first, utcnow(), _heads(2))
    wrong = checkpoint.problem(dataclasses.replace(second, **change), first)  # type: ignore[arg-type]
    assert wrong is not None and expected in wrong


def test_edited_heads_break_the_digest() -> None:
    signer = _signer()
    cp = checkpoint.make(signer, None, utcnow(), _heads(2))
    case, seq, hash_ = cp.heads[0]
    edited = dataclasses.replace(cp, heads=((case, seq - 1, hash_), *cp.heads[1:]))
    assert checkpoint.problem(edited, None) == "digest does not match its contents"


def test_re_signed_by_another_key_passes_only_without_a_pinned_key() -> None:
    signer, forger = _signer(), _signer()
    forged = checkpoint.make(forger, None, utcnow(), _heads(1))
    assert checkpoint.problem(forged, None) is None
    wrong = checkpoint.problem(forged, None, expected_keys={signer.public_key})
    assert wrong is not None and signer.fingerprint in wrong


def test_missing_checkpoint_is_named() -> None:
    signer = _signer()
    first = checkpoint.make(signer, None, utcnow(), _heads(1))
    second = checkpoint.make(signer, first, utcnow(), _heads(1))
    third = checkpoint.make(signer, second, utcnow(), _heads(1))
    assert checkpoint.problem(third, first) == "expected checkpoint 2 here: a checkpoint is missing"


def test_signing_key_is_checked_and_public_key_derived() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CheckpointSigner(base64.b64encode(b"short").decode())
    seed = base64.b64encode(os.urandom(32)).decode()
    assert base64.b64decode(checkpoint.public_key_b64(seed)) == CheckpointSigner(seed).public_key

"""Envelope encryption of a case's personal data (pure).

Each case has its own random data key (DEK); only its AES-GCM wrap under the key-encryption
key (KEK) is stored, bound to the case id, so destroying one wrapped key destroys exactly one
case's personal data (crypto-shredding) while the KEK and every other case stay as they were.
"""

from __future__ import annotations

import hashlib
import os
import uuid

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE = 12
_WRAP_LABEL = b"antibully-archive-dek-v1\x1f"


def key_id(kek: bytes) -> str:
    """A fingerprint naming the KEK a key was wrapped with (for rotation), revealing nothing of it."""
    return hashlib.sha256(b"antibully-kek-id\x1f" + kek).hexdigest()[:16]


def new_dek() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    return AESGCM(key).decrypt(blob[:NONCE], blob[NONCE:], aad)


def wrap(kek: bytes, case_id: uuid.UUID, dek: bytes) -> bytes:
    """The case id is the wrap's associated data: a wrapped key moved to another case will not open."""
    return _seal(kek, dek, _WRAP_LABEL + case_id.bytes)


def unwrap(kek: bytes, case_id: uuid.UUID, wrapped: bytes) -> bytes:
    """Raises cryptography's InvalidTag for a wrong KEK, a wrong case or an altered wrap."""
    return _open(kek, wrapped, _WRAP_LABEL + case_id.bytes)


def payload_aad(case_id: uuid.UUID, event_id: uuid.UUID) -> bytes:
    """Binds a payload to its place: a ciphertext copied to another entry or case will not open."""
    return f"{case_id}:{event_id}".encode()


def seal(dek: bytes, case_id: uuid.UUID, event_id: uuid.UUID, plaintext: bytes) -> bytes:
    return _seal(dek, plaintext, payload_aad(case_id, event_id))


def open_sealed(dek: bytes, case_id: uuid.UUID, event_id: uuid.UUID, blob: bytes) -> bytes:
    return _open(dek, blob, payload_aad(case_id, event_id))

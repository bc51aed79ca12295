"""Children's data at rest: AES-GCM with the case id and event as associated data."""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class Sealer:
    def __init__(self, key_b64: str) -> None:
        if not key_b64:
            raise ValueError("ARCHIVE_DATA_KEY is not set: the archive will not store children's data unencrypted")
        key = base64.b64decode(key_b64)
        if len(key) != 32:
            raise ValueError("ARCHIVE_DATA_KEY must be base64 of exactly 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, aad: bytes) -> bytes:
        return self._aead.decrypt(blob[:12], blob[12:], aad)


def new_key_b64() -> str:
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()

"""Children's data at rest: AES-GCM under a key from configuration, with associated data binding each
ciphertext to its place (case and event, or help request and message)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

UNSEALED_AT_REST = "children's data will not be stored unencrypted"


def load_key(key_b64: str, setting: str, unset: str = UNSEALED_AT_REST) -> bytes:
    """The 32 bytes of a key setting; refused at start-up when missing (`unset` says what is at stake)
    or malformed, rather than handle children's data without it."""
    if not key_b64:
        raise ValueError(f"{setting} is not set: {unset}")
    key = base64.b64decode(key_b64)
    if len(key) != 32:
        raise ValueError(f"{setting} must be base64 of exactly 32 bytes")
    return key


class Sealer:
    def __init__(self, key_b64: str, setting: str = "ARCHIVE_DATA_KEY") -> None:
        key = load_key(key_b64, setting)
        self._aead = AESGCM(key)
        self._mac_key = hmac.new(key, b"antibully-mac-subkey", hashlib.sha256).digest()

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, aad: bytes) -> bytes:
        return self._aead.decrypt(blob[:12], blob[12:], aad)

    def mac(self, label: str, value: str) -> bytes:
        """A keyed hash (HMAC-SHA256 under a subkey): low-entropy secrets stay unguessable offline."""
        return hmac.new(self._mac_key, f"{label}\x1f{value}".encode(), hashlib.sha256).digest()


def new_key_b64() -> str:
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()

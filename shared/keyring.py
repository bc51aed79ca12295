"""Key rings (pure): a key setting holds the current key and, during a rotation, older ones.

    LINK_KEY="<new base64>,<old base64>"      the first key is current: it seals or signs;
                                              every key of the ring still opens or verifies

A single key, what every setting held before rotation existed, is a ring of one, so existing
values keep working. Each key is named by a key id: a short labelled SHA-256 fingerprint of
the key itself, so an operator never has to name keys (nor can name two alike) and the id
reveals nothing about the key. Ciphertexts, tokens and checkpoints carry the id of the key
that made them; an id the ring does not hold is refused, never tried against every key.
Something made before key ids existed carries none: it is the ring's oldest key's (`legacy`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass


def key_id(key: bytes, label: bytes = b"antibully-key-id", length: int = 8) -> str:
    """`length` hex digits of a labelled SHA-256: names a key without revealing it."""
    return hashlib.sha256(label + b"\x1f" + key).hexdigest()[:length]


def decode_key(text: str, setting: str, *, size: int | None = 32, min_size: int = 32) -> bytes:
    """One base64 key; ValueError naming the setting (never the value) when it is not one."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if size is not None and len(raw) != size:
        raise ValueError(f"{setting} must be base64 of exactly {size} bytes (or a comma-separated list of such keys, "
                         "the current one first)")
    if len(raw) < min_size:
        raise ValueError(f"{setting} must be base64 of at least {min_size} bytes (or a comma-separated list of such "
                         "keys, the current one first)")
    return raw


def split(value: str) -> list[str]:
    """The entries of a ring setting, blanks dropped (base64 never contains a comma)."""
    return [part.strip() for part in value.split(",") if part.strip()]


@dataclass(frozen=True)
class KeyRing:
    """The keys of one setting, current first, each with its key id."""

    setting: str
    keys: tuple[tuple[str, bytes], ...]

    @classmethod
    def parse(cls, value: str, setting: str, *, size: int | None = 32, min_size: int = 32,
              label: bytes = b"antibully-key-id", id_length: int = 8) -> KeyRing:
        entries = split(value)
        if not entries:
            raise ValueError(f"{setting} is not set")
        keys = tuple((key_id(raw, label, id_length), raw)
                     for raw in (decode_key(e, setting, size=size, min_size=min_size) for e in entries))
        if len({kid for kid, _ in keys}) != len(keys):
            raise ValueError(f"{setting} lists the same key twice")
        return cls(setting, keys)

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    @property
    def current(self) -> bytes:
        return self.keys[0][1]

    @property
    def legacy(self) -> bytes:
        """The key of anything made before key ids: the oldest key still in the ring."""
        return self.keys[-1][1]

    def get(self, kid: str) -> bytes | None:
        """The key with this id; None for an id this ring does not hold (refuse, never guess)."""
        return next((key for k, key in self.keys if k == kid), None)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(kid for kid, _ in self.keys)

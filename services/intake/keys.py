"""API key format and checks (pure): `ab_<key id>_<secret>`; only a hash of the secret is kept."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

_KEY = re.compile(r"^ab_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewKey:
    key_id: str
    token: str
    secret_sha256: bytes


def new_key() -> NewKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, f"ab_{key_id}_{secret}", hash_secret(secret))


def parse(token: str) -> tuple[str, str] | None:
    m = _KEY.match(token)
    return (m.group(1), m.group(2)) if m else None


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def matches(secret: str, stored: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored)

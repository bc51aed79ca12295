"""Signed identity assertions (pure): the archive vouches for an official, other services check it with
the archive's public key alone, without sharing its database or calling it.

    abi_<key id>.<b64url(claims JSON)>.<b64url(Ed25519 signature over LABEL + the claims JSON bytes)>

The key id names the public key that verifies it (a fingerprint, shared/keyring.py), so intake can hold
the old and the new public key while the archive's IDENTITY_SIGNING_KEY is rotated (IDENTITY_PUBLIC_KEY
is a ring: `new,old`). An assertion from before key ids (`abi_<claims>.<signature>`) is checked with the
ring's oldest key; one naming a key id intake does not hold is refused.

Short-lived (minutes) and bound to one audience, so a leaked assertion is worth little and one meant for
intake is refused by any other service. The label keeps these signatures apart from any other use of a key.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.identity import OfficialRole, StaffTitle
from shared.keyring import KeyRing, key_id

PREFIX = "abi_"
LABEL = b"antibully-identity-v1\n"
KEY_ID_LABEL = b"antibully-identity-key"
MAX_LENGTH = 4096  # far above any real assertion: nothing larger is decoded
SKEW_S = 30  # an assertion issued this far "in the future" (clocks apart) is still accepted


class Claims(BaseModel):
    """Who the archive says the bearer is, for whom (`aud`) and until when (`exp`, Unix seconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sub: str
    name: str
    role: OfficialRole
    title: StaffTitle | None = None
    school_id: str | None = None
    jurisdiction: str
    iat: int
    exp: int
    aud: str


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw32(value_b64: str, error: str) -> bytes:
    try:
        raw = base64.b64decode(value_b64, validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != 32:
        raise ValueError(error)
    return raw


def seed_from_b64(seed_b64: str, setting: str = "IDENTITY_SIGNING_KEY") -> bytes:
    """The 32-byte Ed25519 seed a setting holds in base64; ValueError naming the setting otherwise."""
    return _raw32(seed_b64, f"{setting} must be base64 of exactly 32 bytes (an Ed25519 seed)")


def public_key_from_b64(key_b64: str, setting: str = "IDENTITY_PUBLIC_KEY") -> bytes:
    """The raw 32-byte Ed25519 public key a setting holds in base64."""
    return _raw32(key_b64, f"{setting} must be base64 of a raw 32-byte Ed25519 public key")


def public_keys_from_b64(value: str, setting: str = "IDENTITY_PUBLIC_KEY") -> KeyRing:
    """IDENTITY_PUBLIC_KEY as a ring of raw public keys, the current signer's first."""
    return KeyRing.parse(value, setting, size=32, label=KEY_ID_LABEL)


def public_key_b64(seed_b64: str, setting: str = "IDENTITY_SIGNING_KEY") -> str:
    """The base64 raw public key of an Ed25519 seed given in base64: IDENTITY_PUBLIC_KEY for
    IDENTITY_SIGNING_KEY (what the launcher hands intake), and the checkpoints' key for auditors."""
    key = Ed25519PrivateKey.from_private_bytes(seed_from_b64(seed_b64, setting)).public_key()
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def sign(claims: Claims, seed: bytes) -> str:
    body = claims.model_dump_json().encode()
    private = Ed25519PrivateKey.from_private_bytes(seed)
    kid = key_id(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw), KEY_ID_LABEL)
    return f"{PREFIX}{kid}.{_b64url(body)}.{_b64url(private.sign(LABEL + body))}"


def verify(token: str, public_key: bytes | KeyRing, now: datetime, audience: str) -> Claims | None:
    """The claims of a well-signed, current assertion for `audience`; None for anything else."""
    if not token.startswith(PREFIX) or len(token) > MAX_LENGTH:
        return None
    ring = public_key if isinstance(public_key, KeyRing) else KeyRing(
        "IDENTITY_PUBLIC_KEY", ((key_id(public_key, KEY_ID_LABEL), public_key),))
    parts = token.removeprefix(PREFIX).split(".")
    if len(parts) == 3:
        kid, body_b64, signature_b64 = parts
        key = ring.get(kid)
    elif len(parts) == 2:  # from before key ids: the legacy key
        (body_b64, signature_b64), key = parts, ring.legacy
    else:
        return None
    if key is None:
        return None
    try:
        body, signature = _unb64url(body_b64), _unb64url(signature_b64)
        Ed25519PublicKey.from_public_bytes(key).verify(signature, LABEL + body)
        claims = Claims.model_validate(json.loads(body))
    except (InvalidSignature, ValueError, ValidationError):  # binascii.Error, JSON errors are ValueErrors
        return None
    at = int(now.timestamp())
    if claims.aud != audience or not claims.iat - SKEW_S <= at < claims.exp:
        return None
    return claims

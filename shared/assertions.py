"""Signed identity assertions (pure): the archive vouches for an official, other services check it with
the archive's public key alone, without sharing its database or calling it.

    abi_<b64url(claims JSON)>.<b64url(Ed25519 signature over LABEL + the claims JSON bytes)>

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

PREFIX = "abi_"
LABEL = b"antibully-identity-v1\n"
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


def public_key_b64(seed_b64: str, setting: str = "IDENTITY_SIGNING_KEY") -> str:
    """The base64 raw public key of an Ed25519 seed given in base64: IDENTITY_PUBLIC_KEY for
    IDENTITY_SIGNING_KEY (what the launcher hands intake), and the checkpoints' key for auditors."""
    key = Ed25519PrivateKey.from_private_bytes(seed_from_b64(seed_b64, setting)).public_key()
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def sign(claims: Claims, seed: bytes) -> str:
    body = claims.model_dump_json().encode()
    signature = Ed25519PrivateKey.from_private_bytes(seed).sign(LABEL + body)
    return f"{PREFIX}{_b64url(body)}.{_b64url(signature)}"


def verify(token: str, public_key: bytes, now: datetime, audience: str) -> Claims | None:
    """The claims of a well-signed, current assertion for `audience`; None for anything else."""
    if not token.startswith(PREFIX) or len(token) > MAX_LENGTH:
        return None
    body_b64, dot, signature_b64 = token.removeprefix(PREFIX).partition(".")
    try:
        body, signature = _unb64url(body_b64), _unb64url(signature_b64)
        if not dot:
            return None
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, LABEL + body)
        claims = Claims.model_validate(json.loads(body))
    except (InvalidSignature, ValueError, ValidationError):  # binascii.Error, JSON errors are ValueErrors
        return None
    at = int(now.timestamp())
    if claims.aud != audience or not claims.iat - SKEW_S <= at < claims.exp:
        return None
    return claims

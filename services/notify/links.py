"""Signed, expiring acknowledgement links (pure). The token names the notification and the case
reference only — nothing personal — and an HMAC makes it unforgeable."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LinkClaims:
    notification_id: uuid.UUID
    case_ref: str
    expires_at: int  # unix seconds


class LinkError(ValueError):
    def __init__(self, reason: str) -> None:  # "forged" | "expired"
        super().__init__(reason)
        self.reason = reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Links:
    def __init__(self, key_b64: str) -> None:
        self._key = base64.b64decode(key_b64)
        if len(self._key) < 32:
            raise ValueError("LINK_KEY must be base64 of at least 32 bytes")

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def sign(self, claims: LinkClaims) -> str:
        body = _b64(json.dumps({"n": str(claims.notification_id), "c": claims.case_ref, "e": claims.expires_at},
                               separators=(",", ":")).encode())
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str, now: datetime) -> LinkClaims:
        body, _, mac = token.partition(".")
        if not body or not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            raise LinkError("forged")
        try:
            data = json.loads(_unb64(body))
            claims = LinkClaims(uuid.UUID(data["n"]), str(data["c"]), int(data["e"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise LinkError("forged") from exc
        if now.timestamp() > claims.expires_at:
            raise LinkError("expired")
        return claims

"""Signed, expiring acknowledgement links (pure). The token names the notification and the case
reference only — nothing personal — and an HMAC makes it unforgeable.

    <key id>.<b64url(claims JSON)>.<b64url(HMAC-SHA256 over "<key id>.<claims>")>

LINK_KEY is a key ring (shared/keyring.py): the current key signs, every key of the ring verifies,
so a rotated-out key keeps its links working until LINK_TTL has passed and it is dropped. A token
from before key ids (`<claims>.<mac>`) is checked with the ring's oldest key; one naming a key id
the ring does not hold is refused as forged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from shared.keyring import KeyRing


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
        self._ring = KeyRing.parse(key_b64, "LINK_KEY", size=None, min_size=32)

    @staticmethod
    def _mac(key: bytes, signed: str) -> str:
        return _b64(hmac.new(key, signed.encode(), hashlib.sha256).digest())

    def sign(self, claims: LinkClaims) -> str:
        body = _b64(json.dumps({"n": str(claims.notification_id), "c": claims.case_ref, "e": claims.expires_at},
                               separators=(",", ":")).encode())
        signed = f"{self._ring.current_id}.{body}"
        return f"{signed}.{self._mac(self._ring.current, signed)}"

    def verify(self, token: str, now: datetime) -> LinkClaims:
        parts = token.split(".")
        if len(parts) == 3:  # <kid>.<body>.<mac>
            kid, body, mac = parts
            key, signed = self._ring.get(kid), f"{kid}.{body}"
        elif len(parts) == 2:  # a link from before key ids: the legacy key
            (body, mac), key = parts, self._ring.legacy
            signed = body
        else:
            raise LinkError("forged")
        if key is None or not body or not hmac.compare_digest(mac.encode(), self._mac(key, signed).encode()):
            raise LinkError("forged")
        try:
            data = json.loads(_unb64(body))
            claims = LinkClaims(uuid.UUID(data["n"]), str(data["c"]), int(data["e"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise LinkError("forged") from exc
        if now.timestamp() > claims.expires_at:
            raise LinkError("expired")
        return claims

"""The visitor's session: a sealed cookie, so any console replica can serve any request.

The cookie holds the archive's bearer token (which the archive itself expires after the same
idle time), who the official is, and the purposes stated for the cases opened in this session.
It is sealed (AES-GCM), so the browser can neither read nor alter it.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime

from cryptography.exceptions import InvalidTag

from shared.crypto import Sealer

SESSION_COOKIE = "ab_session"
CSRF_COOKIE = "ab_csrf"
MAX_PURPOSES = 8  # the most recent cases' purposes; an older case asks again


@dataclass
class Session:
    token: str
    account_id: str
    name: str
    role: str
    jurisdiction: str
    school_id: str | None
    title: str | None
    last_seen: float
    purposes: dict[str, str] = field(default_factory=dict)  # case id → the purpose stated for it
    assertion: str = ""        # the archive's identity assertion for intake (staff), reused until near its end
    assertion_until: float = 0.0

    @property
    def is_school(self) -> bool:
        return self.role == "school"

    @property
    def is_bureau(self) -> bool:
        return self.role == "bureau"

    @property
    def is_head(self) -> bool:
        return self.role == "school" and self.title in (None, "head")

    def remember_purpose(self, case_id: str, purpose: str) -> None:
        self.purposes.pop(case_id, None)
        self.purposes[case_id] = purpose
        while len(self.purposes) > MAX_PURPOSES:
            self.purposes.pop(next(iter(self.purposes)))


class SessionCodec:
    def __init__(self, key_b64: str) -> None:
        key_b64 = key_b64 or base64.b64encode(secrets.token_bytes(32)).decode()
        self._sealer = Sealer(key_b64, "CONSOLE_SESSION_KEY")
        self.key_material = base64.b64decode(key_b64)  # the CSRF key is derived from it

    def encode(self, session: Session) -> str:
        blob = self._sealer.seal(json.dumps(asdict(session), ensure_ascii=False).encode(), SESSION_COOKIE.encode())
        return base64.urlsafe_b64encode(blob).decode().rstrip("=")

    def decode(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            blob = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
            return Session(**json.loads(self._sealer.open(blob, SESSION_COOKIE.encode())))
        except (ValueError, TypeError, InvalidTag):
            return None


def idle(session: Session, now: datetime, timeout_s: int) -> bool:
    return now.timestamp() - session.last_seen > timeout_s

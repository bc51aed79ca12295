"""What every page gets: strict headers, no caching, and a CSRF check on every form.

CSRF: each visitor has a random secret in an HttpOnly, SameSite=Lax cookie; every form carries
HMAC(key, secret). A form posted from another site has neither, so it is refused. The secret is
renewed at login, so a token seen before login is worthless after it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.types import ASGIApp, Scope

from shared.http import AnswerHeaders

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
STATIC_HEADERS = [(b"cache-control", b"public, max-age=3600"), (b"x-content-type-options", b"nosniff")]


class SecurityHeaders(AnswerHeaders):
    """Every answer of the console carries the strict headers (ours win); static assets may be cached."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, _headers_for, replace=True)


def _headers_for(scope: Scope) -> list[tuple[bytes, bytes]]:
    return STATIC_HEADERS if str(scope.get("path", "")).startswith("/static/") else HEADERS


class Csrf:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @staticmethod
    def new_secret() -> str:
        return secrets.token_urlsafe(24)

    def token(self, secret: str) -> str:
        return hmac.new(self._key, f"csrf\x1f{secret}".encode(), hashlib.sha256).hexdigest()

    def valid(self, secret: str | None, token: str | None) -> bool:
        # bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500, for a forged form)
        return bool(secret and token) and hmac.compare_digest(self.token(secret or "").encode(),
                                                              (token or "").encode())

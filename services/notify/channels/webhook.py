"""A generic signed webhook, for bureaus and schools with their own systems.

The receiver verifies `X-Antibully-Signature: sha256=HEX(HMAC-SHA256(secret, f"{ts}.{body}"))`
over the exact bytes received, rejects stale timestamps, and deduplicates on `Idempotency-Key`
(the notification id, the same on every retry and provider).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

import httpx

from services.notify.channels._http import raise_for_transient_status, send_request
from services.notify.channels.base import OutboundMessage, PermanentError, SendResult
from services.notify.channels.ratelimit import KeyedBuckets, TokenBucket


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


class Webhook:
    kind = "webhook"
    provider = "webhook"

    def __init__(self, client: httpx.AsyncClient, secret: str, *, limiter: KeyedBuckets | None = None,
                 max_wait_s: float | None = None, clock: Callable[[], float] = time.time) -> None:
        if not secret:
            raise ValueError("a webhook secret is required: receivers must be able to verify us")
        self._client = client
        self._secret = secret
        self._limiter = limiter if limiter is not None else KeyedBuckets(lambda: TokenBucket(5.0, 10))
        self._max_wait_s = max_wait_s
        self._clock = clock

    async def send(self, message: OutboundMessage) -> SendResult:
        url = message.address
        if not url.startswith(("https://", "http://")):
            raise PermanentError("bad_address")
        await self._limiter.acquire(url, self._max_wait_s)
        body = json.dumps({"id": message.idempotency_key, "subject": message.subject, "text": message.text},
                          ensure_ascii=False, separators=(",", ":")).encode()
        ts = int(self._clock())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Antibully-Timestamp": str(ts),
            "X-Antibully-Signature": webhook_signature(self._secret, ts, body),
            "Idempotency-Key": message.idempotency_key,
        }
        response = await send_request(self._client, "POST", url, headers=headers, content=body)
        raise_for_transient_status(response)
        if not response.is_success:
            raise PermanentError(f"http_{response.status_code}")
        return SendResult(self.provider, response.headers.get("x-request-id") or message.idempotency_key)

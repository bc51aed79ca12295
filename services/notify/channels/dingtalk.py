"""DingTalk (钉钉) custom robot in signed mode (加签).

The address is the robot's access_token, optionally followed by ":" and that robot's own
signing secret (SEC...); without one, the configured default secret is used. The sign is
base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")), URL-encoded once, timestamp in ms.
A robot takes 20 messages a minute and is then muted for 10 minutes (errcode 130101).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from urllib.parse import quote_plus

import httpx

from services.notify.channels._http import robot_result, send_request
from services.notify.channels.base import OutboundMessage, PermanentError, SendResult
from services.notify.channels.ratelimit import Limiter
from services.notify.channels.wecom import robot_limiter, robot_text

DEFAULT_BASE = "https://oapi.dingtalk.com"
_TRANSIENT = {130101: 600.0, -1: None}  # 130101: sending too fast (muted 10 min); -1: system busy


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The `sign` query value, already URL-encoded (as DingTalk's own samples do)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


class DingTalkRobot:
    kind = "dingtalk"
    provider = "dingtalk"

    def __init__(self, client: httpx.AsyncClient, *, secret: str = "", base_url: str = DEFAULT_BASE,
                 limiter: Limiter | None = None, max_wait_s: float | None = None,
                 clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self._client = client
        self._secret = secret
        self._url = f"{base_url.rstrip('/')}/robot/send"
        self._limiter = limiter if limiter is not None else robot_limiter()
        self._max_wait_s = max_wait_s
        self._clock_ms = clock_ms

    @staticmethod
    def robot_id(address: str) -> str:
        """What identifies the robot (and its rate limit) in an address: the token, not its secret."""
        return address.partition(":")[0]

    async def send(self, message: OutboundMessage) -> SendResult:
        await self._limiter.acquire(self.robot_id(message.address), self._max_wait_s)
        return await self.post(message)

    async def post(self, message: OutboundMessage) -> SendResult:
        """Send without our own rate limit (the caller took the robot's token)."""
        token, _, secret = message.address.partition(":")
        secret = secret or self._secret
        if not secret:
            raise PermanentError("no_secret")
        ts = self._clock_ms()
        url = f"{self._url}?access_token={quote_plus(token)}&timestamp={ts}&sign={dingtalk_sign(secret, ts)}"
        body = {"msgtype": "text", "text": {"content": robot_text(message)}}
        response = await send_request(self._client, "POST", url, json=body)
        return robot_result(response, self.provider, message.idempotency_key, _TRANSIENT)

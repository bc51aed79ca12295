"""WeCom (企业微信) group robot: a webhook keyed per robot; the address is the robot's key.

A robot takes 20 messages a minute; beyond that it answers 45009. We pace each robot
with its own bucket so that answer stays rare, and treat it as transient when it comes.
"""

from __future__ import annotations

import httpx

from services.notify.channels._http import robot_result, send_request, truncate_utf8
from services.notify.channels.base import OutboundMessage, SendResult
from services.notify.channels.ratelimit import KeyedBuckets, Limiter, TokenBucket

DEFAULT_BASE = "https://qyapi.weixin.qq.com"
TEXT_MAX_BYTES = 2048  # WeCom's limit for a text message's content
_TRANSIENT = {45009: 60.0, -1: None}  # 45009: over the per-robot rate; -1: system busy


def robot_limiter(per_minute: int = 20, window_s: float = 60.0) -> KeyedBuckets:
    """In one process only (tests, tools): notify itself shares the robot's limit across replicas (limits.py)."""
    return KeyedBuckets(lambda: TokenBucket.per_window(per_minute, window_s))


def robot_text(message: OutboundMessage) -> str:
    return f"{message.subject}\n\n{message.text}" if message.subject else message.text


class WeComRobot:
    kind = "wecom"
    provider = "wecom"

    def __init__(self, client: httpx.AsyncClient, *, base_url: str = DEFAULT_BASE,
                 limiter: Limiter | None = None, max_wait_s: float | None = None) -> None:
        self._client = client
        self._url = f"{base_url.rstrip('/')}/cgi-bin/webhook/send"
        self._limiter = limiter if limiter is not None else robot_limiter()
        self._max_wait_s = max_wait_s

    @staticmethod
    def robot_id(address: str) -> str:
        """What identifies the robot (and its rate limit) in an address."""
        return address

    async def send(self, message: OutboundMessage) -> SendResult:
        await self._limiter.acquire(message.address, self._max_wait_s)
        return await self.post(message)

    async def post(self, message: OutboundMessage) -> SendResult:
        """Send without our own rate limit (the caller took the robot's token)."""
        key = message.address
        body = {"msgtype": "text", "text": {"content": truncate_utf8(robot_text(message), TEXT_MAX_BYTES)}}
        response = await send_request(self._client, "POST", self._url, params={"key": key}, json=body)
        return robot_result(response, self.provider, message.idempotency_key, _TRANSIENT)

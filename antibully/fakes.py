"""Fake SMS providers, robots and a webhook receiver on one loopback HTTP server.

Each route checks what the real service checks, with its own implementation of the
signature (not the one under test): Aliyun's POP signature from the received query,
Tencent's TC3 from the received headers and body, DingTalk's sign, our webhook HMAC. It
records what it accepted and can be told to fail the next requests in a provider's own way.

Both SMS fakes take batches as the providers do (Aliyun `SendBatchSms`, Tencent's `SendSms` with
up to 200 numbers). Latency and the providers' documented limits (antibully/fake_limits.py) are
off unless asked for; the counters (`robot_messages`, `batch_sizes`, `refusals`) let tests and
benchmarks see what the limits did.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from antibully.fake_limits import REALISTIC_LATENCY_MS, FakeLimits, Window
from antibully.fake_sms import FAULTS, Accepted, FakeSms
from antibully.infra import free_port
from shared.http import serve

__all__ = ["FAULTS", "Accepted", "FakeProviders", "FakeProvidersThread", "running_fakes"]


@dataclass
class FakeProviders(FakeSms):
    @classmethod
    def realistic(cls, **kwargs: Any) -> FakeProviders:
        """Latency (SMS 50-150 ms, robots 60 ms, webhooks 20 ms) and the documented limits."""
        return cls(**{"latency_ms": dict(REALISTIC_LATENCY_MS), "limits": FakeLimits(), **kwargs})

    def env(self) -> dict[str, str]:
        """The settings (as environment variables) that point notify's channels at these fakes."""
        base = self.base_url
        ding_secret = next(iter(self.dingtalk_robots.values()), "")
        return {
            "ALIYUN_SMS_ENDPOINT": f"{base}/aliyun/", "ALIYUN_ACCESS_KEY_ID": next(iter(self.aliyun_keys)),
            "ALIYUN_ACCESS_KEY_SECRET": next(iter(self.aliyun_keys.values())), "ALIYUN_SMS_SIGN_NAME": "乐昌教育",
            "ALIYUN_SMS_TEMPLATE": next(iter(self.aliyun_templates)),
            "TENCENT_SMS_ENDPOINT": f"{base}/tencent/", "TENCENT_SECRET_ID": next(iter(self.tencent_keys)),
            "TENCENT_SECRET_KEY": next(iter(self.tencent_keys.values())), "TENCENT_SMS_APP_ID": self.tencent_app_id,
            "TENCENT_SMS_SIGN_NAME": "乐昌教育", "TENCENT_SMS_TEMPLATE_ID": "2000001",
            "WECOM_WEBHOOK_BASE": f"{base}/wecom", "DINGTALK_WEBHOOK_BASE": f"{base}/dingtalk",
            "DINGTALK_SECRET": ding_secret, "WEBHOOK_SECRET": self.webhook_secret,
        }

    def _robot_over(self, provider: str, robot: str) -> bool:
        """A robot past its messages a minute (and DingTalk's penalty after that)."""
        if self.limits is None:
            return False
        key = f"{provider}:{robot}"
        if time.monotonic() < self._penalty_until.get(key, 0.0):
            return True
        if self._windows.full(key, (Window(60, self.limits.robot_per_minute, "minute"),)):
            if provider == "dingtalk":
                self._penalty_until[key] = time.monotonic() + self.limits.dingtalk_penalty_s
            return True
        self._windows.add(key)
        return False

    def app(self) -> FastAPI:
        app = FastAPI()
        app.add_api_route("/aliyun/", self.aliyun, methods=["GET", "POST"])
        app.add_api_route("/tencent/", self.tencent, methods=["POST"])
        app.add_api_route("/wecom/cgi-bin/webhook/send", self.wecom, methods=["POST"])
        app.add_api_route("/dingtalk/robot/send", self.dingtalk, methods=["POST"])
        app.add_api_route("/hook/{name}", self.webhook, methods=["POST"])
        return app

    # --- WeCom group robot --------------------------------------------------------------------

    async def wecom(self, request: Request) -> Response:
        fault = await self._fault("wecom")
        if fault == "http500":
            return PlainTextResponse("busy", status_code=503, headers={"Retry-After": "2"})
        key = request.query_params.get("key", "")
        if key not in self.wecom_keys:
            return JSONResponse({"errcode": 93000, "errmsg": "invalid webhook url"})
        payload = await request.json()
        content = payload.get("text", {}).get("content")
        if payload.get("msgtype") != "text" or not isinstance(content, str) or len(content.encode()) > 2048:
            return JSONResponse({"errcode": 40008, "errmsg": "invalid message type"})
        if fault == "throttle":
            return JSONResponse({"errcode": 45009, "errmsg": "api freq out of limit"})
        if fault == "permanent":
            return JSONResponse({"errcode": 93000, "errmsg": "invalid webhook url"})
        if self._robot_over("wecom", key):
            self._refused("errcode_45009")
            return JSONResponse({"errcode": 45009, "errmsg": "api freq out of limit"})
        self.robot_messages[key] += 1
        self._accept(Accepted("wecom", key, "", payload))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    # --- DingTalk robot, signed mode ----------------------------------------------------------

    async def dingtalk(self, request: Request) -> Response:
        fault = await self._fault("dingtalk")
        if fault == "http500":
            return PlainTextResponse("busy", status_code=500)
        q = request.query_params
        secret = self.dingtalk_robots.get(q.get("access_token", ""))
        if secret is None:
            return JSONResponse({"errcode": 300001, "errmsg": "token is not exist"})
        ts = q.get("timestamp", "0")
        digest = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
        if abs(time.time() * 1000 - int(ts)) > 3600_000 or not hmac.compare_digest(
                base64.b64encode(digest).decode(), q.get("sign", "")):
            return JSONResponse({"errcode": 310000, "errmsg": "sign not match"})
        payload = await request.json()
        if payload.get("msgtype") != "text" or not isinstance(payload.get("text", {}).get("content"), str):
            return JSONResponse({"errcode": 40035, "errmsg": "missing parameter"})
        if fault == "throttle":
            return JSONResponse({"errcode": 130101, "errmsg": "send too fast"})
        if fault == "permanent":
            return JSONResponse({"errcode": 310000, "errmsg": "keywords not in content"})
        if self._robot_over("dingtalk", q["access_token"]):
            self._refused("errcode_130101")
            return JSONResponse({"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"})
        self.robot_messages[q["access_token"]] += 1
        self._accept(Accepted("dingtalk", q["access_token"], "", payload))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    # --- A receiver of our signed webhook ------------------------------------------------------

    async def webhook(self, name: str, request: Request) -> Response:
        fault = await self._fault("webhook")
        if fault == "http500":
            return PlainTextResponse("down", status_code=503)
        if fault == "throttle":
            return PlainTextResponse("slow down", status_code=429, headers={"Retry-After": "7"})
        if fault == "permanent":
            return PlainTextResponse("gone", status_code=404)
        body = await request.body()
        ts = request.headers.get("x-antibully-timestamp", "")
        key = request.headers.get("idempotency-key", "")
        mac = "sha256=" + hmac.new(self.webhook_secret.encode(), ts.encode() + b"." + body, "sha256").hexdigest()
        if not ts.isdigit() or abs(time.time() - int(ts)) > 300 or not hmac.compare_digest(
                mac, request.headers.get("x-antibully-signature", "")):
            return PlainTextResponse("bad signature", status_code=401)
        payload = json.loads(body)
        if not key or payload.get("id") != key:
            return PlainTextResponse("idempotency key required", status_code=400)
        if key not in self._hook_keys:  # a well-behaved receiver acts once per key
            self._hook_keys.add(key)
            self._accept(Accepted("webhook", f"{self.base_url}/hook/{name}", key, payload))
        return JSONResponse({"ok": True}, headers={"X-Request-Id": f"hook-{self.accepted_count.total()}"})


@asynccontextmanager
async def running_fakes(fakes: FakeProviders | None = None, port: int | None = None) -> AsyncIterator[FakeProviders]:
    """All fakes on one loopback port (a free one unless given), stopped on exit."""
    fakes = fakes or FakeProviders()
    port = port or free_port()
    fakes.base_url = f"http://127.0.0.1:{port}"
    async with serve(fakes.app(), "127.0.0.1", port):
        yield fakes


class FakeProvidersThread:
    """The fakes on their own event loop in a thread, for `make run` (which is not async)."""

    def __init__(self, fakes: FakeProviders, port: int) -> None:
        self.fakes = fakes
        self.port = port
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="fake-providers",
                                        daemon=True)

    async def _main(self) -> None:
        async with running_fakes(self.fakes, self.port):
            self._ready.set()
            await asyncio.to_thread(self._stop.wait)

    def start(self) -> FakeProvidersThread:
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the fake providers did not start")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

"""Fake SMS providers, robots and a webhook receiver on one loopback HTTP server.

Each route checks what the real service checks, with its own implementation of the
signature (not the one under test): Aliyun's POP signature from the received query,
Tencent's TC3 from the received headers and body, DingTalk's sign, our webhook HMAC. It
records what it accepted and can be told to fail the next requests in a provider's own way.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from typing import Any
from urllib.parse import quote_plus

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from antibully.infra import free_port
from shared.http import serve

FAULTS = ("http500", "throttle", "permanent")


@dataclass
class Accepted:
    provider: str
    address: str
    idempotency_key: str
    payload: dict[str, Any]


@dataclass
class FakeProviders:
    aliyun_keys: dict[str, str] = field(default_factory=lambda: {"LTAI-test": "aliyun-secret"})
    aliyun_templates: set[str] = field(default_factory=lambda: {"SMS_100001"})
    tencent_keys: dict[str, str] = field(default_factory=lambda: {"AKID-test": "tencent-secret"})
    tencent_app_id: str = "1400000001"
    wecom_keys: set[str] = field(default_factory=lambda: {"wecom-robot-1", "wecom-robot-2"})
    dingtalk_robots: dict[str, str] = field(default_factory=lambda: {"ding-token-1": "SECding-secret"})
    webhook_secret: str = "hook-secret"
    accepted: list[Accepted] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    base_url: str = ""
    on_accept: Callable[[Accepted], None] | None = None
    _faults: dict[str, list[str]] = field(default_factory=dict)
    _nonces: set[str] = field(default_factory=set)
    _hook_keys: set[str] = field(default_factory=set)

    def fail_next(self, provider: str, n: int, mode: str) -> None:
        """The next `n` requests to `provider` fail as `mode` (http500 | throttle | permanent)."""
        assert mode in FAULTS
        self._faults.setdefault(provider, []).extend([mode] * n)

    def _accept(self, accepted: Accepted) -> None:
        self.accepted.append(accepted)
        if self.on_accept is not None:
            self.on_accept(accepted)

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

    def accepted_by(self, provider: str) -> list[Accepted]:
        return [a for a in self.accepted if a.provider == provider]

    def _fault(self, provider: str) -> str | None:
        self.requests[provider] = self.requests.get(provider, 0) + 1
        queue = self._faults.get(provider)
        return queue.pop(0) if queue else None

    def app(self) -> FastAPI:
        app = FastAPI()
        app.add_api_route("/aliyun/", self.aliyun, methods=["GET"])
        app.add_api_route("/tencent/", self.tencent, methods=["POST"])
        app.add_api_route("/wecom/cgi-bin/webhook/send", self.wecom, methods=["POST"])
        app.add_api_route("/dingtalk/robot/send", self.dingtalk, methods=["POST"])
        app.add_api_route("/hook/{name}", self.webhook, methods=["POST"])
        return app

    # --- Aliyun SMS (RPC, POP signature v1.0) -------------------------------------------------

    async def aliyun(self, request: Request) -> Response:
        fault = self._fault("aliyun")
        if fault == "http500":
            return PlainTextResponse("upstream trouble", status_code=500)
        params = dict(request.query_params.multi_items())
        signature = params.pop("Signature", "")
        fixed = {"Action": "SendSms", "Version": "2017-05-25", "SignatureMethod": "HMAC-SHA1",
                 "SignatureVersion": "1.0", "Format": "JSON"}
        if any(params.get(k) != v for k, v in fixed.items()):
            return _aliyun_error(400, "MissingParameter")
        secret = self.aliyun_keys.get(params.get("AccessKeyId", ""))
        if secret is None:
            return _aliyun_error(404, "InvalidAccessKeyId.NotFound")

        def enc(s: str) -> str:  # the spec's recipe: form-encode, then fix +, * and ~
            return quote_plus(s, safe="", encoding="utf-8").replace("+", "%20").replace("*", "%2A").replace(
                "%7E", "~")

        canonical = "&".join(enc(k) + "=" + enc(params[k]) for k in sorted(params))
        to_sign = "GET&" + enc("/") + "&" + enc(canonical)
        expected = base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(), "sha1").digest()).decode()
        if not hmac.compare_digest(expected, signature):
            return _aliyun_error(400, "SignatureDoesNotMatch")
        stamp = datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs((datetime.now(UTC) - stamp).total_seconds()) > 900:
            return _aliyun_error(400, "InvalidTimeStamp.Expired")
        if params["SignatureNonce"] in self._nonces:
            return _aliyun_error(400, "SignatureNonceUsed")
        self._nonces.add(params["SignatureNonce"])
        if not params.get("SignName"):
            return _aliyun_error(200, "isv.SMS_SIGNATURE_ILLEGAL")
        if params.get("TemplateCode") not in self.aliyun_templates:
            return _aliyun_error(200, "isv.SMS_TEMPLATE_ILLEGAL")
        if not isinstance(json.loads(params.get("TemplateParam", "null")), dict):
            return _aliyun_error(200, "isv.INVALID_JSON_PARAM")
        if fault == "throttle":
            return _aliyun_error(200, "isv.BUSINESS_LIMIT_CONTROL")
        if fault == "permanent" or not re.fullmatch(r"1\d{10}", params.get("PhoneNumbers", "")):
            return _aliyun_error(200, "isv.MOBILE_NUMBER_ILLEGAL")
        self._accept(Accepted("aliyun", params["PhoneNumbers"], params.get("OutId", ""), params))
        return JSONResponse({"Code": "OK", "Message": "OK", "BizId": f"biz-{len(self.accepted)}",
                             "RequestId": str(uuid.uuid4())})

    # --- Tencent Cloud SMS (API 3.0, TC3-HMAC-SHA256) -----------------------------------------

    async def tencent(self, request: Request) -> Response:
        fault = self._fault("tencent")
        if fault == "http500":
            return PlainTextResponse("bad gateway", status_code=502)
        body = await request.body()
        h = request.headers
        m = re.fullmatch(r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/sms/tc3_request, "
                         r"SignedHeaders=content-type;host, Signature=([0-9a-f]{64})", h.get("authorization", ""))
        if m is None:
            return _tencent_error("AuthFailure.InvalidAuthorization")
        secret_id, date, signature = m.groups()
        if (h.get("x-tc-action"), h.get("x-tc-version")) != ("SendSms", "2021-01-11") or not h.get("x-tc-region"):
            return _tencent_error("InvalidAction")
        secret = self.tencent_keys.get(secret_id)
        if secret is None:
            return _tencent_error("AuthFailure.SecretIdNotFound")
        ts = int(h.get("x-tc-timestamp", "0"))
        if abs(time.time() - ts) > 300 or datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d") != date:
            return _tencent_error("AuthFailure.SignatureExpire")
        canonical = (f"POST\n/\n\ncontent-type:{h.get('content-type', '')}\nhost:{h.get('host', '')}\n\n"
                     f"content-type;host\n{hashlib.sha256(body).hexdigest()}")
        to_sign = f"TC3-HMAC-SHA256\n{ts}\n{date}/sms/tc3_request\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = reduce(lambda k, part: hmac.new(k, part.encode(), hashlib.sha256).digest(),
                     [date, "sms", "tc3_request"], ("TC3" + secret).encode())
        if not hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), signature):
            return _tencent_error("AuthFailure.SignatureFailure")
        payload = json.loads(body)
        if payload.get("SmsSdkAppId") != self.tencent_app_id:
            return _tencent_error("InvalidParameterValue.SdkAppIdNotExist")
        if not (payload.get("SignName") and payload.get("TemplateId")
                and all(isinstance(p, str) for p in payload.get("TemplateParamSet", [None]))):
            return _tencent_error("InvalidParameterValue.TemplateParameterFormatError")
        phones = payload.get("PhoneNumberSet")
        if fault == "throttle":
            return _tencent_status(payload, "LimitExceeded.PhoneNumberOneHourLimit")
        if fault == "permanent" or not (isinstance(phones, list) and len(phones) == 1
                                        and re.fullmatch(r"\+861\d{10}", phones[0])):
            return _tencent_status(payload, "InvalidParameterValue.IncorrectPhoneNumber")
        self._accept(Accepted("tencent", phones[0], payload.get("SessionContext", ""), payload))
        return _tencent_status(payload, "Ok", serial=f"serial-{len(self.accepted)}")

    # --- WeCom group robot --------------------------------------------------------------------

    async def wecom(self, request: Request) -> Response:
        fault = self._fault("wecom")
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
        self._accept(Accepted("wecom", key, "", payload))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    # --- DingTalk robot, signed mode ----------------------------------------------------------

    async def dingtalk(self, request: Request) -> Response:
        fault = self._fault("dingtalk")
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
        self._accept(Accepted("dingtalk", q["access_token"], "", payload))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    # --- A receiver of our signed webhook ------------------------------------------------------

    async def webhook(self, name: str, request: Request) -> Response:
        fault = self._fault("webhook")
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
        return JSONResponse({"ok": True}, headers={"X-Request-Id": f"hook-{len(self.accepted)}"})


def _aliyun_error(status: int, code: str) -> JSONResponse:
    return JSONResponse({"Code": code, "Message": "fake", "RequestId": str(uuid.uuid4())}, status_code=status)


def _tencent_error(code: str) -> JSONResponse:
    return JSONResponse({"Response": {"Error": {"Code": code, "Message": "fake"}, "RequestId": str(uuid.uuid4())}})


def _tencent_status(payload: dict[str, Any], code: str, serial: str = "") -> JSONResponse:
    phones = payload.get("PhoneNumberSet") or [""]
    return JSONResponse({"Response": {"SendStatusSet": [{
        "SerialNo": serial, "PhoneNumber": phones[0], "Fee": 1 if code == "Ok" else 0,
        "SessionContext": payload.get("SessionContext", ""), "Code": code, "Message": "fake", "IsoCode": "CN",
    }], "RequestId": str(uuid.uuid4())}})


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

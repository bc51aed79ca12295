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
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from typing import Any
from urllib.parse import quote_plus

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from antibully.fake_limits import (
    REALISTIC_LATENCY_MS,
    FakeLimits,
    Window,
    Windows,
    delay_s,
    latency_from_env,
    limits_from_env,
)
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
    latency_ms: dict[str, tuple[float, float]] = field(default_factory=latency_from_env)
    limits: FakeLimits | None = field(default_factory=limits_from_env)
    robot_messages: Counter[str] = field(default_factory=Counter)  # accepted per robot key/token
    batch_sizes: list[tuple[str, int]] = field(default_factory=list)  # (provider, numbers) per accepted call
    refusals: Counter[str] = field(default_factory=Counter)  # per code of a limit's refusal
    _windows: Windows = field(default_factory=Windows)
    _penalty_until: dict[str, float] = field(default_factory=dict)
    _faults: dict[str, list[str]] = field(default_factory=dict)
    _nonces: set[str] = field(default_factory=set)
    _hook_keys: set[str] = field(default_factory=set)

    @classmethod
    def realistic(cls, **kwargs: Any) -> FakeProviders:
        """Latency (SMS 50-150 ms, robots 60 ms, webhooks 20 ms) and the documented limits."""
        return cls(**{"latency_ms": dict(REALISTIC_LATENCY_MS), "limits": FakeLimits(), **kwargs})

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

    async def _fault(self, provider: str) -> str | None:
        """Count the request, wait the provider's latency, and say which injected fault applies."""
        self.requests[provider] = self.requests.get(provider, 0) + 1
        if wait := delay_s(self.latency_ms, provider):
            await asyncio.sleep(wait)
        queue = self._faults.get(provider)
        return queue.pop(0) if queue else None

    def _over_qps(self, provider: str) -> bool:
        qps = self.limits.qps.get(provider) if self.limits else None
        if not qps:
            return False
        window = (Window(1.0, qps, "qps"),)
        if self._windows.full(("qps", provider), window):
            return True
        self._windows.add(("qps", provider))
        return False

    def _refused(self, code: str) -> str:
        self.refusals[code] += 1
        return code

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
        app.add_api_route("/aliyun/", self.aliyun, methods=["GET"])
        app.add_api_route("/tencent/", self.tencent, methods=["POST"])
        app.add_api_route("/wecom/cgi-bin/webhook/send", self.wecom, methods=["POST"])
        app.add_api_route("/dingtalk/robot/send", self.dingtalk, methods=["POST"])
        app.add_api_route("/hook/{name}", self.webhook, methods=["POST"])
        return app

    # --- Aliyun SMS (RPC, POP signature v1.0) -------------------------------------------------

    async def aliyun(self, request: Request) -> Response:
        fault = await self._fault("aliyun")
        if fault == "http500":
            return PlainTextResponse("upstream trouble", status_code=500)
        params = dict(request.query_params.multi_items())
        signature = params.pop("Signature", "")
        fixed = {"Version": "2017-05-25", "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "Format": "JSON"}
        if params.get("Action") not in ("SendSms", "SendBatchSms") or any(params.get(k) != v for k, v in fixed.items()):
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
        if self._over_qps("aliyun"):
            return _aliyun_error(400, self._refused("Throttling.User"))
        parsed = _aliyun_numbers(params)
        if isinstance(parsed, str):
            return _aliyun_error(200, parsed)
        phones, signs, template_params = parsed
        if not all(signs):
            return _aliyun_error(200, "isv.SMS_SIGNATURE_ILLEGAL")
        if params.get("TemplateCode") not in self.aliyun_templates:
            return _aliyun_error(200, "isv.SMS_TEMPLATE_ILLEGAL")
        if not all(isinstance(p, dict) for p in template_params):
            return _aliyun_error(200, "isv.INVALID_JSON_PARAM")
        if fault == "throttle":
            return _aliyun_error(200, "isv.BUSINESS_LIMIT_CONTROL")
        if fault == "permanent" or not all(re.fullmatch(r"1\d{10}", p) for p in phones):
            return _aliyun_error(200, "isv.MOBILE_NUMBER_ILLEGAL")
        if self.limits is not None:  # a call with a number over its limit is refused as a whole
            for phone in phones:
                if over := self._windows.full(("aliyun", phone), self.limits.aliyun_per_number):
                    return _aliyun_error(200, self._refused("isv.BUSINESS_LIMIT_CONTROL"),
                                         f"触发{over.name}流控Permits:{over.count}")
            for phone in phones:
                self._windows.add(("aliyun", phone))
        for phone, template_param in zip(phones, template_params, strict=True):
            self._accept(Accepted("aliyun", phone, params.get("OutId", ""),
                                  {**params, "TemplateParam": json.dumps(template_param, ensure_ascii=False)}))
        self.batch_sizes.append(("aliyun", len(phones)))
        return JSONResponse({"Code": "OK", "Message": "OK", "BizId": f"biz-{len(self.accepted)}",
                             "RequestId": str(uuid.uuid4())})

    # --- Tencent Cloud SMS (API 3.0, TC3-HMAC-SHA256) -----------------------------------------

    async def tencent(self, request: Request) -> Response:
        fault = await self._fault("tencent")
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
        if not (isinstance(phones, list) and 1 <= len(phones) <= 200 and all(isinstance(p, str) for p in phones)):
            return _tencent_error("LimitExceeded.PhoneNumberCountLimit" if isinstance(phones, list) and phones
                                  else "MissingParameter")
        if self._over_qps("tencent"):
            return _tencent_error(self._refused("RequestLimitExceeded"))
        statuses = []
        accepted = 0
        for phone in phones:
            code = self._tencent_number(payload, phone, fault)
            serial = ""
            if code == "Ok":
                self._accept(Accepted("tencent", phone, payload.get("SessionContext", ""), payload))
                serial, accepted = f"serial-{len(self.accepted)}", accepted + 1
            statuses.append(_tencent_one(payload, phone, code, serial))
        if accepted:
            self.batch_sizes.append(("tencent", accepted))
        return JSONResponse({"Response": {"SendStatusSet": statuses, "RequestId": str(uuid.uuid4())}})

    def _tencent_number(self, payload: dict[str, Any], phone: str, fault: str | None) -> str:
        """The code for one number of a SendSms: Ok, a bad number, or a frequency limit."""
        if fault == "throttle":
            return "LimitExceeded.PhoneNumberOneHourLimit"
        if fault == "permanent" or not re.fullmatch(r"\+861\d{10}", phone):
            return "InvalidParameterValue.IncorrectPhoneNumber"
        if self.limits is None:
            return "Ok"
        content = (payload.get("TemplateId"), tuple(payload.get("TemplateParamSet", [])))
        over = (self._windows.full(("tencent", phone, content), self.limits.tencent_same_content)
                or self._windows.full(("tencent", phone), self.limits.tencent_per_number))
        if over:
            return self._refused(over.name)
        self._windows.add(("tencent", phone, content))
        self._windows.add(("tencent", phone))
        return "Ok"

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
        return JSONResponse({"ok": True}, headers={"X-Request-Id": f"hook-{len(self.accepted)}"})


def _aliyun_error(status: int, code: str, message: str = "fake") -> JSONResponse:
    return JSONResponse({"Code": code, "Message": message, "RequestId": str(uuid.uuid4())}, status_code=status)


def _aliyun_numbers(params: dict[str, str]) -> tuple[list[str], list[str], list[Any]] | str:
    """(numbers, sign names, template parameters) of SendSms or SendBatchSms, or the error code."""
    if params["Action"] == "SendSms":
        try:
            template_param = json.loads(params.get("TemplateParam", "null"))
        except json.JSONDecodeError:
            return "isv.INVALID_JSON_PARAM"
        return [params.get("PhoneNumbers", "")], [params.get("SignName", "")], [template_param]
    try:
        phones, signs, template_params = (json.loads(params.get(k, "null")) for k in (
            "PhoneNumberJson", "SignNameJson", "TemplateParamJson"))
    except json.JSONDecodeError:
        return "isv.INVALID_JSON_PARAM"
    if not (isinstance(phones, list) and isinstance(signs, list) and isinstance(template_params, list)):
        return "isv.INVALID_JSON_PARAM"
    if not 1 <= len(phones) <= 100:
        return "isv.MOBILE_COUNT_OVER_LIMIT"
    if not len(phones) == len(signs) == len(template_params):
        return "isv.INVALID_PARAMETERS"
    return [str(p) for p in phones], [str(s) for s in signs], template_params


def _tencent_error(code: str) -> JSONResponse:
    return JSONResponse({"Response": {"Error": {"Code": code, "Message": "fake"}, "RequestId": str(uuid.uuid4())}})


def _tencent_one(payload: dict[str, Any], phone: str, code: str, serial: str) -> dict[str, Any]:
    return {"SerialNo": serial, "PhoneNumber": phone, "Fee": 1 if code == "Ok" else 0,
            "SessionContext": payload.get("SessionContext", ""), "Code": code, "Message": "fake", "IsoCode": "CN"}


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

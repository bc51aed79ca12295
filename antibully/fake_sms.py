"""The SMS half of the fakes (antibully/fakes.py): Aliyun SendSms/SendBatchSms and Tencent SendSms,
each checking its provider's signature with its own implementation, and the state all fakes share.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from typing import Any
from urllib.parse import parse_qsl, quote_plus

from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from antibully.fake_limits import FakeLimits, Window, Windows, delay_s, latency_from_env, limits_from_env

FAULTS = ("http500", "throttle", "permanent")


@dataclass
class Accepted:
    provider: str
    address: str
    idempotency_key: str
    payload: dict[str, Any]
    provider_id: str = ""  # what the provider answered for it (Aliyun's BizId of the call)


@dataclass
class FakeBase:
    """What every fake keeps: credentials, what was accepted, injected faults, limits and counters."""

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
    accepted_count: Counter[str] = field(default_factory=Counter)  # per provider, kept or not
    keep_accepted: bool = True  # False: count only (a benchmark of 200,000 letters)
    _windows: Windows = field(default_factory=Windows)
    _penalty_until: dict[str, float] = field(default_factory=dict)
    _faults: dict[str, list[str]] = field(default_factory=dict)
    _nonces: set[str] = field(default_factory=set)
    _hook_keys: set[str] = field(default_factory=set)

    def fail_next(self, provider: str, n: int, mode: str) -> None:
        """The next `n` requests to `provider` fail as `mode` (http500 | throttle | permanent)."""
        assert mode in FAULTS
        self._faults.setdefault(provider, []).extend([mode] * n)

    def _accept(self, accepted: Accepted) -> None:
        self.accepted_count[accepted.provider] += 1
        if self.keep_accepted:
            self.accepted.append(accepted)
        if self.on_accept is not None:
            self.on_accept(accepted)

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


@dataclass
class FakeSms(FakeBase):
    # --- Aliyun SMS (RPC, POP signature v1.0) -------------------------------------------------

    async def aliyun(self, request: Request) -> Response:
        fault = await self._fault("aliyun")
        if fault == "http500":
            return PlainTextResponse("upstream trouble", status_code=500)
        if request.method == "POST":  # a form body, signed for POST
            params = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        else:
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
        to_sign = request.method + "&" + enc("/") + "&" + enc(canonical)
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
        biz_id = f"biz-{self.accepted_count.total() + len(phones)}"
        for phone, template_param in zip(phones, template_params, strict=True):
            self._accept(Accepted("aliyun", phone, params.get("OutId", ""),
                                  {**params, "TemplateParam": json.dumps(template_param, ensure_ascii=False)}, biz_id))
        self.batch_sizes.append(("aliyun", len(phones)))
        return JSONResponse({"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": str(uuid.uuid4())})

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
                serial, accepted = f"serial-{self.accepted_count.total()}", accepted + 1
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



"""Tencent Cloud SMS `SendSms` (API 3.0, version 2021-01-11), signed with TC3-HMAC-SHA256.

Reference: Tencent Cloud "Signature v3". The signed headers are content-type and host; the
host signed is the one sent, so a configurable endpoint (a fake, a proxy) signs correctly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from services.notify.channels._http import json_object, raise_for_transient_status, send_request
from services.notify.channels.base import OutboundMessage, PermanentError, SendResult, TransientError
from services.notify.channels.ratelimit import TokenBucket

DEFAULT_ENDPOINT = "https://sms.tencentcloudapi.com/"
API_VERSION = "2021-01-11"
SERVICE = "sms"
CONTENT_TYPE = "application/json; charset=utf-8"
_TRANSIENT_PREFIXES = ("LimitExceeded", "RequestLimitExceeded", "InternalError", "ResourceUnavailable")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_signature(secret_key: str, host: str, body: bytes, timestamp: int, service: str = SERVICE) -> str:
    """Hex signature over the canonical POST request (signed headers: content-type;host)."""
    canonical_request = "\n".join([
        "POST", "/", "", f"content-type:{CONTENT_TYPE}\nhost:{host}\n", "content-type;host",
        hashlib.sha256(body).hexdigest(),
    ])
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    string_to_sign = "\n".join([
        "TC3-HMAC-SHA256", str(timestamp), f"{date}/{service}/tc3_request",
        hashlib.sha256(canonical_request.encode()).hexdigest(),
    ])
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def tencent_phone(number: str) -> str:
    """E.164 with '+'; a bare 11-digit mainland mobile number gets +86."""
    number = number.strip().replace(" ", "")
    if number.startswith("+"):
        return number
    if len(number) == 11 and number.startswith("1"):
        return f"+86{number}"
    return f"+{number}"


def classify(code: str) -> TransientError | PermanentError:
    if code.startswith(_TRANSIENT_PREFIXES):
        return TransientError(code)
    return PermanentError(code)


class TencentSms:
    kind = "sms"
    provider = "tencent"

    def __init__(self, client: httpx.AsyncClient, secret_id: str, secret_key: str, sdk_app_id: str, sign_name: str,
                 templates: Mapping[str, str], *, endpoint: str = DEFAULT_ENDPOINT, region: str = "ap-guangzhou",
                 limiter: TokenBucket | None = None, max_wait_s: float | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._secret_id = secret_id
        self._secret_key = secret_key
        self._app_id = sdk_app_id
        self._sign_name = sign_name
        self._templates = dict(templates)
        self._endpoint = endpoint
        self._host = httpx.URL(endpoint).netloc.decode()
        self._region = region
        self._limiter = limiter
        self._max_wait_s = max_wait_s
        self._clock = clock

    def signed_request(self, message: OutboundMessage) -> tuple[dict[str, str], bytes]:
        template = self._templates.get(message.sms_template)
        if template is None:
            raise PermanentError("template_unmapped")
        body = json.dumps({
            "PhoneNumberSet": [tencent_phone(message.address)],
            "SmsSdkAppId": self._app_id,
            "SignName": self._sign_name,
            "TemplateId": template,
            "TemplateParamSet": list(message.sms_params.values()),  # positional: {1}, {2}, ...
            "SessionContext": message.idempotency_key,  # echoed in the response and receipts
        }, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(self._clock())
        date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        signature = tc3_signature(self._secret_key, self._host, body, timestamp)
        headers = {
            "Authorization": (f"TC3-HMAC-SHA256 Credential={self._secret_id}/{date}/{SERVICE}/tc3_request, "
                              f"SignedHeaders=content-type;host, Signature={signature}"),
            "Content-Type": CONTENT_TYPE,
            "Host": self._host,
            "X-TC-Action": "SendSms",
            "X-TC-Version": API_VERSION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": self._region,
        }
        return headers, body

    async def send(self, message: OutboundMessage) -> SendResult:
        if self._limiter:
            await self._limiter.acquire(self._max_wait_s)
        headers, body = self.signed_request(message)  # signed after any wait: the timestamp must be fresh
        response = await send_request(self._client, "POST", self._endpoint, headers=headers, content=body)
        raise_for_transient_status(response)
        reply: Any = json_object(response).get("Response")
        if not isinstance(reply, dict):
            raise TransientError("bad_response")
        error = reply.get("Error")
        if isinstance(error, dict):
            raise classify(str(error.get("Code", "unknown")))
        statuses = reply.get("SendStatusSet")
        if not (isinstance(statuses, list) and statuses and isinstance(statuses[0], dict)):
            raise TransientError("bad_response")
        status = statuses[0]
        code = str(status.get("Code", "unknown"))
        if code != "Ok":
            raise classify(code)
        return SendResult(self.provider, str(status.get("SerialNo", "")))

"""Aliyun SMS (dysmsapi) `SendSms` over the RPC HTTP API, signed with the classic POP signature.

No SDK: the signature is short, and owning it keeps the dependency list and the error
classification in our hands. Reference: Aliyun's "RPC signature" (SignatureVersion 1.0).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from services.notify.channels._http import json_object, raise_for_transient_status, send_request
from services.notify.channels.base import OutboundMessage, PermanentError, SendResult, TransientError
from services.notify.channels.ratelimit import TokenBucket

DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
API_VERSION = "2017-05-25"

# Throttling and flow control: the number or the account may send again later.
_TRANSIENT_PREFIXES = ("Throttling", "ServiceUnavailable", "InternalError", "isp.SYSTEM_ERROR")
_TRANSIENT_LIMITS = {
    "isv.BUSINESS_LIMIT_CONTROL": 60.0,  # per-number limits: 1/min, 5/h, 10/day by default
    "isv.DAY_LIMIT_CONTROL": 3600.0,
}


def pop_encode(value: str) -> str:
    """POP percent-encoding: RFC 3986 unreserved kept, everything else %XX of UTF-8 (space is %20)."""
    return quote(value, safe="~")  # quote() never encodes letters, digits and "_.-~"


def pop_canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{pop_encode(k)}={pop_encode(v)}" for k, v in sorted(params.items()))


def pop_signature(params: Mapping[str, str], secret: str, method: str = "GET") -> str:
    """Base64(HMAC-SHA1(secret + "&", METHOD & %2F & encode(canonical query)))."""
    string_to_sign = f"{method}&{pop_encode('/')}&{pop_encode(pop_canonical_query(params))}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def aliyun_phone(number: str) -> str:
    """Mainland numbers without +86; others with their country code and no '+'."""
    number = number.strip().replace(" ", "")
    if number.startswith("+86"):
        return number[3:]
    return number.removeprefix("+")


def classify(code: str) -> TransientError | PermanentError:
    if code in _TRANSIENT_LIMITS:
        return TransientError(code, _TRANSIENT_LIMITS[code])
    if code.startswith(_TRANSIENT_PREFIXES):
        return TransientError(code)
    return PermanentError(code)


class AliyunSms:
    kind = "sms"
    provider = "aliyun"

    def __init__(self, client: httpx.AsyncClient, access_key_id: str, access_key_secret: str, sign_name: str,
                 templates: Mapping[str, str], *, endpoint: str = DEFAULT_ENDPOINT, region: str = "cn-hangzhou",
                 limiter: TokenBucket | None = None, max_wait_s: float | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._client = client
        self._key_id = access_key_id
        self._secret = access_key_secret
        self._sign_name = sign_name
        self._templates = dict(templates)
        self._endpoint = endpoint
        self._region = region
        self._limiter = limiter
        self._max_wait_s = max_wait_s
        self._clock = clock

    def signed_query(self, message: OutboundMessage) -> str:
        template = self._templates.get(message.sms_template)
        if template is None:
            raise PermanentError("template_unmapped")
        params = {
            "AccessKeyId": self._key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": message.idempotency_key,  # echoed in delivery receipts
            "PhoneNumbers": aliyun_phone(message.address),
            "RegionId": self._region,
            "SignName": self._sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": template,
            "TemplateParam": json.dumps(dict(message.sms_params), ensure_ascii=False, separators=(",", ":")),
            "Timestamp": self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
        }
        signature = pop_signature(params, self._secret)
        return f"Signature={pop_encode(signature)}&{pop_canonical_query(params)}"

    async def send(self, message: OutboundMessage) -> SendResult:
        if self._limiter:
            await self._limiter.acquire(self._max_wait_s)
        query = self.signed_query(message)  # signed after any wait: the timestamp must be fresh
        response = await send_request(self._client, "GET", f"{self._endpoint}?{query}")
        body = json_object(response)
        code = body.get("Code")
        if code == "OK" and response.is_success:
            return SendResult(self.provider, str(body.get("BizId", "")))
        if not isinstance(code, str) or not code:
            raise_for_transient_status(response)
            raise PermanentError(f"http_{response.status_code}")
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(code)
        raise classify(code)

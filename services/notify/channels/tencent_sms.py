"""Tencent Cloud SMS `SendSms` (API 3.0, version 2021-01-11), signed with TC3-HMAC-SHA256.

Reference: Tencent Cloud "Signature v3". The signed headers are content-type and host; the
host signed is the one sent, so a configurable endpoint (a fake, a proxy) signs correctly.

One `SendSms` takes up to 200 numbers with one TemplateParamSet for all, and answers per number
(SendStatusSet: Code and SerialNo each), so a batch is one call per template and parameters.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from services.notify.channels._http import json_object, raise_for_transient_status, send_request
from services.notify.channels._sms import batch_context, groups, until_next_day_s
from services.notify.channels.base import ChannelError, OutboundMessage, PermanentError, SendResult, TransientError
from services.notify.channels.ratelimit import TokenBucket

DEFAULT_ENDPOINT = "https://sms.tencentcloudapi.com/"
API_VERSION = "2021-01-11"
SERVICE = "sms"
CONTENT_TYPE = "application/json; charset=utf-8"
MAX_BATCH = 200  # numbers per SendSms
_TRANSIENT_PREFIXES = ("LimitExceeded", "RequestLimitExceeded", "InternalError", "ResourceUnavailable")
# Carriers' and Tencent's per-number frequency limits (defaults: same content 1/30 s, 5/h, 10/day),
# and the account's daily quotas: wait for the window, or go elsewhere meanwhile.
_WAIT_S = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": 30.0,
    "LimitExceeded.PhoneNumberOneHourLimit": 3600.0,
    "RequestLimitExceeded": 1.0,
}
_UNTIL_NEXT_DAY = ("LimitExceeded.PhoneNumberDailyLimit", "LimitExceeded.PhoneNumberSameContentDailyLimit",
                   "LimitExceeded.AppDailyLimit", "LimitExceeded.DailyLimit")


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


def classify(code: str, now: float | None = None) -> TransientError | PermanentError:
    """A refusal as transient (with how long to wait, where the code says) or permanent."""
    if code in _WAIT_S:
        return TransientError(code, _WAIT_S[code])
    if code in _UNTIL_NEXT_DAY:
        return TransientError(code, until_next_day_s(datetime.fromtimestamp(now or time.time(), UTC)))
    if code.startswith(_TRANSIENT_PREFIXES):
        return TransientError(code)
    return PermanentError(code)


class TencentSms:
    kind = "sms"
    provider = "tencent"
    max_batch = MAX_BATCH

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
        return self.signed_batch_request([message])

    def signed_batch_request(self, messages: Sequence[OutboundMessage]) -> tuple[dict[str, str], bytes]:
        """One SendSms for these messages: one template and one parameter set (the first's) for all."""
        template = self._templates.get(messages[0].sms_template)
        if template is None:
            raise PermanentError("template_unmapped")
        body = json.dumps({
            "PhoneNumberSet": [tencent_phone(m.address) for m in messages],
            "SmsSdkAppId": self._app_id,
            "SignName": self._sign_name,
            "TemplateId": template,
            "TemplateParamSet": list(messages[0].sms_params.values()),  # positional: {1}, {2}, ...
            # echoed in the response and receipts: our key for one message, a digest for a batch
            "SessionContext": batch_context([m.idempotency_key for m in messages]),
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

    async def _call(self, messages: Sequence[OutboundMessage]) -> list[SendResult | ChannelError]:
        """One SendSms; an error for the request as a whole is raised, per-number outcomes returned."""
        if self._limiter:
            await self._limiter.acquire(self._max_wait_s)
        headers, body = self.signed_batch_request(messages)  # signed after any wait: the timestamp must be fresh
        response = await send_request(self._client, "POST", self._endpoint, headers=headers, content=body)
        raise_for_transient_status(response)
        reply: Any = json_object(response).get("Response")
        if not isinstance(reply, dict):
            raise TransientError("bad_response")
        error = reply.get("Error")
        if isinstance(error, dict):
            raise classify(str(error.get("Code", "unknown")), self._clock())
        statuses = reply.get("SendStatusSet")
        if not isinstance(statuses, list):
            raise TransientError("bad_response")
        by_number = {str(st.get("PhoneNumber", "")): st for st in statuses if isinstance(st, dict)}
        if len(messages) == 1 and len(statuses) == 1 and isinstance(statuses[0], dict):
            by_number = {tencent_phone(messages[0].address): statuses[0]}
        out: list[SendResult | ChannelError] = []
        for m in messages:
            status = by_number.get(tencent_phone(m.address))
            if status is None:  # no word on this number: unknown, as a timeout would be
                out.append(TransientError("bad_response"))
                continue
            code = str(status.get("Code", "unknown"))
            out.append(SendResult(self.provider, str(status.get("SerialNo", ""))) if code == "Ok"
                       else classify(code, self._clock()))
        return out

    async def send(self, message: OutboundMessage) -> SendResult:
        [result] = await self._call([message])
        if isinstance(result, ChannelError):
            raise result
        return result

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SendResult | ChannelError]:
        """One SendSms per template and parameter set (≤200 numbers); an outcome per message, in order.

        Nothing is raised: a request refused as a whole gives its error to each of its messages,
        and the other requests' outcomes stand.
        """
        results: list[SendResult | ChannelError] = [TransientError("not_sent")] * len(messages)
        for call in groups(messages, lambda m: (m.sms_template, tuple(m.sms_params.items())),
                           lambda m: tencent_phone(m.address), MAX_BATCH):
            batch = [messages[i] for i in call]
            try:
                outcomes = await self._call(batch)
            except ChannelError as exc:
                outcomes = [exc] * len(batch)
            except Exception as exc:  # noqa: BLE001 - other calls' outcomes must survive a broken one
                outcomes = [TransientError(f"unexpected_{type(exc).__name__}")] * len(batch)
            for i, outcome in zip(call, outcomes, strict=True):
                results[i] = outcome
        return results

"""Aliyun SMS (dysmsapi) `SendSms` and `SendBatchSms` over the RPC HTTP API, signed with the
classic POP signature.

No SDK: the signature is short, and owning it keeps the dependency list and the error
classification in our hands. Reference: Aliyun's "RPC signature" (SignatureVersion 1.0).

`SendBatchSms` takes one TemplateCode and up to 100 numbers, with a SignNameJson and a
TemplateParamJson entry per number, and answers for the call as a whole (one BizId). When it
refuses for a reason that belongs to a number (a bad number, a number over its frequency
limit) the call is split in halves until the refused numbers stand alone: one refusal costs
about 2·log2(n) calls, and every other message still goes out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from services.notify.channels._http import json_object, raise_for_transient_status, send_request
from services.notify.channels._sms import batch_context, groups, until_next_day_s
from services.notify.channels.base import ChannelError, OutboundMessage, PermanentError, SendResult, TransientError
from services.notify.channels.ratelimit import TokenBucket

DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
API_VERSION = "2017-05-25"

MAX_BATCH = 100  # numbers per SendBatchSms

# Throttling and flow control: the number or the account may send again later.
_TRANSIENT_PREFIXES = ("Throttling", "ServiceUnavailable", "InternalError", "isp.SYSTEM_ERROR")
# A batch refused for one of these is about some number in it: split it to find which.
_PER_NUMBER = frozenset({"isv.MOBILE_NUMBER_ILLEGAL", "isv.BUSINESS_LIMIT_CONTROL", "isv.BLACK_KEY_CONTROL_LIMIT"})


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


def number_message_id(biz_id: str, phone: str, secret: str) -> str:
    """One id per number of a batch call: Aliyun answers one BizId per call, and its delivery reports name
    biz_id and phone_number. The number is kept only as a keyed digest (the account's secret)."""
    digest = hmac.new(f"batch-number\0{secret}".encode(), aliyun_phone(phone).encode(), hashlib.sha256)
    return f"{biz_id}/{digest.hexdigest()[:16]}"


def frequency_wait_s(message: str, now: datetime) -> float:
    """isv.BUSINESS_LIMIT_CONTROL is a per-number limit (by default 1/min, 5/h, 10/day); its message
    names the window (触发分钟级/小时级/天级流控). Read, never logged: it is the provider's text."""
    if "天级" in message or "日级" in message:
        return until_next_day_s(now)
    if "小时级" in message:
        return 3600.0
    return 60.0


def classify(code: str, message: str = "", now: datetime | None = None) -> TransientError | PermanentError:
    """A refusal as transient (with how long to wait, where the code says) or permanent."""
    now = now or datetime.now(UTC)
    if code == "isv.BUSINESS_LIMIT_CONTROL":
        return TransientError(code, frequency_wait_s(message, now))
    if code == "isv.DAY_LIMIT_CONTROL":  # the account's daily quota
        return TransientError(code, until_next_day_s(now))
    if code.startswith("Throttling"):  # the API's QPS limit
        return TransientError(code, 1.0)
    if code.startswith(_TRANSIENT_PREFIXES):
        return TransientError(code)
    return PermanentError(code)


class AliyunSms:
    kind = "sms"
    provider = "aliyun"
    max_batch = MAX_BATCH

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

    def _signed(self, action: str, params: dict[str, str], method: str = "GET") -> str:
        params = {
            **params,
            "AccessKeyId": self._key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": self._region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
        }
        signature = pop_signature(params, self._secret, method)
        return f"Signature={pop_encode(signature)}&{pop_canonical_query(params)}"

    def _template(self, message: OutboundMessage) -> str:
        template = self._templates.get(message.sms_template)
        if template is None:
            raise PermanentError("template_unmapped")
        return template

    def signed_query(self, message: OutboundMessage) -> str:
        return self._signed("SendSms", {
            "OutId": message.idempotency_key,  # echoed in delivery receipts
            "PhoneNumbers": aliyun_phone(message.address),
            "SignName": self._sign_name,
            "TemplateCode": self._template(message),
            "TemplateParam": _json(dict(message.sms_params)),
        })

    def signed_batch_form(self, messages: Sequence[OutboundMessage]) -> str:
        """One SendBatchSms call, signed for POST (a form body: 100 numbers and their parameters
        would make a URL too long for some gateways): one template, a number, signature and
        parameters per message."""
        return self._signed("SendBatchSms", {
            "OutId": batch_context([m.idempotency_key for m in messages]),
            "PhoneNumberJson": _json([aliyun_phone(m.address) for m in messages]),
            "SignNameJson": _json([self._sign_name] * len(messages)),
            "TemplateCode": self._template(messages[0]),
            "TemplateParamJson": _json([dict(m.sms_params) for m in messages]),
        }, "POST")

    async def _call(self, query: str, method: str = "GET") -> str:
        """The BizId of an accepted call; a refusal raised as its channel error."""
        if method == "POST":
            response = await send_request(self._client, "POST", self._endpoint, content=query,
                                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        else:
            response = await send_request(self._client, "GET", f"{self._endpoint}?{query}")
        body = json_object(response)
        code = body.get("Code")
        if code == "OK" and response.is_success:
            return str(body.get("BizId", ""))
        if not isinstance(code, str) or not code:
            raise_for_transient_status(response)
            raise PermanentError(f"http_{response.status_code}")
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(code)
        raise classify(code, str(body.get("Message", "")), self._clock())

    async def send(self, message: OutboundMessage) -> SendResult:
        if self._limiter:
            await self._limiter.acquire(self._max_wait_s)
        query = self.signed_query(message)  # signed after any wait: the timestamp must be fresh
        return SendResult(self.provider, await self._call(query))

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SendResult | ChannelError]:
        """SendBatchSms per template (≤100 numbers a call); an outcome per message, in order.

        Every message of an accepted call shares its BizId. Nothing is raised: a call that fails
        gives its error to each of its messages, and the other calls' outcomes stand.
        """
        results: list[SendResult | ChannelError] = [TransientError("not_sent")] * len(messages)
        sendable: list[int] = []
        for i, m in enumerate(messages):
            if m.sms_template in self._templates:
                sendable.append(i)
            else:
                results[i] = PermanentError("template_unmapped")
        subset = [messages[i] for i in sendable]
        for call in groups(subset, lambda m: m.sms_template, lambda m: aliyun_phone(m.address), MAX_BATCH):
            await self._batch([sendable[i] for i in call], messages, results)
        return results

    async def _batch(self, idx: list[int], messages: Sequence[OutboundMessage],
                     results: list[SendResult | ChannelError]) -> None:
        try:
            if self._limiter:
                await self._limiter.acquire(self._max_wait_s)
            if len(idx) == 1:
                biz_id = await self._call(self.signed_query(messages[idx[0]]))
            else:
                biz_id = await self._call(self.signed_batch_form([messages[i] for i in idx]), "POST")
        except Exception as exc:  # noqa: BLE001 - other calls' outcomes must survive a broken one
            if not isinstance(exc, ChannelError):
                exc = TransientError(f"unexpected_{type(exc).__name__}")
            if len(idx) > 1 and exc.code in _PER_NUMBER:
                half = len(idx) // 2
                await self._batch(idx[:half], messages, results)
                await self._batch(idx[half:], messages, results)
                return
            for i in idx:
                results[i] = exc
            return
        for i in idx:
            results[i] = SendResult(self.provider, biz_id if len(idx) == 1 else
                                    number_message_id(biz_id, messages[i].address, self._secret))


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

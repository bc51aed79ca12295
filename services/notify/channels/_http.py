"""HTTP plumbing the HTTP channels share: transport failures and statuses as channel errors.

Errors are raised `from None`: httpx's exceptions quote the URL, which holds robot keys,
access tokens and, for some providers, phone numbers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from services.notify.channels.base import PermanentError, SendResult, TransientError


async def send_request(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        return await client.request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise TransientError("timeout") from None
    except httpx.TransportError:
        raise TransientError("network") from None


def retry_after_s(response: httpx.Response) -> float | None:
    """Retry-After as seconds, in either of its forms (delta-seconds or an HTTP date)."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def raise_for_transient_status(response: httpx.Response) -> None:
    """429 and 5xx are the provider's trouble (or ours to slow down for), not the message's."""
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientError(f"http_{response.status_code}", retry_after_s(response))


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object; something else means a broken edge: retry, then fail over."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise_for_transient_status(response)
        if response.status_code >= 400:
            raise PermanentError(f"http_{response.status_code}")
        raise TransientError("bad_response")
    return body


def truncate_utf8(text: str, max_bytes: int) -> str:
    """Cut to a byte limit without splitting a character, marking the cut."""
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    return data[: max_bytes - len("…".encode())].decode(errors="ignore") + "…"


def robot_result(response: httpx.Response, provider: str, idempotency_key: str,
                 transient: dict[int, float | None]) -> SendResult:
    """WeCom and DingTalk answer alike: `errcode` 0, a busy code (transient, with a wait), or a refusal.

    The robot APIs return no message id: our own key is what a later look-up can use.
    """
    raise_for_transient_status(response)
    errcode = json_object(response).get("errcode")
    if errcode == 0:
        return SendResult(provider, idempotency_key)
    if isinstance(errcode, int) and errcode in transient:
        raise TransientError(f"errcode_{errcode}", transient[errcode])
    raise PermanentError(f"errcode_{errcode}")

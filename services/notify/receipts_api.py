"""The receipt endpoints SMS providers push delivery reports to (configured in their consoles).

Providers do not sign these pushes, so the URL carries a secret (`RECEIPT_TOKEN`). Each answer
is in the provider's own success format, or it keeps retrying.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import JSONResponse

from services.notify import repository
from services.notify.api import NotifyDeps
from services.notify.letter_receipts import letter_receipts
from services.notify.receipts import NO_NUL, Receipt, ReceiptError, parse_aliyun_report, parse_tencent_report
from shared.contracts import RecipientRole
from shared.contracts.base import derive_id
from shared.contracts.notification import NotificationReceived
from shared.errors import ErrorBody
from shared.outbox import enqueue

PARSERS: dict[str, tuple[Callable[[bytes], list[Receipt]], dict[str, object]]] = {
    "aliyun": (parse_aliyun_report, {"code": 0, "msg": "成功"}),
    "tencent": (parse_tencent_report, {"result": 0, "errmsg": "OK"}),
}


_SECRET = Annotated[str, Path(description="RECEIPT_TOKEN: the URL configured in the provider's console.")]
_TEXT = {"type": "string", "pattern": NO_NUL}
_SHANGHAI_TIME = {**_TEXT, "description": "Asia/Shanghai, 'YYYY-MM-DD HH:MM:SS' (else ignored)."}
# The reports each provider pushes, as receipts.py reads them (unknown fields ignored).
_REPORTS: dict[str, dict[str, Any]] = {
    "aliyun": {"type": "object", "required": ["success", "biz_id"], "properties": {
        "success": {"type": "boolean"}, "err_code": _TEXT, "biz_id": _TEXT,
        "phone_number": {"anyOf": [_TEXT, {"type": "null"}]}, "out_id": {"anyOf": [_TEXT, {"type": "null"}]},
        "report_time": {"anyOf": [_SHANGHAI_TIME, {"type": "null"}]}}},
    "tencent": {"type": "object", "required": ["report_status", "sid"], "properties": {
        "report_status": {"enum": ["SUCCESS", "FAIL"]}, "errmsg": _TEXT, "sid": _TEXT,
        "user_receive_time": {"anyOf": [_SHANGHAI_TIME, {"type": "null"}]}}},
}
_BODIES = {name: {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "array", "items": report}}}}} for name, report in _REPORTS.items()}
_RESPONSES: dict[str, dict[int | str, dict[str, Any]]] = {name: {
    200: {"description": "The provider's own success answer.",
          "content": {"application/json": {"schema": {"type": "object", "example": ok}}}},
    404: {"model": ErrorBody, "description": "Not the configured secret (or receipts are not configured)."},
    413: {"model": ErrorBody, "description": "The body is larger than notify takes."},
    422: {"model": ErrorBody, "description": "Not this provider's delivery report."},
} for name, (_, ok) in PARSERS.items()}


def _endpoint(receive: Callable[[str, str, Request], Awaitable[JSONResponse]], provider: str
              ) -> Callable[[_SECRET, Request], Awaitable[JSONResponse]]:
    async def endpoint(secret: _SECRET, request: Request) -> JSONResponse:
        return await receive(provider, secret, request)
    return endpoint


def receipts_router(deps: NotifyDeps, token: str, aliyun_secret: str = "") -> APIRouter:
    router = APIRouter()

    async def receive(provider: str, secret: str, request: Request) -> JSONResponse:
        if not token or not hmac.compare_digest(secret.encode(), token.encode()) or provider not in PARSERS:
            raise HTTPException(404, "Not found.")
        parse, ok = PARSERS[provider]
        try:
            receipts = parse(await request.body())
        except ReceiptError as exc:
            raise HTTPException(422, f"Not a {provider} delivery report ({exc}).") from None
        async with deps.pool.acquire() as conn, conn.transaction():
            not_notices = []
            for r in receipts:
                first = await repository.record_receipt(conn, provider, r.message_id, r.code)
                if first is None:
                    not_notices.append(r)  # a letter's, an unknown message or a repeated report
                    continue
                notification_id, incident_id, role = first
                await enqueue(conn, NotificationReceived(
                    event_id=derive_id("notification-received", notification_id), incident_id=incident_id,
                    notification_id=notification_id, role=RecipientRole(role), provider=provider,
                    delivered=r.delivered, code=r.code))
            if letters := await letter_receipts(conn, provider, not_notices, aliyun_secret):
                await enqueue(conn, *letters)
        deps.relay.kick()
        return JSONResponse(ok)

    for name in PARSERS:
        router.add_api_route(f"/receipts/{name}/{{secret}}", _endpoint(receive, name), methods=["POST"],
                             response_class=JSONResponse, responses=_RESPONSES[name], openapi_extra=_BODIES[name],
                             summary=f"{name}: SMS delivery reports pushed by the provider")

    return router

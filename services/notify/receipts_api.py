"""The receipt endpoints SMS providers push delivery reports to (configured in their consoles).

Providers do not sign these pushes, so the URL carries a secret (`RECEIPT_TOKEN`). Each answer
is in the provider's own success format, or it keeps retrying.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from services.notify import repository
from services.notify.api import NotifyDeps
from services.notify.letter_receipts import letter_receipts
from services.notify.receipts import Receipt, ReceiptError, parse_aliyun_report, parse_tencent_report
from shared.contracts import RecipientRole
from shared.contracts.base import derive_id
from shared.contracts.notification import NotificationReceived
from shared.outbox import enqueue

PARSERS: dict[str, tuple[Callable[[bytes], list[Receipt]], dict[str, object]]] = {
    "aliyun": (parse_aliyun_report, {"code": 0, "msg": "成功"}),
    "tencent": (parse_tencent_report, {"result": 0, "errmsg": "OK"}),
}


def receipts_router(deps: NotifyDeps, token: str, aliyun_secret: str = "") -> APIRouter:
    router = APIRouter()

    @router.post("/receipts/{provider}/{secret}", include_in_schema=False)
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

    return router

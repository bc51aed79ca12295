"""An SMS provider's batched delivery reports fit notify's receipt endpoint (issue 14): a batch of 500
reports is taken whole (real notify, the Aliyun fake, NATS and PostgreSQL), while every other route keeps
its small body limit."""

from __future__ import annotations

import json

import httpx

from antibully.fakes import running_fakes
from services.notify.api import RECEIPT_MAX_BYTES
from services.notify.app import running
from shared.config import Settings
from shared.contracts import NoticeFacts, NotificationRequested, Recipient, RecipientRole
from shared.contracts.base import derive_id, utcnow
from shared.contracts.notification import Address, ChannelKind, NotificationReceived
from shared.subjects import NOTIFICATION_RECEIVED, NOTIFY
from tests.helpers import eventually, exactly, publish, stream_messages
from tests.test_receipts import ALIYUN


async def test_a_batch_of_500_receipts_is_taken(settings: Settings) -> None:
    async with running_fakes() as fakes:
        configured = settings.model_copy(update={
            "aliyun_sms_endpoint": f"{fakes.base_url}/aliyun/", "aliyun_access_key_id": "LTAI-test",
            "aliyun_access_key_secret": "aliyun-secret", "aliyun_sms_sign_name": "乐昌教育",
            "aliyun_sms_template": "SMS_100001", "receipt_token": "receipt-secret"})
        async with running(configured) as infra, httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{configured.notify_port}", timeout=30) as client:
            nid = derive_id("batch-receipt-test")
            await publish(configured.nats_url, NotificationRequested(
                event_id=nid, incident_id=derive_id("batch-receipt-incident"), notification_id=nid,
                recipient=Recipient(role=RecipientRole.victim_guardian, display_name="家长",
                                    addresses=[Address(kind=ChannelKind.sms, to="+8613800138000")]),
                facts=NoticeFacts(case_ref="AB-BATCH", school_id="demo-school", school_name="乐昌市示范中学",
                                  reasons_zh=[], occurred_at=utcnow())))
            biz_id = await eventually(lambda: infra.pool.fetchval(
                "SELECT message_id FROM deliveries WHERE notification_id = $1 AND status = 'sent'", nid))
            others = [{**ALIYUN[1], "biz_id": f"other-{i:04d}", "phone_number": f"1380013{i:04d}"} for i in range(499)]
            batch = [*others[:250], {**ALIYUN[0], "biz_id": biz_id, "out_id": str(nid)}, *others[250:]]
            body = json.dumps(batch, ensure_ascii=False).encode()
            assert 16384 < len(body) < RECEIPT_MAX_BYTES  # past every other route's limit
            answer = await client.post("/receipts/aliyun/receipt-secret", content=body,
                                       headers={"Content-Type": "application/json"})
            assert answer.status_code == 200 and answer.json() == {"code": 0, "msg": "成功"}

            async def received() -> list[NotificationReceived]:
                return [NotificationReceived.model_validate_json(m.data)
                        for m in await stream_messages(configured.nats_url, NOTIFY.name)
                        if m.subject == NOTIFICATION_RECEIVED]

            [got] = await eventually(lambda: exactly(received(), 1))
            assert (got.notification_id, got.delivered) == (nid, True)

            too_big = b"[" + b" " * RECEIPT_MAX_BYTES + b"]"
            assert (await client.post("/receipts/aliyun/receipt-secret", content=too_big)).status_code == 413
            # the families' form and the other pages keep the small limit
            assert (await client.post(f"/ack/{'x' * 20}", content=b"x" * 20000)).status_code == 413

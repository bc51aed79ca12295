"""An SMS provider's batched delivery reports fit notify's receipt endpoint (issue 14): a batch of 500
reports is taken whole (real notify, the Aliyun fake, NATS and PostgreSQL), while every other route keeps
its small body limit."""

from __future__ import annotations

import json

from services.notify.api import RECEIPT_MAX_BYTES
from shared.config import Settings
from tests.helpers import eventually, exactly
from tests.test_receipts import ALIYUN, an_sms_sent, received


async def test_a_batch_of_500_receipts_is_taken(settings: Settings) -> None:
    async with an_sms_sent(settings, "batch-receipt", timeout_s=30) as sent:
        client, nid = sent.client, sent.notification_id
        others = [{**ALIYUN[1], "biz_id": f"other-{i:04d}", "phone_number": f"1380013{i:04d}"} for i in range(499)]
        batch = [*others[:250], {**ALIYUN[0], "biz_id": sent.biz_id, "out_id": str(nid)}, *others[250:]]
        body = json.dumps(batch, ensure_ascii=False).encode()
        assert 16384 < len(body) < RECEIPT_MAX_BYTES  # past every other route's limit
        answer = await client.post("/receipts/aliyun/receipt-secret", content=body,
                                   headers={"Content-Type": "application/json"})
        assert answer.status_code == 200 and answer.json() == {"code": 0, "msg": "成功"}
        [got] = await eventually(lambda: exactly(received(sent.settings.nats_url), 1))
        assert (got.notification_id, got.delivered) == (nid, True)

        too_big = b"[" + b" " * RECEIPT_MAX_BYTES + b"]"
        assert (await client.post("/receipts/aliyun/receipt-secret", content=too_big)).status_code == 413
        # the families' form and the other pages keep the small limit
        assert (await client.post(f"/ack/{'x' * 20}", content=b"x" * 20000)).status_code == 413

"""Delivery-report parsers: ids and codes out, phone numbers dropped, bad payloads refused by code."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from services.notify.receipts import Receipt, ReceiptError, parse_aliyun_report, parse_tencent_report
from shared.config import Settings

ALIYUN = [
    {"phone_number": "13800138000", "send_time": "2026-11-29 20:00:01", "report_time": "2026-11-29 20:00:05",
     "success": True, "err_code": "DELIVERED", "err_msg": "用户接收成功", "sms_size": "1", "biz_id": "biz-1",
     "out_id": "notification-1"},
    {"phone_number": "13800138001", "send_time": "2026-11-29 20:00:01", "report_time": "2026-11-29 20:00:09",
     "success": False, "err_code": "MK:0001", "err_msg": "失败", "sms_size": "1", "biz_id": "biz-2", "out_id": ""},
]
TENCENT = [
    {"user_receive_time": "2026-11-29 20:00:05", "nationcode": "86", "mobile": "13800138000",
     "report_status": "SUCCESS", "errmsg": "DELIVRD", "description": "用户短信送达成功", "sid": "serial-1"},
    {"user_receive_time": "2026-11-29 20:00:07", "nationcode": "86", "mobile": "13800138001",
     "report_status": "FAIL", "errmsg": "MN:0017", "description": "空号", "sid": "serial-2"},
]


@pytest.mark.pure
def test_aliyun_report() -> None:
    got = parse_aliyun_report(json.dumps(ALIYUN, ensure_ascii=False).encode())
    assert got == [
        Receipt("aliyun", "biz-1", "notification-1", True, "DELIVERED", datetime(2026, 11, 29, 12, 0, 5, tzinfo=UTC)),
        Receipt("aliyun", "biz-2", None, False, "MK:0001", datetime(2026, 11, 29, 12, 0, 9, tzinfo=UTC)),
    ]
    assert "13800138" not in repr(got)


@pytest.mark.pure
def test_tencent_report() -> None:
    got = parse_tencent_report(json.dumps(TENCENT, ensure_ascii=False))
    assert [(r.message_id, r.delivered, r.code) for r in got] == [("serial-1", True, "DELIVRD"),
                                                                  ("serial-2", False, "MN:0017")]
    assert got[0].reported_at == datetime(2026, 11, 29, 12, 0, 5, tzinfo=UTC)
    assert "13800138" not in repr(got)


@pytest.mark.pure
@pytest.mark.parametrize(("parse", "body", "code"), [
    (parse_aliyun_report, b"not json", "aliyun_report_invalid"),
    (parse_aliyun_report, json.dumps([{"phone_number": "13800138000", "success": True}]), "aliyun_report_invalid"),
    (parse_tencent_report, json.dumps({"mobile": "13800138000"}), "tencent_report_invalid"),
    (parse_tencent_report, json.dumps([{**TENCENT[0], "report_status": "MAYBE"}]), "tencent_report_status_unknown"),
])
def test_bad_payload_is_refused_by_code_without_quoting_it(parse: object, body: str | bytes, code: str) -> None:
    assert callable(parse)
    with pytest.raises(ReceiptError) as exc:
        parse(body)
    assert str(exc.value) == code and "13800138000" not in repr(exc.value)


@dataclass
class SentSms:
    """A running notify (real PostgreSQL, NATS, the Aliyun fake) that has sent one SMS notice."""

    settings: Settings
    client: Any  # httpx.AsyncClient on notify's edge
    notification_id: uuid.UUID
    biz_id: str


@asynccontextmanager
async def an_sms_sent(settings: Settings, tag: str, timeout_s: float = 10) -> AsyncIterator[SentSms]:
    import httpx

    from antibully.fakes import running_fakes
    from services.notify.app import running
    from shared.contracts import NoticeFacts, NotificationRequested, Recipient, RecipientRole
    from shared.contracts.base import derive_id, utcnow
    from shared.contracts.notification import Address, ChannelKind
    from tests.helpers import eventually, publish

    async with running_fakes() as fakes:
        configured = settings.model_copy(update={
            "aliyun_sms_endpoint": f"{fakes.base_url}/aliyun/", "aliyun_access_key_id": "LTAI-test",
            "aliyun_access_key_secret": "aliyun-secret", "aliyun_sms_sign_name": "乐昌教育",
            "aliyun_sms_template": "SMS_100001", "receipt_token": "receipt-secret"})
        async with running(configured) as infra, httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{configured.notify_port}", timeout=timeout_s) as client:
            nid = derive_id(f"{tag}-test")
            await publish(configured.nats_url, NotificationRequested(
                event_id=nid, incident_id=derive_id(f"{tag}-incident"), notification_id=nid,
                recipient=Recipient(role=RecipientRole.victim_guardian, display_name="家长",
                                    addresses=[Address(kind=ChannelKind.sms, to="+8613800138000")]),
                facts=NoticeFacts(case_ref=f"AB-{tag.upper()}", school_id="demo-school", school_name="乐昌市示范中学",
                                  reasons_zh=[], occurred_at=utcnow())))
            biz_id = await eventually(lambda: infra.pool.fetchval(
                "SELECT message_id FROM deliveries WHERE notification_id = $1 AND status = 'sent'", nid))
            yield SentSms(configured, client, nid, biz_id)


async def received(nats_url: str) -> list[Any]:
    """The NotificationReceived events on the notify stream."""
    from shared.contracts.notification import NotificationReceived
    from shared.subjects import NOTIFICATION_RECEIVED, NOTIFY
    from tests.helpers import stream_messages

    return [NotificationReceived.model_validate_json(m.data) for m in await stream_messages(nats_url, NOTIFY.name)
            if m.subject == NOTIFICATION_RECEIVED]


async def test_a_receipt_pushed_by_the_provider_is_recorded_once(settings: Settings) -> None:
    """Real notify, the Aliyun fake, the receipt endpoint: delivered → NotificationReceived, once."""
    from tests.helpers import eventually, exactly

    async with an_sms_sent(settings, "receipt") as sent:
        client, nid = sent.client, sent.notification_id
        report = [{**ALIYUN[0], "biz_id": sent.biz_id, "out_id": str(nid)}]
        assert (await client.post("/receipts/aliyun/wrong-secret", json=report)).status_code == 404
        assert (await client.post("/receipts/aliyun/receipt-secret", content=b"[{}]")).status_code == 422
        for _ in range(2):  # providers repeat reports
            answer = await client.post("/receipts/aliyun/receipt-secret", json=report)
            assert answer.status_code == 200 and answer.json() == {"code": 0, "msg": "成功"}
        [got] = await eventually(lambda: exactly(received(sent.settings.nats_url), 1))
        assert (got.notification_id, got.delivered, got.code, got.provider) == (nid, True, "DELIVERED", "aliyun")

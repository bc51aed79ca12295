"""Exactly one message per notification, across SMS (with provider failover), webhook and e-mail,
with two notify replicas as real processes, redelivered requests and SIGKILLs mid-send.

The only second copy allowed is one notify itself counted as an ambiguous resend (killed
between a provider's acceptance and the commit), carrying the same idempotency key.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from antibully.fakes import FakeProviders, running_fakes
from antibully.infra import SmtpSink
from shared.config import Settings
from shared.contracts import NoticeFacts, NotificationRequested, Recipient, RecipientRole
from shared.contracts.base import derive_id, utcnow
from shared.contracts.notification import Address, ChannelKind
from tests.helpers import NATS_KEYS, ServiceProcesses, eventually, publish

N = 60


@pytest.fixture
async def fakes() -> AsyncIterator[FakeProviders]:
    async with running_fakes() as f:
        yield f


@pytest.fixture
def replicas(settings: Settings, fakes: FakeProviders, tmp_path: Path) -> Iterator[ServiceProcesses]:
    """notify as real processes (started by the test, as many replicas as it likes)."""
    r = ServiceProcesses({
        **os.environ,
        "NATS_URL": settings.nats_url, "DATABASE_URL": settings.database_url,
        "SMTP_HOST": settings.smtp_host, "SMTP_PORT": str(settings.smtp_port), "SMTP_TIMEOUT_S": "3",
        "ACK_WAIT_S": "6", "LOG_LEVEL": "WARNING",
        "DIRECTORY_FILE": str(settings.directory_file), "LINK_KEY": settings.link_key,
        **fakes.env(), "WECOM_WEBHOOK_BASE": "", "DINGTALK_WEBHOOK_BASE": "", **NATS_KEYS.env(),
    }, tmp_path)
    try:
        yield r
    finally:
        r.stop_all()
        r.print_logs()


def _request(i: int, hook_url: str) -> NotificationRequested:
    """Three kinds of recipient: SMS then e-mail, a webhook, e-mail only."""
    incident_id = derive_id("exactly-once", i)
    nid = derive_id("notification", incident_id, "x")
    kind = i % 3
    addresses = ([Address(kind=ChannelKind.sms, to=f"+86139{i:08d}"),
                  Address(kind=ChannelKind.email, to=f"g{i}@example.cn")] if kind == 0 else
                 [Address(kind=ChannelKind.webhook, to=hook_url)] if kind == 1 else
                 [Address(kind=ChannelKind.email, to=f"g{i}@example.cn")])
    return NotificationRequested(
        event_id=nid, incident_id=incident_id, notification_id=nid,
        recipient=Recipient(role=RecipientRole.victim_guardian, display_name="家长", addresses=addresses),
        facts=NoticeFacts(case_ref=f"AB-{i:08d}", school_id="demo-school", school_name="乐昌市示范中学",
                          reasons_zh=["测试"], occurred_at=utcnow()))


async def test_two_replicas_killed_mid_send_send_each_message_once(
    replicas: ServiceProcesses, settings: Settings, fakes: FakeProviders, smtp_sink: SmtpSink
) -> None:
    from antibully.infra import free_port, wait_port

    fakes.fail_next("aliyun", 9, "permanent")  # Aliyun refuses the first SMS: they fall over to Tencent
    requests = [_request(i, f"{fakes.base_url}/hook/school-system") for i in range(N)]
    for name in ("a", "b"):
        port = free_port()
        replicas.start(name, "notify", NOTIFY_PORT=str(port))
        wait_port(port, timeout_s=60, proc=replicas.procs[name])  # up, with its tables

    async def publish_all() -> None:
        for i, req in enumerate(requests):
            await publish(settings.nats_url, req)
            if i % 5 == 0:  # a redelivered request, as after a lost ack
                await publish(settings.nats_url, req, msg_id=f"again-{uuid.uuid4()}")
            await asyncio.sleep(0.03)

    async def killer() -> None:
        for delay, name in [(0.4, "a"), (0.6, "b"), (0.5, "a"), (0.8, "b")]:
            await asyncio.sleep(delay)
            replicas.kill(name)
            await asyncio.sleep(0.2)
            replicas.start(name, "notify", NOTIFY_PORT=str(free_port()))

    await asyncio.gather(publish_all(), killer())
    conn = await asyncpg.connect(settings.database_url)
    try:
        async def all_sent() -> bool:
            return bool(await conn.fetchval("SELECT count(*) FROM notify.deliveries WHERE status = 'sent'") == N)

        await eventually(all_sent, timeout_s=120, interval_s=0.5)
        await asyncio.sleep(1.0)  # let any straggling duplicate show itself
        ambiguous = dict(await conn.fetch(
            "SELECT notification_id::text, ambiguous_resends FROM notify.deliveries WHERE ambiguous_resends > 0"))
        channels = Counter(r["channel"] for r in await conn.fetch("SELECT channel FROM notify.deliveries"))
    finally:
        await conn.close()

    keys = Counter(a.idempotency_key for a in fakes.accepted)
    keys.update(m["Message-ID"].strip("<>").split("@")[0] for m in smtp_sink.messages)
    assert set(keys) == {str(r.notification_id) for r in requests}  # every one sent
    extra = {k: n - 1 for k, n in keys.items() if n > 1}
    assert all(ambiguous.get(k, 0) >= n for k, n in extra.items()), (extra, ambiguous)  # never silently twice
    assert channels["sms/tencent"] >= 1 and channels["sms/aliyun"] >= 1  # the failover happened, and ended
    assert channels["webhook/webhook"] == N // 3
    print(f"duplicates {sum(extra.values())}, ambiguous resends {sum(ambiguous.values())}, channels {dict(channels)}")

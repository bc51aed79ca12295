"""notify killed (SIGKILL) in the middle of a letter's batches, twice, and started again: every parent
still gets the letter, and a parent gets it twice only when the crash left its send's outcome unknown —
then with the same idempotency key and counted (its attempt number), never silently."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from pathlib import Path

import asyncpg

from antibully.fakes import running_fakes
from antibully.infra import free_port, wait_port
from services.intake.letter_batches import batches_for
from shared.config import Settings
from shared.contracts.letters import LetterApproved, LetterAudience, LetterRecipient
from shared.contracts.notification import Address, ChannelKind
from shared.crypto import Sealer, new_key_b64
from shared.letter_routes import seal_routes
from tests.helpers import NATS_KEYS, ServiceProcesses, eventually, publish

N = 1500  # three batches


async def test_notify_killed_mid_letter_loses_nobody_and_resends_only_the_unknown(settings: Settings,
                                                                                 tmp_path: Path) -> None:
    key = new_key_b64()
    letter = LetterApproved(event_id=uuid.uuid4(), letter_id=uuid.uuid4(), jurisdiction="lechang", title="崩溃测试信",
                            body="正文", audience=LetterAudience(), created_by="a", approved_by="b")
    recipients = [LetterRecipient(key=f"{i:032x}", grade="七年级", sealed_routes=seal_routes(
        Sealer(key), letter.letter_id, f"{i:032x}", [Address(kind=ChannelKind.sms, to=f"139{i:08d}")]))
        for i in range(N)]
    # a batch call carries one OutId for all its numbers: a parent is known by its number at the provider
    key_of = {f"139{i:08d}": r.key for i, r in enumerate(recipients)}
    async with running_fakes() as fakes:
        fleet = ServiceProcesses({
            **os.environ, "NATS_URL": settings.nats_url, "DATABASE_URL": settings.database_url,
            "SMTP_HOST": settings.smtp_host, "SMTP_PORT": str(settings.smtp_port), "ACK_WAIT_S": "3",
            "LOG_LEVEL": "WARNING", "DIRECTORY_FILE": str(settings.directory_file), "LINK_KEY": settings.link_key,
            **fakes.env(), "WECOM_WEBHOOK_BASE": "", "DINGTALK_WEBHOOK_BASE": "", "SMS_RATE_PER_S": "300",
            "LETTER_CONTACT_KEY": key, **NATS_KEYS.env()}, tmp_path)
        try:

            def start() -> None:
                port = free_port()
                fleet.start("notify", NOTIFY_PORT=str(port))
                wait_port(port, timeout_s=60, proc=fleet.procs["notify"])

            start()
            for b in batches_for(letter, "demo-school", recipients):
                await publish(settings.nats_url, b)
            for at_least in (200, 700):  # killed twice while sending
                async def going(n: int = at_least) -> bool:
                    return len(fakes.accepted) >= n

                await eventually(going, timeout_s=60, interval_s=0.05)
                fleet.kill("notify")
                await asyncio.sleep(0.2)
                start()
            conn = await asyncpg.connect(settings.database_url)
            try:
                async def all_sent() -> bool:
                    return bool(await conn.fetchval(
                        "SELECT count(*) FROM notify.letter_sends WHERE state = 'sent'") == N)

                await eventually(all_sent, timeout_s=120, interval_s=0.5)
                attempts = dict(await conn.fetch("SELECT recipient_key, attempts FROM notify.letter_sends"))
            finally:
                await conn.close()
        finally:
            fleet.stop_all()

    sent = Counter(key_of[a.address] for a in fakes.accepted)
    assert set(sent) == {r.key for r in recipients}  # nobody lost
    twice = {k: n - 1 for k, n in sent.items() if n > 1}
    assert all(attempts[k] > n for k, n in twice.items()), twice  # a resend only after an unknown outcome
    # at most the calls in flight at each crash: the gate (8) × the provider's batch (Aliyun: 100 numbers a call)
    assert sum(twice.values()) <= 2 * 8 * 100
    print(f"letters resent after the two crashes: {sum(twice.values())}")

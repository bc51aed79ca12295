"""Channel throughput per notify replica, without the bus or the database (part of bench/notify.py).

The channels are built as notify builds them (`build_channels`: the SMS providers' token bucket
at `sms_rate_per_s` calls/s included) against the SMTP sink and the fakes at realistic latency
(SMS 50-150 ms a call). Each case sends `n` messages to distinct addresses with `c` workers
taking from one queue, and reports messages/s:

- e-mail: a new connection per mail (as before the pool), the pool with one mail per send,
  and the pool with `send_batch` (20 a connection);
- SMS: one `SendSms` per message with 4 and with 8 in flight (and with the bucket raised to
  200 calls/s), Aliyun `SendBatchSms` (100 a call) and Tencent's multi-number `SendSms` (200 a
  call); the batch cases send 10 times as many messages, so that there are calls enough to time.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from services.notify.channels.base import ChannelError, OutboundMessage, SendResult, send_one_by_one


def _messages(kind: str, n: int, tag: str) -> list[OutboundMessage]:
    run = time.time_ns() % 10**6
    if kind == "email":
        return [OutboundMessage(f"g{tag}{i}@example.cn", "致家长的一封信", "各位家长：……", f"{tag}-{run}-{i}")
                for i in range(n)]
    # distinct numbers per case and run, so no per-number limit is in the way
    base = {"s1": 0, "s4": 1, "s8": 2, "ab": 3, "tb": 4, "la": 5, "lt": 6}.get(tag, 7) * 10**7
    return [OutboundMessage(f"+86139{base + i:08d}", "致家长的一封信", "请查收。", f"{tag}-{run}-{i}",
                            sms_params={"title": "致家长的一封信"}) for i in range(n)]


async def _drive(units: Sequence[Sequence[OutboundMessage]], workers: int,
                 send: Callable[[Sequence[OutboundMessage]], Awaitable[list[SendResult | ChannelError]]]
                 ) -> dict[str, Any]:
    queue: asyncio.Queue[Sequence[OutboundMessage]] = asyncio.Queue()
    for unit in units:
        queue.put_nowait(unit)
    sent = failed = 0

    async def worker() -> None:
        nonlocal sent, failed
        while not queue.empty():
            unit = queue.get_nowait()
            for r in await send(unit):
                if isinstance(r, SendResult):
                    sent += 1
                else:
                    failed += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - t0
    return {"sent": sent, "failed": failed, "in_flight": workers, "elapsed_s": round(elapsed, 2),
            "per_s": round(sent / elapsed, 1)}


def _one_by_one(channel: Any) -> Callable[[Sequence[OutboundMessage]], Awaitable[list[SendResult | ChannelError]]]:
    return functools.partial(send_one_by_one, channel)


def _chunks(messages: list[OutboundMessage], size: int) -> list[list[OutboundMessage]]:
    return [messages[i:i + size] for i in range(0, len(messages), size)]


async def channel_bench(n_email: int, n_sms: int, smtp_port: int, fakes_env: dict[str, str],
                        say: Callable[[str], None], letter: int = 0) -> dict[str, Any]:
    import httpx

    from services.notify.channels import build_channels
    from services.notify.channels.aliyun_sms import AliyunSms
    from services.notify.channels.smtp import SmtpChannel
    from services.notify.channels.tencent_sms import TencentSms
    from services.notify.mailer import SmtpMailer, SmtpPool
    from shared.config import Settings

    settings = Settings(smtp_host="127.0.0.1", smtp_port=smtp_port, wecom_webhook_base="", dingtalk_webhook_base="")
    settings = settings.model_copy(update={k.lower(): v for k, v in fakes_env.items()
                                           if k.startswith(("ALIYUN_", "TENCENT_"))})
    out: dict[str, Any] = {"sms_rate_per_s": settings.sms_rate_per_s}
    size = settings.smtp_pool_size

    def per_message_connection() -> SmtpChannel:
        return SmtpChannel(SmtpMailer(settings, SmtpPool("127.0.0.1", smtp_port, 10, size=size, max_messages=1)))

    email_cases: list[tuple[str, Any, int, int]] = [
        ("connection per mail, 4 in flight", per_message_connection(), 1, 4),
        (f"pool of {size}, 4 in flight", SmtpChannel(SmtpMailer(settings)), 1, 4),
        (f"pool of {size}, send_batch of {settings.smtp_batch_max}", SmtpChannel(SmtpMailer(settings)),
         settings.smtp_batch_max, size),
        ("pool of 16, 16 in flight", SmtpChannel(SmtpMailer(settings.model_copy(update={"smtp_pool_size": 16}))),
         1, 16),
    ]
    for name, channel, batch, workers in email_cases:
        messages = _messages("email", n_email, f"e{len(out)}")
        send = channel.send_batch if batch > 1 else _one_by_one(channel)
        out[f"email: {name}"] = got = await _drive(_chunks(messages, batch), workers, send)
        await channel.aclose()
        say(f"email {name}: {got}")

    async with httpx.AsyncClient(timeout=10, trust_env=False,
                                 limits=httpx.Limits(max_connections=100, max_keepalive_connections=100)) as http:
        sms = {c.provider: c for c in build_channels(settings.model_copy(update={"sms_providers": "aliyun,tencent"}),
                                                    http)["sms"]}
        aliyun, tencent = sms["aliyun"], sms["tencent"]
        fast = settings.model_copy(update={"sms_providers": "aliyun", "sms_rate_per_s": 200.0})
        aliyun_fast = build_channels(fast, http)["sms"][0]
        assert isinstance(aliyun, AliyunSms) and isinstance(tencent, TencentSms)
        sms_cases: list[tuple[str, str, Any, int, int]] = [
            ("s4", "SendSms one by one, 4 in flight", aliyun, 1, 4),
            ("s8", f"SendSms one by one, {settings.sms_concurrency} in flight", aliyun, 1, settings.sms_concurrency),
            ("s1", f"SendSms one by one, {settings.sms_concurrency} in flight, SMS_RATE_PER_S=200", aliyun_fast, 1,
             settings.sms_concurrency),
            ("ab", "Aliyun SendBatchSms (100 a call), 1 in flight", aliyun, 100, 1),
            ("tb", "Tencent SendSms (200 numbers a call), 1 in flight", tencent, 200, 1),
        ]
        for tag, name, channel, batch, workers in sms_cases:
            await asyncio.sleep(1.0)  # each case starts with its provider's bucket refilled
            messages = _messages("sms", n_sms * 10 if batch > 1 else n_sms, tag)  # batches: enough calls to time
            send = channel.send_batch if batch > 1 else _one_by_one(channel)
            out[f"sms: {name}"] = got = await _drive(_chunks(messages, batch), workers, send)
            say(f"sms {name}: {got}")
        for tag, name, channel, batch in (("la", "letter by Aliyun SendBatchSms", aliyun, 100),
                                          ("lt", "letter by Tencent SendSms", tencent, 200)):
            if not letter:
                break
            await asyncio.sleep(1.0)
            messages = _messages("sms", letter, tag)
            name = f"{name}, {letter:,} parents, 2 calls in flight"
            out[f"sms: {name}"] = got = await _drive(_chunks(messages, batch), 2, channel.send_batch)
            say(f"sms {name}: {got}")
    return out

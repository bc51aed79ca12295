"""The SMTP pool against the real SMTP sink: connections reused, stale ones replaced, idle ones
closed, one refused recipient failing only its own message, and the record before reuse."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from antibully.infra import SmtpSink, free_port
from services.notify.channels.base import OutboundMessage, PermanentError, SendResult, TransientError
from services.notify.channels.smtp import SmtpChannel, smtp_message_id
from services.notify.mailer import SmtpMailer, SmtpPool
from shared.config import Settings
from tests.helpers import eventually

_MAILERS: list[SmtpMailer] = []


@pytest.fixture(autouse=True)
async def _close_pools() -> AsyncIterator[None]:
    yield
    while _MAILERS:
        await _MAILERS.pop().pool.aclose()


def mailer(sink: SmtpSink | None, **pool: float) -> SmtpMailer:
    port = sink.port if sink else free_port()
    settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_timeout_s=5)
    options = {"size": 2, "max_messages": 100, "idle_s": 30.0, "noop_after_s": 2.0} | pool
    made = SmtpMailer(settings, SmtpPool("127.0.0.1", port, 5, size=int(options["size"]),
                                         max_messages=int(options["max_messages"]), idle_s=options["idle_s"],
                                         noop_after_s=options["noop_after_s"]))
    _MAILERS.append(made)
    return made


def mail(i: int, to: str | None = None) -> OutboundMessage:
    return OutboundMessage(to or f"g{i}@example.cn", "校园欺凌事件通知", f"第 {i} 封", f"key-{i}")


async def test_sequential_sends_share_one_connection(smtp_sink: SmtpSink) -> None:
    channel = SmtpChannel(mailer(smtp_sink))
    for i in range(10):
        assert (await channel.send(mail(i))).message_id == smtp_message_id(f"key-{i}")
    assert len(smtp_sink.messages) == 10
    assert smtp_sink.connections == 1 and smtp_sink.messages_per_connection == [10]


async def test_concurrent_sends_never_open_more_than_the_pool(smtp_sink: SmtpSink) -> None:
    m = mailer(smtp_sink, size=3)
    await asyncio.gather(*(SmtpChannel(m).send(mail(i)) for i in range(30)))
    assert len(smtp_sink.messages) == 30
    assert 1 <= smtp_sink.connections <= 3 and m.pool.opened == smtp_sink.connections
    assert sorted(mm["Message-ID"] for mm in smtp_sink.messages) == sorted(smtp_message_id(f"key-{i}")
                                                                           for i in range(30))


async def test_messages_per_connection_are_capped(smtp_sink: SmtpSink) -> None:
    channel = SmtpChannel(mailer(smtp_sink, size=1, max_messages=3))
    for i in range(7):
        await channel.send(mail(i))
    assert smtp_sink.connections == 3 and smtp_sink.messages_per_connection == [3, 3, 1]


@pytest.mark.parametrize("noop_after_s", [0.0, 60.0], ids=["checked-by-noop", "retried-on-first-command"])
async def test_a_connection_the_server_dropped_is_replaced_transparently(smtp_sink: SmtpSink,
                                                                         noop_after_s: float) -> None:
    channel = SmtpChannel(mailer(smtp_sink, size=1, noop_after_s=noop_after_s))
    await channel.send(mail(1))
    smtp_sink.drop_connections()  # a relay restarting, or timing idle clients out
    await channel.send(mail(2))  # no error reaches the caller
    assert [m["Message-ID"] for m in smtp_sink.messages] == [smtp_message_id("key-1"), smtp_message_id("key-2")]
    assert smtp_sink.connections == 2


async def test_an_idle_connection_is_closed(smtp_sink: SmtpSink) -> None:
    m = mailer(smtp_sink, idle_s=0.2)
    await SmtpChannel(m).send(mail(1))
    assert smtp_sink.open_connections == 1
    assert await eventually(lambda: _zero(smtp_sink), timeout_s=10)
    await SmtpChannel(m).send(mail(2))  # and a new one is made when needed
    assert smtp_sink.connections == 2


async def _zero(sink: SmtpSink) -> bool:
    return sink.open_connections == 0


async def test_a_refused_recipient_fails_only_its_own_message(smtp_sink: SmtpSink) -> None:
    smtp_sink.refuse.add("nobody@example.cn")
    channel = SmtpChannel(mailer(smtp_sink))
    batch = [mail(0), mail(1, "nobody@example.cn"), mail(2)]
    results = await channel.send_batch(batch)
    assert results[0] == SendResult("smtp", smtp_message_id("key-0"))
    assert isinstance(results[1], PermanentError) and results[1].code == "smtp_recipient_refused"
    assert results[2] == SendResult("smtp", smtp_message_id("key-2"))
    assert [m["To"] for m in smtp_sink.messages] == ["g0@example.cn", "g2@example.cn"]
    with pytest.raises(PermanentError):  # a single send too, and the connection survives it
        await channel.send(mail(3, "nobody@example.cn"))
    await channel.send(mail(4))
    assert smtp_sink.connections == 1


async def test_a_batch_goes_over_one_connection_in_order(smtp_sink: SmtpSink) -> None:
    channel = SmtpChannel(mailer(smtp_sink))
    results = await channel.send_batch([mail(i) for i in range(12)])
    assert all(isinstance(r, SendResult) for r in results)
    assert [m["Subject"] for m in smtp_sink.messages] == ["校园欺凌事件通知"] * 12
    assert [m["To"] for m in smtp_sink.messages] == [f"g{i}@example.cn" for i in range(12)]
    assert smtp_sink.messages_per_connection == [12]


async def test_a_batch_continues_on_a_new_connection_after_a_drop(smtp_sink: SmtpSink) -> None:
    m = mailer(smtp_sink, size=1)
    dropped = asyncio.Event()

    async def drop_after_first(i: int, error: Exception | None) -> None:
        if i == 0:
            smtp_sink.drop_connections()
            dropped.set()

    mails = [m.compose(f"g{i}@example.cn", "s", "b", f"<b{i}@x>") for i in range(3)]
    seen: list[Exception | None] = []

    async def on_each(i: int, error: Exception | None) -> None:
        seen.append(error)
        await drop_after_first(i, error)

    await m.send_many(mails, on_each)
    assert dropped.is_set() and seen == [None, None, None]
    assert len(smtp_sink.messages) == 3 and smtp_sink.connections == 2


async def test_the_record_runs_before_the_connection_is_reused(smtp_sink: SmtpSink) -> None:
    """Pool of one, two sends at once: while the first records, the second has not gone out."""
    m = mailer(smtp_sink, size=1)
    counts: list[int] = []

    async def record() -> None:
        await asyncio.sleep(0.05)  # give the other send every chance to overtake
        counts.append(len(smtp_sink.messages))

    await asyncio.gather(m.send("a@example.cn", "s", "b", "<a@x>", record),
                         m.send("b@example.cn", "s", "b", "<b@x>", record))
    assert counts == [1, 2] and smtp_sink.connections == 1


async def test_no_server_is_transient_for_send_and_batch() -> None:
    channel = SmtpChannel(mailer(None))
    with pytest.raises(TransientError) as exc:
        await channel.send(mail(1))
    assert exc.value.code == "smtp_unavailable"
    with pytest.raises(TransientError):
        await channel.send_batch([mail(1), mail(2)])


async def test_notify_sends_its_notices_over_the_pool(settings: Settings, smtp_sink: SmtpSink) -> None:
    """The real consumer, 12 e-mail notices: each once, over no more connections than the pool holds."""
    from services.notify.app import running
    from shared.contracts import NoticeFacts, NotificationRequested, Recipient, RecipientRole
    from shared.contracts.base import derive_id, utcnow
    from shared.contracts.notification import Address, ChannelKind
    from tests.helpers import publish

    requests = []
    for i in range(12):
        nid = derive_id("pool-notice", i)
        requests.append(NotificationRequested(
            event_id=nid, incident_id=derive_id("pool-incident", i), notification_id=nid,
            recipient=Recipient(role=RecipientRole.victim_guardian, display_name="家长",
                                addresses=[Address(kind=ChannelKind.email, to=f"g{i}@example.cn")]),
            facts=NoticeFacts(case_ref=f"AB-POOL-{i}", school_id="demo-school", school_name="乐昌市示范中学",
                              reasons_zh=[], occurred_at=utcnow())))
    configured = settings.model_copy(update={"smtp_pool_size": 2})
    async with running(configured):
        for r in requests:
            await publish(configured.nats_url, r)

        async def all_there() -> bool:
            return len(smtp_sink.messages) >= len(requests)

        assert await eventually(all_there, timeout_s=60)
    assert sorted(m["Message-ID"] for m in smtp_sink.messages) == sorted(
        smtp_message_id(str(r.notification_id)) for r in requests)
    assert 1 <= smtp_sink.connections <= 2

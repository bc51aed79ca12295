"""What the bus keeps, and for how long: streams only as long as recovery needs, published outbox rows without
their payload, dead letters sealed or a reference (docs/security.md "Children's data on the bus")."""

from __future__ import annotations

import uuid

import asyncpg
import nats
import pytest

from antibully.infra import NatsServer
from shared.bus import setup_nats
from shared.config import Settings
from shared.contracts.base import derive_id, utcnow
from shared.contracts.escalation import RecipientRole
from shared.contracts.notification import FamilyMessageAdded
from shared.db import SHARED_SQL
from shared.dead_letters import Origin, seal
from shared.outbox import OutboxRelay, enqueue
from shared.subjects import DAY, DEAD_LETTERS, STREAMS

MESSAGE = "请学校多关注孩子，他说有人在宿舍打他。"


@pytest.mark.pure
def test_no_stream_keeps_events_longer_than_recovery_needs() -> None:
    assert {s.name: s.max_age_s for s in STREAMS if s is not DEAD_LETTERS} == {
        s.name: 14 * DAY for s in STREAMS if s is not DEAD_LETTERS}
    assert DEAD_LETTERS.max_age_s == 90 * DAY


async def test_the_running_streams_have_the_short_retention(nats_server: NatsServer) -> None:
    """The setup step also shortens a stream made with the old 90 days (update_stream)."""
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        from nats.js import api

        await js.add_stream(api.StreamConfig(name="AB_NOTIFY", subjects=["ab.notify.>"], max_age=90 * DAY))
        await setup_nats(Settings(nats_url=nats_server.url))  # the admin's credentials are in the URL
        ages = {s.name: (await js.stream_info(s.name)).config.max_age for s in STREAMS}
        assert ages["AB_NOTIFY"] == ages["AB_REPORTS"] == 14 * DAY and ages["AB_DEAD_LETTERS"] == 90 * DAY
    finally:
        await nc.close()


@pytest.mark.pure
def test_a_dead_letter_without_a_key_is_a_reference_with_no_body() -> None:
    event = FamilyMessageAdded(event_id=derive_id("x"), incident_id=uuid.uuid4(), notification_id=uuid.uuid4(),
                               role=RecipientRole.victim_guardian, text=MESSAGE)
    now = utcnow()
    origin = Origin(service="archive", subject=event.subject, stream="AB_NOTIFY", stream_seq=7,
                    msg_id=str(event.event_id), reason="invalid_payload", detail="text", attempts=3, first_at=now,
                    last_at=now, event_id=event.event_id)
    _, body, headers, _ = seal(origin, event.model_dump_json().encode(), None)
    assert body == b"" and headers["Ab-Body"] == "reference"


async def test_a_published_outbox_row_keeps_no_payload(database: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(SHARED_SQL.read_text())
        event = FamilyMessageAdded(event_id=derive_id("y"), incident_id=uuid.uuid4(), notification_id=uuid.uuid4(),
                                   role=RecipientRole.victim_guardian, text=MESSAGE)
        await enqueue(conn, event)
        sent: list[bytes] = []

        async def publish(subject: str, payload: bytes, msg_id: str, headers: dict[str, str]) -> None:
            sent.append(payload)

        pool = await asyncpg.create_pool(database, min_size=1, max_size=1)
        try:
            relay = OutboxRelay(pool, publish, deps=None)  # type: ignore[arg-type]
            assert await relay.flush() == 1
        finally:
            await pool.close()
        assert sent and MESSAGE.encode() in sent[0]  # (this event built in clear: the row held it until published)
        row = await conn.fetchrow("SELECT payload, published_at FROM outbox")
        assert row["payload"] is None and row["published_at"] is not None
    finally:
        await conn.close()

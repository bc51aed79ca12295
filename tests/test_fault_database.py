"""PostgreSQL stopped for two minutes while reports flow: every report accepted is decided once, every
notice delivered once, every event archived once, every chain verifies, and nothing is dead-lettered.

Reports arrive at 2/s; the database stops (`pg_ctl stop -m fast`) while the first ones are still
being decided, sent and archived, and stays away 120 s. School systems retry the 503s they get
meanwhile with the same Idempotency-Key, as intake's answer asks them to.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from antibully.infra import NatsServer, SmtpSink
from antibully.processes import PostgresProcess
from shared.config import Settings
from tests.fault_rig import SERVICES, Rig, assert_nothing_lost, rig_env, settle
from tests.helpers import ServiceProcesses

pytestmark = pytest.mark.timeout(600)

OUTAGE_S = 120.0


@pytest.fixture
async def pg(tmp_path: Path) -> AsyncIterator[PostgresProcess]:
    from antibully.migrate import migrate_database

    with PostgresProcess(tmp_path / "pg") as server:
        server.start()
        await migrate_database(Settings(database_url=server.url))  # the services run as their roles
        yield server


@pytest.fixture
def rig(tmp_path: Path, pg: PostgresProcess, nats_server: NatsServer, smtp_sink: SmtpSink) -> Iterator[Rig]:
    env = rig_env(nats_server.url, pg.url, smtp_sink.port)
    logs = tmp_path / "logs"
    logs.mkdir()
    rig = Rig(env, ServiceProcesses(env, logs), smtp_sink)
    try:
        yield rig
    finally:
        rig.fleet.stop_all()
        rig.fleet.print_logs(25)


async def test_database_away_for_two_minutes(rig: Rig, pg: PostgresProcess) -> None:
    # A backlog first: 40 reports accepted while only intake runs, so that escalation, notify and archive
    # are in the middle of it (deciding, sending, archiving) when the database goes away.
    await rig.start(("intake",))
    await rig.post(40, 20.0, "backlog")
    steady = asyncio.create_task(rig.post(10, 2.0, "steady"))
    await rig.start(("escalation", "notify", "archive"))
    await asyncio.sleep(1.5)
    pg.stop("fast")
    down_at = time.monotonic()
    await asyncio.sleep(6.0)
    for service in SERVICES:
        assert not await rig.ready(service), service  # /readyz: not ready while the database is away
    during = asyncio.create_task(rig.post(20, 0.5, "during"))
    await asyncio.sleep(OUTAGE_S - (time.monotonic() - down_at))
    pg.start()
    await rig.post(10, 1.0, "after")
    await asyncio.gather(steady, during)
    counts = await settle(rig, f"postgres stopped {OUTAGE_S:.0f} s mid-backlog")
    assert_nothing_lost(counts)
    assert counts.first_answers.get(503, 0) > 0  # the outage was real: intake refused while it lasted
    for service in SERVICES:
        assert await rig.ready(service), service

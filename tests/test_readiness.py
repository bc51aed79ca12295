"""/readyz says whether a service can do its work now, /healthz only that the process answers: the five
services as real processes, and PostgreSQL stopped, NATS SIGKILLed, a durable consumer deleted, each
in turn and then brought back. While a dependency is away every service that needs it is not ready
(the console: while the archive and intake it works through are not), saying which dependency; after
it is back, every one is ready again. /healthz answers 200 throughout."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from antibully.infra import NatsServer, SmtpSink, free_port
from antibully.processes import PostgresProcess
from shared.bus import servers
from shared.bus_topology import TOPOLOGY
from shared.config import Settings
from shared.crypto import new_key_b64
from tests.fault_rig import Rig, rig_env
from tests.helpers import ServiceProcesses, eventually

pytestmark = pytest.mark.timeout(300)

BACKENDS = ("intake", "escalation", "notify", "archive")
SERVICES = (*BACKENDS, "console")


@pytest.fixture
async def pg(tmp_path: Path) -> AsyncIterator[PostgresProcess]:
    from antibully.migrate import migrate_database

    with PostgresProcess(tmp_path / "pg") as server:
        server.start()
        await migrate_database(Settings(database_url=server.url))
        yield server


async def probe(rig: Rig, path: str) -> dict[str, tuple[int, dict[str, Any]]]:
    """Each service's answer to `path`: status and body (0 when it does not answer at all)."""
    answers: dict[str, tuple[int, dict[str, Any]]] = {}
    async with httpx.AsyncClient(timeout=3) as client:
        for service in SERVICES:
            try:
                r = await client.get(f"http://127.0.0.1:{rig.env[f'{service.upper()}_PORT']}{path}")
                answers[service] = (r.status_code, r.json())
            except httpx.HTTPError:
                answers[service] = (0, {})
    return answers


async def all_ready(rig: Rig) -> bool:
    return all(status == 200 for status, _ in (await probe(rig, "/readyz")).values())


async def none_ready(rig: Rig, down: str, services: tuple[str, ...] = SERVICES) -> dict[str, Any] | None:
    """The answers once every one of `services` is not ready, the backends naming `down` as down."""
    answers = await probe(rig, "/readyz")
    if all(answers[s][0] == 503 for s in services) and all(
            answers[s][1].get(down) == "down" for s in services if s in BACKENDS):
        return answers
    return None


async def alive(rig: Rig) -> None:
    answers = await probe(rig, "/healthz")
    assert all(status == 200 for status, _ in answers.values()), answers


async def test_readiness_follows_postgres_nats_and_the_consumers(tmp_path: Path, pg: PostgresProcess,
                                                                 nats_server: NatsServer, smtp_sink: SmtpSink) -> None:
    env = rig_env(nats_server.url, pg.url, smtp_sink.port, CONSOLE_PORT=str(free_port()), CONSOLE_DEV_MODE="1",
                  CONSOLE_SESSION_KEY=new_key_b64())
    logs = tmp_path / "logs"
    logs.mkdir()
    rig = Rig(env, ServiceProcesses(env, logs), smtp_sink)
    try:
        await rig.start(SERVICES)
        await eventually(lambda: all_ready(rig), timeout_s=30, interval_s=0.5)
        ready = await probe(rig, "/readyz")
        assert ready["escalation"][1] == {"ready": True, "postgres": "up", "nats": "up", "consumers": "up"}
        assert ready["console"][1] == {"ready": True, "archive": "up", "intake": "up"}

        pg.stop("fast")
        down = await eventually(lambda: none_ready(rig, "postgres"), timeout_s=20, interval_s=0.5)
        assert down["console"][1] == {"ready": False, "archive": "down", "intake": "down"}
        await alive(rig)
        pg.start()
        await eventually(lambda: all_ready(rig), timeout_s=30, interval_s=0.5)

        nats_server.kill()
        await eventually(lambda: none_ready(rig, "nats"), timeout_s=20, interval_s=0.5)
        await alive(rig)
        nats_server.restart()
        await eventually(lambda: all_ready(rig), timeout_s=40, interval_s=0.5)

        # a durable consumer gone (deleted by hand, a stream re-created): its service is not ready until the
        # setup step has made it again; the others are not concerned
        spec = TOPOLOGY["escalation"].consumers[0]
        nc = await nats.connect(servers(nats_server.url), connect_timeout=5)
        try:
            await nc.jetstream().delete_consumer(spec.stream, spec.durable)
        finally:
            await nc.close()
        unbound = await eventually(lambda: none_ready(rig, "consumers", ("escalation",)), timeout_s=20,
                                   interval_s=0.5)
        assert unbound["escalation"][1]["postgres"] == unbound["escalation"][1]["nats"] == "up"
        others = await probe(rig, "/readyz")
        assert all(others[s][0] == 200 for s in ("intake", "archive", "console")), others
        rig.fleet.setup_nats()
        await eventually(lambda: all_ready(rig), timeout_s=30, interval_s=0.5)
    finally:
        rig.fleet.stop_all()
        rig.fleet.print_logs(10)

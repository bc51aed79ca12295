"""Several intake processes on one port (INTAKE_WORKERS): the kernel spreads connections over them,
each is a full intake, an Idempotency-Key holds across them, and the port stays served when one dies."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from antibully.cli import add_school
from antibully.processes import ServiceProcesses
from services.intake.workers import connections_needed, worker_env, worker_names, worker_pool_size
from shared.config import Settings
from shared.contracts import IncidentReported
from shared.subjects import REPORTS
from tests.helpers import NATS_KEYS, eventually, report, stream_messages

CONNECTIONS = 16  # all on one worker by chance: 2 × 2^-16


@pytest.mark.pure
def test_each_worker_gets_a_share_of_the_pool() -> None:
    assert worker_pool_size(10, 1) == 10
    assert worker_pool_size(10, 2) == 5
    assert worker_pool_size(10, 3) == 4
    assert worker_pool_size(10, 8) == 3  # never below the consumers' floor
    assert connections_needed(10, 2) == 10
    assert connections_needed(10, 8) == 24
    assert worker_names(3) == ["intake", "intake-2", "intake-3"]
    assert worker_env({"INTAKE_METRICS_PORT": "9100", "X": "1"}, 2) == {"INTAKE_METRICS_PORT": "9102", "X": "1"}
    assert worker_env({"INTAKE_METRICS_PORT": "0"}, 1) == {"INTAKE_METRICS_PORT": "0"}
    assert worker_env({}, 0) == {}


def _accepted_connections(pid: int, port: int) -> int:
    """Established TCP connections on `port` (server side) whose socket this process holds (Linux /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            local_port = int(cols[1].rsplit(":", 1)[1], 16)
            if local_port == port and cols[3] == "01" and cols[9] in inodes:  # 01: ESTABLISHED
                count += 1
    return count


@pytest.fixture
def fleet(settings: Settings, tmp_path: Path) -> Iterator[ServiceProcesses]:
    env = {**os.environ, "NATS_URL": settings.nats_url, "DATABASE_URL": settings.database_url,
           "INTAKE_HOST": "127.0.0.1", "INTAKE_PORT": str(settings.intake_port), "LOG_LEVEL": "INFO",
           "INTAKE_DATA_KEY": settings.intake_data_key, "PSEUDONYM_KEY": settings.pseudonym_key, **NATS_KEYS.env()}
    fleet = ServiceProcesses(env, tmp_path)
    try:
        yield fleet
    finally:
        fleet.stop_all()
        fleet.print_logs()


async def test_two_workers_serve_one_port(fleet: ServiceProcesses, settings: Settings, tmp_path: Path) -> None:
    key = await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
    names = fleet.start_intake(2)

    async def all_ready() -> bool:
        for name in names:
            assert fleet.procs[name].poll() is None, f"{name} exited: a second bind on the port failed?"
        return all("intake ready" in (tmp_path / f"{n}.log").read_text(errors="replace") for n in names)

    await eventually(all_ready, timeout_s=60, interval_s=0.1)
    base = f"http://127.0.0.1:{settings.intake_port}"
    clients = [httpx.AsyncClient(base_url=base, timeout=15, limits=httpx.Limits(max_connections=1))
               for _ in range(CONNECTIONS)]
    try:
        def post(client: httpx.AsyncClient, idem: str) -> asyncio.Future[httpx.Response]:
            return asyncio.ensure_future(client.post("/v1/incidents", json=report(), headers={
                "Authorization": f"Bearer {key}", "Idempotency-Key": idem}))

        first = await asyncio.gather(*(post(c, f"worker-{i:03d}") for i, c in enumerate(clients)))
        assert [r.status_code for r in first] == [202] * CONNECTIONS, [r.text for r in first]

        # Each connection is held by the worker that accepted it: both have some.
        held = {name: _accepted_connections(fleet.procs[name].pid, settings.intake_port) for name in names}
        assert sum(held.values()) == CONNECTIONS, held
        assert all(held.values()), f"one worker took every connection: {held}"

        # The same key over every connection (so on both workers): the same incident, replayed.
        again = await asyncio.gather(*(post(c, "worker-000") for c in clients))
        assert {r.status_code for r in again} == {202}
        assert {r.json()["incident_id"] for r in again} == {first[0].json()["incident_id"]}
        assert all(r.headers.get("Idempotent-Replayed") == "true" for r in again)

        stored = Counter(str(IncidentReported.model_validate_json(m.data).incident_id)
                         for m in await stream_messages(settings.nats_url, REPORTS.name))
        assert stored == Counter({r.json()["incident_id"]: 1 for r in first})  # each once, none lost

        # One worker dies: the port is still served by the other, on new connections.
        fleet.kill(names[1])
        async with httpx.AsyncClient(base_url=base, timeout=15) as fresh:
            for i in range(4):  # a new connection each time: any of them could have gone to the dead one
                r = await fresh.post("/v1/incidents", json=report(), headers={
                    "Authorization": f"Bearer {key}", "Idempotency-Key": f"after-kill-{i}", "Connection": "close"})
                assert r.status_code == 202, r.text
    finally:
        for client in clients:
            await client.aclose()

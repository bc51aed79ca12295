"""The servers fault-injection tests take down: PostgreSQL stopped and crashed keeps committed rows,
a nats-server SIGKILLed keeps acknowledged messages, a three-node cluster loses no acknowledged
message of an R3 stream when a node dies, and nothing outlives its owner."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.errors import Error as NatsError
from nats.js.api import StreamConfig

from antibully.infra import NatsServer, child_process_options, port_open
from antibully.processes import NatsCluster, PostgresProcess, pid_alive
from shared.config import ROOT
from tests.helpers import NATS_KEYS, eventually, stream_messages

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[PostgresProcess]:
    server = PostgresProcess(tmp_path / "pg").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    with NatsCluster(tmp_path / "cluster", keys=NATS_KEYS) as started:
        yield started


async def rows(url: str) -> list[int]:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        return [r["x"] for r in await conn.fetch("SELECT x FROM t ORDER BY x")]
    finally:
        await conn.close()


async def test_postgres_down_and_up_again_on_the_same_port_keeps_committed_rows(pg: PostgresProcess) -> None:
    conn = await asyncpg.connect(pg.url)
    await conn.execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
    await conn.close()
    port = pg.port

    pg.stop()
    assert not pg.running and not port_open(port)
    with pytest.raises(OSError):
        await asyncpg.connect(pg.url, timeout=2)

    pg.start()
    assert pg.port == port and pg.running
    assert await rows(pg.url) == [1]

    conn = await asyncpg.connect(pg.url)  # open across the crash, as a service's pool would be
    await conn.execute("INSERT INTO t VALUES (2)")
    backend = await conn.fetchval("SELECT pg_backend_pid()")
    pg.kill()
    assert not pg.running and not port_open(port)
    assert not pid_alive(backend), "a backend outlived the postmaster's SIGKILL"
    with pytest.raises(OSError):
        await asyncpg.connect(pg.url, timeout=2)
    conn.terminate()

    pg.start()  # crash recovery replays the WAL
    assert await rows(pg.url) == [1, 2]


def test_postgres_does_not_outlive_its_owner(tmp_path: Path) -> None:
    """The owner SIGKILLed, no clean-up code runs: only the parent-death signal stops postgres."""
    data = tmp_path / "pg"
    owner = subprocess.Popen(
        [sys.executable, "-c", "import time; from pathlib import Path; "
         "from antibully.processes import PostgresProcess; "
         f"pg = PostgresProcess(Path({str(data)!r})).start(); print(pg.port, pg.socket_dir, flush=True); "
         "time.sleep(60)"],
        cwd=ROOT, stdout=subprocess.PIPE, **child_process_options(),
    )
    socket_dir = None
    try:
        assert owner.stdout is not None
        port_text, socket_dir = owner.stdout.readline().decode().split()  # the child's own timeouts bound this
        port = int(port_text)
        assert port_open(port)
        owner.kill()
        owner.wait(timeout=10)
        deadline = time.monotonic() + 20
        while port_open(port):
            assert time.monotonic() < deadline, "postgres outlived its owner"
            time.sleep(0.1)
    finally:
        owner.kill()
        owner.wait(timeout=10)
        pid_file = data / "postmaster.pid"
        if pid_file.exists() and pid_alive(pid := int(pid_file.read_text().split()[0])):
            os.kill(pid, signal.SIGKILL)
        if socket_dir:
            shutil.rmtree(socket_dir, ignore_errors=True)


async def test_nats_server_kill_and_restart_keeps_acknowledged_messages(nats_server: NatsServer) -> None:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="KILLME", subjects=["killme.>"]))
    for i in range(10):
        await js.publish("killme.x", str(i).encode())
    await nc.close()

    nats_server.kill()
    assert not nats_server.running and not port_open(nats_server.port)
    nats_server.restart()
    assert [m.data for m in await stream_messages(nats_server.url, "KILLME")] == [str(i).encode() for i in range(10)]

    nats_server.stop()
    nats_server.restart()
    assert len(await stream_messages(nats_server.url, "KILLME")) == 10


async def test_cluster_loses_no_acknowledged_message_when_the_stream_leader_dies(cluster: NatsCluster) -> None:
    assert cluster.url == ",".join(cluster.urls)
    admin = await nats.connect(servers=cluster.urls)  # a list: a comma-separated string is refused
    try:
        await admin.jetstream().add_stream(StreamConfig(name="R3", subjects=["r3.>"], num_replicas=3))

        async def stream_leader() -> str:
            info = await admin.jetstream().stream_info("R3")
            return (info.cluster.leader if info.cluster else None) or ""

        leader = cluster.names.index(await eventually(stream_leader, timeout_s=10))
    finally:
        await admin.close()

    # The publisher sits on the leader's node: killing it forces both a reconnect and an election.
    reconnects: list[str] = []

    async def on_reconnect() -> None:
        reconnects.append(nc.connected_url.geturl() if nc.connected_url else "")

    nc = await nats.connect(servers=[cluster.urls[leader], *(u for j, u in enumerate(cluster.urls) if j != leader)],
                            dont_randomize=True, reconnect_time_wait=0.2, max_reconnect_attempts=-1,
                            reconnected_cb=on_reconnect)
    js = nc.jetstream()

    async def publish(i: int) -> int:
        """Until a PubAck; the message id makes a retry of an already stored message a duplicate."""
        deadline = time.monotonic() + 30
        while True:
            try:
                ack = await js.publish("r3.x", str(i).encode(), timeout=2, headers={"Nats-Msg-Id": f"m-{i}"})
                return ack.seq
            except (TimeoutError, NatsError):  # reconnecting, electing a leader
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    try:
        acked = [await publish(i) for i in range(20)]
        assert nc.connected_url is not None and nc.connected_url.port == cluster.nodes[leader].port
        cluster.kill(leader)
        acked += [await publish(i) for i in range(20, 60)]
        assert reconnects and all(url != cluster.urls[leader] for url in reconnects), reconnects
        assert acked == list(range(1, 61))

        cluster.restart(leader)

        async def every_replica_has_all() -> bool:
            for i in range(cluster.size):
                [account] = cluster.monitor(i, "jsz", streams="true")["account_details"]
                [stream] = account["stream_detail"]
                if (stream["state"]["messages"], stream["state"]["last_seq"]) != (60, 60):
                    return False
            return True

        await eventually(every_replica_has_all, timeout_s=20)
        stored = await stream_messages(cluster.urls[leader], "R3")
        assert [m.data for m in stored] == [str(i).encode() for i in range(60)]
    finally:
        await nc.close()

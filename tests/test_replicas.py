"""Scale-out shown (issue 15, item 6): compose.yaml's topology as processes — two replicas of every service
against a three-node NATS cluster (every stream at R3) and one PostgreSQL — under a load of severe reports
and their follow-ups, spread over both intake replicas. The counts are those of one replica: each report
decided once, each notice sent once (one e-mail per notice, no Message-ID twice), each event archived once,
nothing dead-lettered; the archive's two checkpoint loops sign each chain head once.

What runs on a timer in every replica was checked for doubling before this test was written
(docs/operations.md, "Compose and scale-out"): escalation's watchdog takes overdue duties and unpublished
duty changes with SKIP LOCKED and decides the daily digest by inserting its (day, jurisdiction) row; notify's
robot digests lease queued notices, its reachability report inserts its (day, gaps) row first, letters lease
their rows; the outbox relays take rows with SKIP LOCKED and JetStream drops a re-published id; the archive's
checkpoints take an advisory lock and sign only heads that moved, and shredding deletes keys (idempotent).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import nats
import pytest

from antibully.infra import SmtpSink, free_port, wait_port
from antibully.processes import NatsCluster
from shared.crypto import new_key_b64
from shared.subjects import STREAMS
from tests.fault_rig import SERVICES, Rig, assert_nothing_lost, error_lines, rig_env, settle
from tests.helpers import NATS_KEYS, ServiceProcesses, report

pytestmark = pytest.mark.timeout(420)

REPORTS = 60
RATE_PER_S = 4.0
FOLLOW_UP = {"facts_changed": "复查：双方家长已到校沟通，涉事学生已作出书面检讨。",
             "measures_taken": ["班主任每日关注涉事学生"]}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    with NatsCluster(tmp_path / "cluster", keys=NATS_KEYS) as c:
        yield c


def _second() -> dict[str, str]:
    """The second replica of each service: its own HTTP ports (a container of its own in compose)."""
    return {f"{s.upper()}_PORT": str(free_port()) for s in SERVICES}


async def _post_with_follow_ups(rig: Rig, intake_ports: list[int]) -> int:
    """REPORTS severe reports, alternately to each intake replica, each followed once accepted by one
    follow-up through the other replica; returns the follow-ups accepted. A 503 or a refused connection is
    retried with the same Idempotency-Key, as a school system does."""
    headers = {"Authorization": f"Bearer {rig.key}"}
    clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{p}", timeout=15) for p in intake_ports]
    follow_ups = 0

    async def send(client: httpx.AsyncClient, path: str, body: dict[str, object], key: str) -> httpx.Response | None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                r = await client.post(path, json=body, headers=headers | {"Idempotency-Key": key})
                if r.status_code != 503:
                    return r
            except httpx.HTTPError:
                pass
            rig.load.retries += 1
            await asyncio.sleep(3.0)
        return None

    async def one(i: int) -> None:
        nonlocal follow_ups
        r = await send(clients[i % 2], "/v1/incidents", report(), f"replicas-{i:04d}")
        rig.load.first_answers[r.status_code if r is not None else 0] += 1
        if r is None or r.status_code != 202:
            return
        incident_id = r.json()["incident_id"]
        rig.load.accepted.append(incident_id)
        fu = await send(clients[(i + 1) % 2], f"/v1/incidents/{incident_id}/follow-ups", FOLLOW_UP,
                        f"replicas-fu-{i:04d}")
        assert fu is not None and fu.status_code == 202, fu.text if fu is not None else "no answer"
        follow_ups += 1

    try:
        tasks = []
        for i in range(REPORTS):
            rig.load.sent += 1
            tasks.append(asyncio.create_task(one(i)))
            await asyncio.sleep(1 / RATE_PER_S)
        await asyncio.gather(*tasks)
    finally:
        for client in clients:
            await client.aclose()
    return follow_ups


async def _archived(database_url: str, event_type: str, n: int, timeout_s: float = 120.0) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            got = int(await conn.fetchval("SELECT count(*) FROM archive.entries WHERE event_type = $1", event_type))
            if got >= n or time.monotonic() > deadline:
                return got
            await asyncio.sleep(1.0)
    finally:
        await conn.close()


async def _stream_replicas(cluster: NatsCluster) -> set[int]:
    nc = await nats.connect(cluster.urls)
    try:
        js = nc.jetstream()
        return {(await js.stream_info(s.name)).config.num_replicas for s in STREAMS}
    finally:
        await nc.close()


async def _heads_checkpointed_twice(database_url: str) -> tuple[int, int, list[int]]:
    """(checkpoints, heads signed more than once, checkpoint ids): two replicas' loops sign each head once."""
    conn = await asyncpg.connect(database_url)
    try:
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM archive.checkpoints ORDER BY id")]
        twice = await conn.fetchval(
            "SELECT count(*) FROM (SELECT h->>0, h->>1 FROM archive.checkpoints, jsonb_array_elements(heads) h"
            " GROUP BY 1, 2 HAVING count(*) > 1) d")
        return len(ids), int(twice), ids
    finally:
        await conn.close()


async def test_two_replicas_of_every_service_on_a_three_node_cluster_count_as_one(
        tmp_path: Path, cluster: NatsCluster, database: str, smtp_sink: SmtpSink) -> None:
    env = rig_env(cluster.url, database, smtp_sink.port, NATS_REPLICAS="3",
                  ARCHIVE_SIGNING_KEY=new_key_b64(), ARCHIVE_CHECKPOINT_INTERVAL_S="2", WATCHDOG_INTERVAL_S="1")
    logs = tmp_path / "logs"
    logs.mkdir()
    rig = Rig(env, ServiceProcesses(env, logs), smtp_sink)
    second = _second()
    consoles = [free_port(), free_port()]
    try:
        await rig.start()
        for name in SERVICES:  # the second replica of each, as compose's `deploy: replicas: 2` starts it
            rig.fleet.start(f"{name}-b", name, **second)
        console_env = {"CONSOLE_SESSION_KEY": new_key_b64(), "CONSOLE_DEV_MODE": "1",
                       "CONSOLE_ARCHIVE_URL": f"http://127.0.0.1:{env['ARCHIVE_PORT']}",
                       "CONSOLE_INTAKE_URL": f"http://127.0.0.1:{env['INTAKE_PORT']}"}
        for i, port in enumerate(consoles):
            rig.fleet.start(f"console-{i + 1}", "console", CONSOLE_PORT=str(port), **console_env)
        for name in SERVICES:
            wait_port(int(second[f"{name.upper()}_PORT"]), timeout_s=60, proc=rig.fleet.procs[f"{name}-b"])
        for i, port in enumerate(consoles):
            wait_port(port, timeout_s=60, proc=rig.fleet.procs[f"console-{i + 1}"])
        async with httpx.AsyncClient(timeout=10) as client:
            for port in consoles:  # either console serves (sealed-cookie sessions: no state of its own)
                assert (await client.get(f"http://127.0.0.1:{port}/login")).status_code == 200

        assert await _stream_replicas(cluster) == {3}  # every stream on all three nodes
        intake_ports = [int(env["INTAKE_PORT"]), int(second["INTAKE_PORT"])]
        follow_ups = await _post_with_follow_ups(rig, intake_ports)
        assert follow_ups == REPORTS
        assert await _archived(database, "FollowUpReported", follow_ups) == follow_ups
        counts = await settle(rig, f"2 replicas of every service, 3-node cluster: {REPORTS} reports + follow-ups")
        archived = counts.archived.pop("FollowUpReported")
        assert archived == follow_ups, counts  # each follow-up archived once, by one of the two archives
        assert_nothing_lost(counts)

        # both replicas of each service did part of the work: the load really was shared
        for name in SERVICES:
            handled = [_handled(logs / f"{n}.log") for n in (name, f"{name}-b")]
            assert all(handled), f"{name}: one replica did nothing ({handled})"
        await asyncio.sleep(3.0)  # another checkpoint round of both archives
        checkpoints, twice, ids = await _heads_checkpointed_twice(database)
        assert checkpoints >= 1 and twice == 0 and ids == list(range(1, checkpoints + 1)), (checkpoints, twice, ids)
        assert error_lines(logs) == []  # no replica logged an error (a lost race, a refused duplicate)
    finally:
        rig.fleet.stop_all()
        rig.fleet.print_logs(15)


def _handled(log: Path) -> int:
    """Lines a replica logged about messages it handled (FastStream logs each message it consumes)."""
    return sum(1 for line in log.read_text(errors="replace").splitlines() if "Received" in line)

"""NATS taken away under load: a single nats-server SIGKILLed and restarted, and a three-node cluster
(streams at R3) losing the leader of the reports stream, which later rejoins. Every report accepted
is decided once, every notice delivered once, every event archived once, nothing dead-lettered."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from antibully.infra import NatsServer, SmtpSink
from antibully.processes import NatsCluster
from tests.fault_rig import Rig, assert_nothing_lost, rig_env, settle
from tests.helpers import NATS_KEYS, ServiceProcesses

pytestmark = pytest.mark.timeout(600)


def _rig(tmp_path: Path, nats_url: str, database: str, sink: SmtpSink, **extra: str) -> Rig:
    env = rig_env(nats_url, database, sink.port, **extra)
    logs = tmp_path / "logs"
    logs.mkdir()
    return Rig(env, ServiceProcesses(env, logs), sink)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    with NatsCluster(tmp_path / "cluster", keys=NATS_KEYS) as c:
        yield c.start()


async def test_nats_killed_and_restarted_under_load(tmp_path: Path, nats_server: NatsServer, database: str,
                                                    smtp_sink: SmtpSink) -> None:
    rig = _rig(tmp_path, nats_server.url, database, smtp_sink)
    try:
        await rig.start()
        posting = asyncio.create_task(rig.post(40, 2.0, "nats-kill"))
        await asyncio.sleep(8.0)
        nats_server.kill()
        await asyncio.sleep(10.0)
        nats_server.restart()
        await posting
        assert_nothing_lost(await settle(rig, "nats-server SIGKILLed for 10 s"))
    finally:
        rig.fleet.stop_all()
        rig.fleet.print_logs(25)


async def test_cluster_loses_the_reports_leader_under_load(tmp_path: Path, cluster: NatsCluster, database: str,
                                                           smtp_sink: SmtpSink) -> None:
    rig = _rig(tmp_path, cluster.url, database, smtp_sink, NATS_REPLICAS="3")
    try:
        await rig.start()
        posting = asyncio.create_task(rig.post(40, 2.0, "cluster"))
        await asyncio.sleep(8.0)
        leader = await _leader(cluster, "AB_REPORTS")
        cluster.kill(leader)
        await asyncio.sleep(12.0)
        cluster.restart(leader)  # it rejoins and catches up
        await posting
        counts = await settle(rig, f"3-node cluster lost node {leader} (leader of AB_REPORTS) for 12 s")
        assert_nothing_lost(counts)
        await _replicas_agree(cluster)
    finally:
        rig.fleet.stop_all()
        rig.fleet.print_logs(25)


async def _leader(cluster: NatsCluster, stream: str) -> int:
    nc = await nats.connect(cluster.urls)
    try:
        info = await nc.jetstream().stream_info(stream)
    finally:
        await nc.close()
    assert info.config.num_replicas == 3 and info.cluster is not None
    return cluster.names.index(info.cluster.leader)


async def _replicas_agree(cluster: NatsCluster) -> None:
    """Every node, the rejoined one too, holds every stream up to the same last sequence."""
    for _ in range(30):
        views = [{s["name"]: s["state"]["last_seq"] for a in cluster.monitor(i, "jsz", streams="true")
                  .get("account_details", []) for s in a.get("stream_detail", [])} for i in range(3)]
        if views[0] and views[0] == views[1] == views[2]:
            return
        await asyncio.sleep(1.0)
    raise AssertionError(f"replicas disagree: {views}")

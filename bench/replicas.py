"""Capacity with one and with two replicas of every service, run by hand (never by pytest):

    .venv/bin/python -m bench.replicas [--reports 150] [--replicas 1,2] [--clients 16]

For each replica count: a three-node NATS cluster (every stream at R3) and a fresh database, as compose
runs them (docs/operations.md, "Compose and scale-out"), the services as processes (tests/fault_rig.py's
environment: e-mail only, 7 notices per severe report). Two phases:

- **intake**: only the intake replicas run; `--reports` severe reports from `--clients` concurrent
  clients in a closed loop, spread over the replicas: reports accepted per second;
- **drain**: then escalation, notify and archive (that many replicas each) start on that backlog: time
  from all of them listening until every notice is archived as delivered; notices and reports per second.

The counts are checked as tests/test_replicas.py checks them (each decided, sent, archived once).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.common import bus_keys, run_loop, tests_module

# the tests' rig (tests/fault_rig.py, tests/helpers.py): the benchmark counts as the tests count
_tests = tests_module


async def _intake_phase(rig: Any, ports: list[int], n: int, clients: int) -> float:
    report = _tests("helpers").report
    headers = {"Authorization": f"Bearer {rig.key}"}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def client(c: int) -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[c % len(ports)]}", timeout=30) as http:
            while not queue.empty():
                i = queue.get_nowait()
                while True:
                    r = await http.post("/v1/incidents", json=report(),
                                        headers=headers | {"Idempotency-Key": f"bench-{i:05d}"})
                    if r.status_code == 202:
                        rig.load.accepted.append(r.json()["incident_id"])
                        break
                    await asyncio.sleep(0.5)

    rig.load.sent = n
    started = time.monotonic()
    await asyncio.gather(*(client(c) for c in range(clients)))
    return n / (time.monotonic() - started)


async def _delivered(database_url: str, expected: int, timeout_s: float) -> float:
    conn = await asyncpg.connect(database_url)
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout_s:
            if await conn.fetchval("SELECT count(*) FROM archive.recipients WHERE status = 'delivered'") >= expected:
                return time.monotonic() - started
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    raise TimeoutError(f"not all {expected} notices delivered after {timeout_s}s")


async def _one(replicas: int, args: argparse.Namespace, base_url: str, tmp: Path) -> dict[str, float]:
    from antibully.infra import SmtpSink, create_database, drop_database, free_port, wait_port
    from antibully.migrate import migrate_database
    from antibully.processes import NatsCluster, ServiceProcesses
    from shared.config import Settings
    rig_module = _tests("fault_rig")

    url = await create_database(base_url)
    await migrate_database(Settings(database_url=url))
    sink = SmtpSink().start()
    cluster = NatsCluster(tmp / f"cluster-{replicas}", keys=_tests("helpers").NATS_KEYS).start()
    logs = tmp / f"logs-{replicas}"
    logs.mkdir()
    env = rig_module.rig_env(cluster.url, url, sink.port, NATS_REPLICAS="3", LOG_LEVEL="WARNING",
                  RATE_LIMIT_PER_S="1e9", RATE_LIMIT_BURST=str(10**9))
    rig = rig_module.Rig(env, ServiceProcesses(env, logs), sink)
    extra = [{f"{s.upper()}_PORT": str(free_port()) for s in rig_module.SERVICES} for _ in range(replicas - 1)]
    try:
        await rig.start(("intake",))
        for i, ports in enumerate(extra):
            rig.fleet.start(f"intake-{i + 2}", "intake", None, **ports)
            wait_port(int(ports["INTAKE_PORT"]), timeout_s=60, proc=rig.fleet.procs[f"intake-{i + 2}"])
        intake_ports = [int(env["INTAKE_PORT"]), *(int(p["INTAKE_PORT"]) for p in extra)]
        accepted_per_s = await _intake_phase(rig, intake_ports, args.reports, args.clients)
        downstream = ("escalation", "notify", "archive")
        for name in downstream:
            rig.fleet.start(name)
            for i, ports in enumerate(extra):
                rig.fleet.start(f"{name}-{i + 2}", name, None, **ports)
        for name in downstream:
            wait_port(int(env[f"{name.upper()}_PORT"]), timeout_s=60, proc=rig.fleet.procs[name])
            for i, ports in enumerate(extra):
                wait_port(int(ports[f"{name.upper()}_PORT"]), timeout_s=60, proc=rig.fleet.procs[f"{name}-{i + 2}"])
        expected = args.reports * rig_module.NOTICES_PER_REPORT + 1
        drain_s = await _delivered(url, expected, args.timeout)
        rig_module.assert_nothing_lost(await rig_module.settle(rig, f"bench: {replicas} replica(s)"))
        return {"replicas": replicas, "reports": args.reports, "intake_accepted_per_s": round(accepted_per_s, 1),
                "drain_s": round(drain_s, 1), "notices_per_s": round(expected / drain_s, 1),
                "reports_per_s": round(args.reports / drain_s, 2)}
    finally:
        rig.fleet.stop_all()
        cluster.stop()
        sink.stop()
        await drop_database(base_url, url)


async def main(args: argparse.Namespace) -> list[dict[str, float]]:
    from antibully.infra import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="ab-bench-replicas-") as tmp:
        pg = None if os.environ.get("DATABASE_URL") else EmbeddedPostgres(Path(tmp) / "pg" / "data")
        base_url = os.environ.get("DATABASE_URL") or (pg.url if pg else "")
        try:
            results = []
            for replicas in args.replicas:
                results.append(await _one(replicas, args, base_url, Path(tmp)))
                print(results[-1], flush=True)
            return results
        finally:
            if pg is not None:
                pg.stop()


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reports", type=int, default=150)
    parser.add_argument("--replicas", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients in the intake phase")
    parser.add_argument("--timeout", type=float, default=600.0, help="longest wait for the drain")
    args = parser.parse_args()
    bus_keys()  # in the environment the services inherit, as the tests' conftest puts them
    for result in run_loop(main(args)):
        print(" | ".join(f"{k} {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())

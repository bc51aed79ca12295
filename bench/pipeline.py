"""Benchmark of the whole pipeline against its raw floor, run by hand (never part of pytest).

    .venv/bin/python -m bench.pipeline [--rates 10,20,50] [--seconds 30] [--backlog 1000] [--letters 200000]
                                       [--notify-replicas 2] [--intake-workers 1] [--json PATH]

The four services run as processes (as in production) on their own nats-server (fsync always), a fresh
database, an SMTP sink and the provider fakes at realistic latency and limits (SMS 50-150 ms, robots 60 ms
and 20 messages a minute; the carriers' per-number limits off, since every report names the same example
families) with `make run`'s directory: families by SMS or e-mail, the police by SMS, the bureau on its
DingTalk robot, the school and its counsellor by e-mail; `--notify-replicas` notify processes.
- **Open loop** at each rate: severe reports posted to intake for `--seconds`; each notice's latency is the
  time from intake's 202 to notify recording it sent (the provider's acceptance); p50/p99/max per role.
- **Backlog**: `--backlog` reports accepted while escalation, notify and archive are stopped, then started:
  the time until every notice is sent and every event archived.
- **Letters**: bench/letters.py's run (rosters for `--letters` parents uploaded, a letter approved, the time
  until every parent is handed to a gateway) with `--notify-replicas` replicas.
- **Floor** (bench/floor.py): the same durable writes and sends per report with bare nats-py, asyncpg and
  aiosmtplib, at the same rates and backlog; for letters, bare asyncpg rows and the Aliyun batch API (100
  numbers a call, as many calls in flight as the replicas keep) to the same fakes. Each result is given as a ratio
  to the floor.
Targets (printed PASS/FAIL, not asserted): police p99 ≤ 300 ms at 20 reports/s; backlog throughput ≥ 50 % of
the floor's; 200,000 letters handed to the gateways in ≤ 5 minutes with two notify replicas. Results and their
reading: docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import BenchInfra, bench_infrastructure, finish, machine, run_loop
from bench.intake import percentile

_STARTED = time.monotonic()
NOTICES = 7


def say(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:6.1f} s] {message}", flush=True)


def stats(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values)
    if not ms:
        return {"n": 0}
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 1), "p99_ms": round(percentile(ms, 99), 1),
            "max_ms": round(ms[-1], 1)}


class System:
    """The four services as processes against the benchmark's infrastructure and the provider fakes."""

    def __init__(self, infra: BenchInfra, tmp: Path, notify_replicas: int = 1, intake_workers: int = 1) -> None:
        from antibully.fake_limits import FakeLimits
        from antibully.fakes import FakeProviders, FakeProvidersThread
        from antibully.infra import SmtpSink, free_port
        from antibully.processes import ServiceProcesses

        self.sink = SmtpSink().start()
        limits = FakeLimits(aliyun_per_number=(), tencent_same_content=(), tencent_per_number=())
        fakes = FakeProviders.realistic(wecom_keys={"demo-school-robot"}, limits=limits,
                                        dingtalk_robots={"demo-bureau-robot": "SECdemo-dingtalk-secret"})
        self.notify_replicas = notify_replicas
        self.intake_workers = intake_workers
        self.fakes = FakeProvidersThread(fakes, free_port()).start()
        # each service its own NATS user and PostgreSQL role, every key (bench/common.py: the tests' rig)
        self.env = infra.service_env(self.sink.port, **fakes.env(), LOG_LEVEL="WARNING",
                                     # one school key sends every report: its rate limit would answer 429
                                     # and hide the capacity
                                     RATE_LIMIT_PER_S="1e9", RATE_LIMIT_BURST=str(10**9))
        self.intake_port = int(self.env["INTAKE_PORT"])
        self.fleet = ServiceProcesses(self.env, tmp)
        self.key = ""

    async def start(self, names: tuple[str, ...] = ("intake", "escalation", "notify", "archive")) -> None:
        from antibully.cli import add_school
        from antibully.infra import free_port, wait_port

        for name in names:
            if name == "intake":
                self.fleet.start_intake(self.intake_workers)
                continue
            self.fleet.start(name)
            if name == "notify":
                for replica in range(2, self.notify_replicas + 1):
                    self.fleet.start(f"notify-{replica}", "notify", NOTIFY_PORT=str(free_port()))
        for name in names:
            proc = self.fleet.procs.get(name) or next(p for n, p in self.fleet.procs.items() if n.startswith(name))
            wait_port(int(self.env[f"{name.upper()}_PORT"]), timeout_s=60, proc=proc)
        if not self.key:
            self.key = await add_school(self.env["DATABASE_URL"], "demo-school", "乐昌市示范中学")

    def stop(self, names: tuple[str, ...]) -> None:
        for name in [n for n in self.fleet.procs if n.split("-")[0] in names]:
            self.fleet.stop(name)

    def close(self) -> None:
        self.fleet.stop_all()
        self.fakes.stop()
        self.sink.stop()


async def post_reports(system: System, n: int, per_s: float | None, tag: str) -> dict[str, float]:
    """Open loop (or as fast as intake takes them when `per_s` is None); incident id → wall time of the 202."""
    import copy

    import httpx

    from services.intake.examples import SEVERE_EXAMPLE

    accepted: dict[str, float] = {}
    refused: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{system.intake_port}", timeout=30,
                                 limits=httpx.Limits(max_connections=64)) as client:
        async def one(i: int) -> None:
            headers = {"Authorization": f"Bearer {system.key}", "Idempotency-Key": f"{tag}-{i:06d}"}
            try:
                r = await client.post("/v1/incidents", json=copy.deepcopy(SEVERE_EXAMPLE), headers=headers)
            except httpx.HTTPError as exc:
                refused[type(exc).__name__] = refused.get(type(exc).__name__, 0) + 1
                return
            if r.status_code == 202:
                accepted[r.json()["incident_id"]] = time.time()
            else:
                refused[str(r.status_code)] = refused.get(str(r.status_code), 0) + 1

        tasks = []
        for i in range(n):
            tasks.append(asyncio.create_task(one(i)))
            if per_s:
                await asyncio.sleep(1 / per_s)
            elif len(tasks) % 64 == 0:
                await asyncio.gather(*tasks[-64:])
        await asyncio.gather(*tasks)
    if refused:
        say(f"  not accepted: {refused}")
    return accepted


async def sent_times(database_url: str, incidents: list[str], timeout_s: float) -> list[tuple[str, str, float]]:
    """(incident, role, wall time sent) of every notice of these incidents, once all are sent (or time's up)."""
    import asyncpg

    ids = [uuid.UUID(i) for i in incidents]
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            rows = await conn.fetch("SELECT incident_id, role, extract(epoch FROM updated_at) AS at FROM"
                                    " notify.deliveries WHERE incident_id = ANY($1::uuid[]) AND status = 'sent'", ids)
            if len(rows) >= NOTICES * len(ids) or time.monotonic() > deadline:
                return [(str(r["incident_id"]), r["role"], float(r["at"])) for r in rows]
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def archived(database_url: str, incidents: int, timeout_s: float) -> float | None:
    """Wall time when the archive holds every report's notices as delivered."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if await conn.fetchval("SELECT count(*) FROM archive.recipients WHERE status = 'delivered'") \
                    >= NOTICES * incidents:
                return time.time()
            await asyncio.sleep(0.5)
        return None
    finally:
        await conn.close()


def latencies(accepted: dict[str, float], sent: list[tuple[str, str, float]]) -> dict[str, dict[str, float]]:
    by_role: dict[str, list[float]] = {}
    for incident, role, at in sent:
        if incident in accepted:
            by_role.setdefault(role, []).append(at - accepted[incident])
    return {role: stats(v) for role, v in sorted(by_role.items())}


async def system_phase(system: System, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"open_loop": {}}
    total = 0
    for rate in args.rates:
        say(f"system: open loop at {rate} reports/s for {args.seconds} s")
        accepted = await post_reports(system, int(rate * args.seconds), rate, f"open-{rate}")
        total += len(accepted)
        sent = await sent_times(system.env["DATABASE_URL"], list(accepted), timeout_s=args.drain_s)
        out["open_loop"][f"{rate:g}"] = {"accepted": len(accepted), "notices_sent": len(sent),
                                       "by_role": latencies(accepted, sent)}
        say(f"  {out['open_loop'][f'{rate:g}']}")
    say(f"system: backlog of {args.backlog} reports with escalation, notify and archive stopped")
    downstream = ("escalation", "notify", "archive")
    system.stop(downstream)
    accepted = await post_reports(system, args.backlog, None, "backlog")
    started = time.time()
    await system.start(downstream)
    sent = await sent_times(system.env["DATABASE_URL"], list(accepted), timeout_s=args.drain_s)
    sent_at = max((at for _, _, at in sent), default=started)
    done = await archived(system.env["DATABASE_URL"], total + len(accepted), timeout_s=args.drain_s)
    out["backlog"] = {"reports": len(accepted), "notices_sent": len(sent), "sent_s": round(sent_at - started, 1),
                      "archived_s": round(done - started, 1) if done else None,
                      "notices_per_s": round(len(sent) / max(0.001, sent_at - started), 1)}
    say(f"  {out['backlog']}")
    return out


async def floor_phase(nats_url: str, database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    from antibully.infra import SmtpSink
    from bench.floor import NOTICES_PER_REPORT, Floor

    sink = SmtpSink().start()
    out: dict[str, Any] = {"open_loop": {}}
    try:
        async with Floor(nats_url, database_url, sink.port) as floor:
            for rate in args.rates:
                say(f"floor: open loop at {rate} reports/s for {args.seconds} s")
                floor.run = type(floor.run)()
                n = int(rate * args.seconds)
                for _ in range(n):
                    await floor.report()
                    await asyncio.sleep(1 / rate)
                await asyncio.wait_for(floor.run.done.wait(), args.drain_s)
                lat = [t - floor.run.accepted[r] for r, ts in floor.run.sent.items() for t in ts]
                out["open_loop"][f"{rate:g}"] = stats(lat)
                say(f"  {out['open_loop'][f'{rate:g}']}")
            say(f"floor: backlog of {args.backlog} reports")
            floor.run = type(floor.run)()
            started = time.time()
            await asyncio.gather(*(floor.report() for _ in range(args.backlog)))
            await asyncio.wait_for(floor.run.done.wait(), args.drain_s)
            took = max(t for ts in floor.run.sent.values() for t in ts) - started
            out["backlog"] = {"reports": args.backlog, "notices_sent": args.backlog * NOTICES_PER_REPORT,
                              "sent_s": round(took, 1),
                              "notices_per_s": round(args.backlog * NOTICES_PER_REPORT / took, 1)}
            say(f"  {out['backlog']}")
    finally:
        sink.stop()
    return out


def reading(results: dict[str, Any]) -> str:
    system, floor = results["system"], results["floor"]
    lines = ["open loop: p50 / p99 / max from 202 to sent (ms), per role; the floor's p99 for comparison"]
    for rate, run in system["open_loop"].items():
        f = floor["open_loop"].get(rate, {})
        lines.append(f"  {rate} reports/s (floor p99 {f.get('p99_ms', '-')} ms):")
        for role, s in run["by_role"].items():
            lines.append(f"    {role:<22} {s.get('p50_ms', '-'):>8} {s.get('p99_ms', '-'):>8} {s.get('max_ms', '-'):>9}"
                         f"   ×{(s.get('p99_ms', 0) / f['p99_ms']) if f.get('p99_ms') else 0:.1f} of the floor")
    police = system["open_loop"].get("20", {}).get("by_role", {}).get("police", {})
    ok = police.get("p99_ms", 1e9) <= 300
    lines.append(f"police p99 at 20 reports/s: {police.get('p99_ms', '-')} ms → {'PASS' if ok else 'FAIL'} (≤ 300 ms)")
    ratio = system["backlog"]["notices_per_s"] / floor["backlog"]["notices_per_s"]
    lines.append(f"backlog: {system['backlog']['notices_per_s']} notices/s vs floor {floor['backlog']['notices_per_s']}"
                 f" → {ratio:.0%} of the floor → {'PASS' if ratio >= 0.5 else 'FAIL'} (≥ 50 %)")
    if letters := results.get("letters"):
        run, lf = letters["system"], letters["floor"]
        rate = run.get("letters_per_s") or 0
        projected = 200_000 / rate if rate else None
        lines.append(f"letters: {run['parents']} parents handed to the gateways in {run['handed_s']:.1f} s ({rate}/s)"
                     " vs "
                     f"floor {lf['letters_per_s']}/s → {rate / lf['letters_per_s']:.0%} of the floor; 200,000 at "
                     f"this rate: {projected:.0f} s → {'PASS' if projected <= 300 else 'FAIL'} (≤ 300 s)"
                     if projected else "letters: not all handed to the gateways in time → FAIL")
    return "\n".join(lines)


async def letters_phase(args: argparse.Namespace) -> dict[str, Any]:
    """bench/letters.py's run with the same replicas, and its floor."""
    from bench import letters
    from bench.floor import letters_floor
    from shared.config import Settings

    say(f"letters: {args.letters} parents, {args.notify_replicas} notify replicas")
    run = await letters.main(argparse.Namespace(parents=args.letters, schools=max(1, args.letters // 2000),
                                                replicas=args.notify_replicas, email_share=0.1, sms_rate=None,
                                                timeout_s=args.drain_s, json=None))
    say(f"  {letters.reading(run)}")
    say(f"floor: {args.letters} letters (asyncpg rows, Aliyun batch calls to the fakes)")
    # as many provider calls in flight as the system's replicas keep (LETTER_SENDS_IN_FLIGHT each)
    floor = await letters_floor(args.letters, in_flight=args.notify_replicas * Settings().letter_sends_in_flight)
    say(f"  {floor}")
    return {"system": {k: v for k, v in run.items() if k != "samples"}, "floor": floor}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        async with bench_infrastructure(Path(tmp)) as infra:
            system = System(infra, Path(tmp), args.notify_replicas, args.intake_workers)
            try:
                await system.start()
                system_results = await system_phase(system, args)
            finally:
                system.close()
            floor_results = await floor_phase(infra.nats_url, infra.database_url, args)
    letter_results = await letters_phase(args) if args.letters else None
    return {"machine": machine(), "args": {k: v for k, v in vars(args).items() if k != "json"},
            "system": system_results, "floor": floor_results, "letters": letter_results}


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")], default=[10.0, 20.0, 50.0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--backlog", type=int, default=1000)
    parser.add_argument("--letters", type=int, default=200_000, help="parents for the letter phase (0: none)")
    parser.add_argument("--notify-replicas", type=int, default=2)
    parser.add_argument("--intake-workers", type=int, default=1)
    parser.add_argument("--drain-s", type=float, default=900.0, help="longest wait for a phase's notices")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = run_loop(main(args))
    return finish(reading(results), results, args.json, _STARTED)


if __name__ == "__main__":
    raise SystemExit(cli())

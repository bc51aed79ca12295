"""Load benchmark of intake's `POST /v1/incidents`, run by hand (never part of pytest).

    .venv/bin/python -m bench.intake [--rates 100,200,500] [--seconds 10] [--workers 1,2] [--json PATH]
    .venv/bin/python -m bench.intake --workers 0 --profile PATH   # intake in this process, cProfiled

The main process starts its own nats-server and a fresh database, all on loopback. For each worker
count, intake runs as that many processes sharing one port (INTAKE_WORKERS, as `make run` starts
them; 0: inside this process). Every load generator runs in a separate (spawned) process. Phases:

* floor (once): a bare nats-py JetStream publisher, open model at each rate and N concurrent
  in a closed loop, same subject and payload size;
* per worker count, open model at each offered rate: requests are scheduled at fixed intervals
  whatever the completions; latency runs from the *scheduled* send time, so queueing (also in the
  client) counts and coordinated omission is avoided. ~1 s of warm-up at the same rate is not counted;
* per worker count, intake ceiling: N concurrent HTTP clients in a closed loop, and its ratio to
  the floor ceiling. CPU per request is all the workers' CPU (from /proc) over accepted requests.

See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import cProfile
import json
import multiprocessing
import os
import pstats
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from antibully.processes import ServiceProcesses
from bench.common import BenchInfra, bus_keys, finish, machine, run_loop

INCIDENTS_PATH = "/v1/incidents"

SUBJECT = "ab.incident.reported"
WARMUP_S = 1.0
DRAIN_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 30.0

TARGET_P99_MS = 25.0
TARGET_P99_RATE = 200
TARGET_CEILING_RATIO = 0.5


# --------------------------------------------------------------------------- results


@dataclass
class Summary:
    """Latencies in ms of the measured (not warm-up) operations."""

    count: int = 0
    ok: int = 0
    not_ok: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    elapsed_s: float = 0.0
    ok_per_s: float = 0.0


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (0 if empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def summarise(latencies_s: list[float], statuses: dict[str, int], ok: int, elapsed_s: float) -> Summary:
    values = sorted(x * 1000.0 for x in latencies_s)
    count = sum(statuses.values())
    return Summary(
        count=count,
        ok=ok,
        not_ok=count - ok,
        statuses=dict(sorted(statuses.items())),
        p50_ms=round(percentile(values, 50), 2),
        p99_ms=round(percentile(values, 99), 2),
        max_ms=round(values[-1], 2) if values else 0.0,
        elapsed_s=round(elapsed_s, 3),
        ok_per_s=round(ok / elapsed_s, 1) if elapsed_s > 0 else 0.0,
    )


@dataclass
class HttpTarget:
    base_url: str
    token: str
    body: bytes
    key_prefix: str


# --------------------------------------------------------------------------- load generators (child process)


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: one connection per request in flight.

    httpx costs far more CPU per request than intake's share of this machine, and its pool degrades
    with hundreds of pending requests: measured with it, the client was the bottleneck.
    """

    def __init__(self, target: HttpTarget, max_connections: int) -> None:
        parsed = urlsplit(target.base_url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.head = (
            f"POST {INCIDENTS_PATH} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {target.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(target.body)}\r\nIdempotency-Key: "
        ).encode()
        self.body = target.body
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(max_connections)

    async def post(self, key: str) -> str:
        """One report; the outcome as a status string ('202', '503', 'ConnectionResetError', ...)."""
        async with self.slots:
            conn = self.idle.pop() if self.idle else None
            try:
                if conn is None:
                    conn = await asyncio.open_connection(self.host, self.port)
                reader, writer = conn
                writer.write(self.head + key.encode() + b"\r\n\r\n" + self.body)
                first = await reader.readline()
                if not first:  # the server closed this idle keep-alive connection: retry once on a new one
                    writer.close()
                    conn = reader, writer = await asyncio.open_connection(self.host, self.port)
                    writer.write(self.head + key.encode() + b"\r\n\r\n" + self.body)
                    first = await reader.readline()
                status = first.split(b" ", 2)[1].decode()
                length, keep = 0, True
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection" and value.strip().lower() == b"close":
                        keep = False
                await reader.readexactly(length)
                if keep:
                    self.idle.append(conn)
                    conn = None
                return status
            except Exception as exc:  # noqa: BLE001 - every failure is an outcome to count
                return type(exc).__name__
            finally:
                if conn is not None:
                    conn[1].close()

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def _open_loop(rate: float, seconds: float, op: Callable[[int], Awaitable[str]], ok_status: str) -> Summary:
    """Operation i is scheduled at start + i/rate whatever the completions; latency runs from that time."""
    total = round(rate * (WARMUP_S + seconds))
    warmup = round(rate * WARMUP_S)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    ok = 0
    last_done = 0.0
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1
    measured_from = start + warmup / rate

    async def one(i: int, scheduled: float) -> None:
        nonlocal ok, last_done
        status = await op(i)
        done = loop.time()
        if i < warmup:
            return
        statuses[status] = statuses.get(status, 0) + 1
        latencies.append(done - scheduled)  # from the scheduled time, not the actual send
        last_done = max(last_done, done)
        if status == ok_status:
            ok += 1

    tasks: list[asyncio.Task[None]] = []
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    _done, pending = await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT_S)
    for task in pending:
        task.cancel()
    if pending:
        statuses["unfinished"] = len(pending)
    elapsed = max(last_done, start + WARMUP_S + seconds) - measured_from
    return summarise(latencies, statuses, ok, elapsed)


async def _http_open(target: HttpTarget, rate: float, seconds: float) -> Summary:
    client = RawHttp(target, max_connections=2048)
    try:
        return await _open_loop(rate, seconds, lambda i: client.post(f"{target.key_prefix}-{i:07d}"), "202")
    finally:
        await client.close()


async def _closed_loop(
    concurrency: int, seconds: float, make_op: Callable[[int], Awaitable[str]], ok_status: str
) -> Summary:
    """`concurrency` workers, each one operation after the other; the first WARMUP_S is not counted."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    measured_from = start + WARMUP_S
    end = measured_from + seconds
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    ok = 0
    counter = 0

    async def worker() -> None:
        nonlocal ok, counter
        while (sent := loop.time()) < end:
            counter += 1
            status = await make_op(counter)
            done = loop.time()
            if sent < measured_from or done > end:
                continue
            statuses[status] = statuses.get(status, 0) + 1
            latencies.append(done - sent)
            if status == ok_status:
                ok += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summarise(latencies, statuses, ok, seconds)


async def _http_ceiling(target: HttpTarget, concurrency: int, seconds: float) -> Summary:
    client = RawHttp(target, max_connections=concurrency)
    try:
        return await _closed_loop(concurrency, seconds, lambda i: client.post(f"{target.key_prefix}-{i:07d}"), "202")
    finally:
        await client.close()


async def _floor(
    nats_url: str, payload: bytes, prefix: str, seconds: float, *, concurrency: int = 0, rate: float = 0.0
) -> Summary:
    """Bare nats-py JetStream publishes: closed loop with `concurrency` publishers, or open at `rate`."""
    import nats

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()

        async def publish(i: int) -> str:
            try:
                await js.publish(SUBJECT, payload, timeout=REQUEST_TIMEOUT_S, headers={"Nats-Msg-Id": f"{prefix}-{i}"})
                return "ack"
            except Exception as exc:  # noqa: BLE001 - every failure is an outcome to count
                return type(exc).__name__

        if rate:
            return await _open_loop(rate, seconds, publish, "ack")
        return await _closed_loop(concurrency, seconds, publish, "ack")
    finally:
        await nc.close()


def child_http_open(target: HttpTarget, rate: float, seconds: float) -> Summary:
    return run_loop(_http_open(target, rate, seconds))


def child_http_ceiling(target: HttpTarget, concurrency: int, seconds: float) -> Summary:
    return run_loop(_http_ceiling(target, concurrency, seconds))


def child_floor_ceiling(nats_url: str, payload: bytes, prefix: str, concurrency: int, seconds: float) -> Summary:
    return run_loop(_floor(nats_url, payload, prefix, seconds, concurrency=concurrency))


def child_floor_open(nats_url: str, payload: bytes, prefix: str, rate: float, seconds: float) -> Summary:
    return run_loop(_floor(nats_url, payload, prefix, seconds, rate=rate))


# --------------------------------------------------------------------------- orchestration (main process)


def _payload_and_body() -> tuple[bytes, bytes]:
    from services.intake.examples import SEVERE_EXAMPLE
    from services.intake.reports import reported_event
    from shared.contracts import IncidentReport

    body = json.dumps(SEVERE_EXAMPLE, ensure_ascii=False).encode()
    event = reported_event(IncidentReport.model_validate(SEVERE_EXAMPLE), "bench-payload-size")
    return event.model_dump_json().encode(), body


def _process_cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs so far (Linux /proc/stat): whoever uses them, us or not."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


def _wait_ready(fleet: ServiceProcesses, names: list[str], logs: Path, timeout_s: float = 60.0) -> None:
    """Every worker, not just one, has logged that it is ready: the kernel gives a connection to any of them."""
    deadline = time.monotonic() + timeout_s
    waiting = set(names)
    while waiting:
        for name in list(waiting):
            if fleet.procs[name].poll() is not None:
                fleet.print_logs()
                raise RuntimeError(f"{name} exited with {fleet.procs[name].returncode} during start-up")
            if "intake ready" in (logs / f"{name}.log").read_text(errors="replace"):
                waiting.discard(name)
        if time.monotonic() > deadline:
            fleet.print_logs()
            raise TimeoutError(f"intake workers {sorted(waiting)} not ready after {timeout_s} s")
        time.sleep(0.1)


@contextlib.asynccontextmanager
async def _intake_workers(workers: int, infra: BenchInfra, port: int, logs: Path
                          ) -> AsyncIterator[Callable[[], float]]:
    """intake as `workers` processes sharing `port` (as `make run` starts them); yields their CPU clock."""
    env = infra.service_env(INTAKE_HOST="127.0.0.1", INTAKE_PORT=str(port), LOG_LEVEL="INFO", **RAISED_RATE_LIMIT)
    fleet = ServiceProcesses(env, logs)
    try:
        names = fleet.start_intake(workers)
        await asyncio.to_thread(_wait_ready, fleet, names, logs)
        pids = [fleet.procs[name].pid for name in names]
        yield lambda: _process_cpu_s(pids)
        if dead := {name: fleet.procs[name].returncode for name in names if fleet.procs[name].poll() is not None}:
            fleet.print_logs(40)
            raise RuntimeError(f"intake workers exited during the benchmark: {dead}")
    finally:
        fleet.stop_all()


@contextlib.asynccontextmanager
async def _intake_in_process(infra: BenchInfra, port: int, windows: list[float]
                             ) -> AsyncIterator[Callable[[], float]]:
    """intake in this process (profilable); yields this process's CPU clock. While it runs, `windows`
    gets intake's CPU ms per accepted report in each second with more than 50 of them: their minimum
    and median are less sensitive to other processes on the machine than a whole phase's average."""
    from services.intake.app import running

    settings = infra.settings(intake_host="127.0.0.1", intake_port=port)
    if RAISED_RATE_LIMIT:
        settings = settings.model_copy(update={"rate_limit_per_s": 1e9, "rate_limit_burst": 10**9})
    async with running(settings) as service:

        def accepted() -> float:
            return service.registry.get_sample_value(
                "antibully_intake_submissions_total", {"endpoint": "POST /v1/incidents", "outcome": "accepted"}) or 0.0

        async def sample() -> None:
            while True:
                cpu, n = time.process_time(), accepted()
                await asyncio.sleep(1.0)
                if (done := accepted() - n) > 50:
                    windows.append((time.process_time() - cpu) * 1000.0 / done)

        sampler = asyncio.create_task(sample())
        try:
            yield time.process_time
        finally:
            sampler.cancel()


# One key sends everything: the per-key limit (a guard against a runaway school system) would
# answer 429 and hide the capacity measured here. `--keep-rate-limit` leaves it.
RAISED_RATE_LIMIT = {"RATE_LIMIT_PER_S": "1e9", "RATE_LIMIT_BURST": str(10**9)}


async def _bench(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from antibully.cli import add_school
    from antibully.infra import free_port
    from bench.common import bench_infrastructure
    from shared.bus import setup_nats

    bus_keys()  # the sample event is sealed, as intake seals it
    payload, body = _payload_and_body()
    run_id = uuid.uuid4().hex[:8]
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "seconds": args.seconds,
        "warmup_s": WARMUP_S,
        "concurrency": args.concurrency,
        "request_body_bytes": len(body),
        "event_payload_bytes": len(payload),
        "floor_open": [],
        "runs": [],
    }
    if args.keep_rate_limit:
        RAISED_RATE_LIMIT.clear()
    # spawn, not fork: this process has a running event loop and threads.
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    loop = asyncio.get_running_loop()
    stack = contextlib.AsyncExitStack()

    async def in_child(fn: Callable[..., Summary], *fn_args: Any) -> Summary:
        return await loop.run_in_executor(pool, fn, *fn_args)

    busy_share = [0.0]  # the machine's CPUs busy (%) over the last measured phase, all processes

    async def measured(cpu_clock: Callable[[], float], fn: Callable[..., Summary], *fn_args: Any
                       ) -> tuple[Summary, float]:
        """The phase's summary and ≈ intake's CPU ms per accepted request (all its workers); the warm-up's
        requests, not in the summary, are estimated as if accepted at the measured share."""
        cpu, (busy, total) = cpu_clock(), _machine_busy()
        s = await in_child(fn, *fn_args)
        used_ms = (cpu_clock() - cpu) * 1000.0
        busy_after, total_after = _machine_busy()
        busy_share[0] = round(100.0 * (busy_after - busy) / max(1, total_after - total), 1)
        return s, round(used_ms / max(1.0, s.ok * (args.seconds + WARMUP_S) / args.seconds), 2)

    try:
        infra = await stack.enter_async_context(bench_infrastructure(tmp))
        database_url = infra.database_url
        token = await add_school(database_url, "demo-school", "示范中学")
        # The floor first, once: it does not depend on intake (but needs the streams intake would create).
        await setup_nats(infra.settings())  # as `antibully nats-setup` does: the admin's seed
        for rate in args.rates:
            f = await in_child(child_floor_open, infra.nats_url, payload, f"floor-{run_id}-r{rate}",
                               float(rate), args.seconds)
            results["floor_open"].append({"offered_per_s": rate, **asdict(f)})
            print(f"  floor {rate:>5}/s: {f.ok_per_s:>7.1f} acks/s, p50 {f.p50_ms} ms, p99 {f.p99_ms} ms",
                  flush=True)
        floor = await in_child(child_floor_ceiling, infra.nats_url, payload, f"floor-{run_id}",
                               args.concurrency, args.seconds)
        results["floor_ceiling"] = asdict(floor)
        print(f"  floor ceiling: {floor.ok_per_s} publishes/s, p50 {floor.p50_ms} ms, p99 {floor.p99_ms} ms",
              flush=True)

        for workers in args.workers:
            port = free_port()
            label = "in-process" if workers == 0 else f"{workers} worker(s)"
            print(f"intake, {label}:", flush=True)
            windows: list[float] = []
            intake = (_intake_in_process(infra, port, windows) if workers == 0 else
                      _intake_workers(workers, infra, port, logs_dir(tmp, workers)))
            run: dict[str, Any] = {"workers": workers, "open": []}
            async with intake as cpu_clock:
                target = HttpTarget(f"http://127.0.0.1:{port}", token, body, f"bench-{run_id}-w{workers}")

                def http(phase: str, target: HttpTarget = target) -> HttpTarget:
                    return HttpTarget(target.base_url, target.token, target.body, f"{target.key_prefix}-{phase}")

                # Start the child and warm both sides (imports, connections) before measuring.
                await in_child(child_http_open, http("warm"), 50.0, 1.0)
                for rate in args.rates:
                    s, cpu_ms = await measured(cpu_clock, child_http_open, http(f"r{rate}"), float(rate),
                                               args.seconds)
                    run["open"].append({"offered_per_s": rate, **asdict(s), "intake_cpu_ms_per_req": cpu_ms})
                    print(f"  open {rate:>5}/s: {s.ok_per_s:>7.1f} accepted/s, non-202 {s.not_ok}, "
                          f"p50 {s.p50_ms} ms, p99 {s.p99_ms} ms, max {s.max_ms} ms, {cpu_ms} ms CPU/req",
                          flush=True)
                    await asyncio.sleep(1.0)

                profiler = cProfile.Profile() if args.profile and workers == 0 else None
                if profiler:
                    profiler.enable()
                windows.clear()
                ceiling, cpu_ms = await measured(cpu_clock, child_http_ceiling, http("ceil"), args.concurrency,
                                                 args.seconds)
                if profiler:
                    profiler.disable()
                    profiler.dump_stats(args.profile)
                    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            run["intake_ceiling"] = {**asdict(ceiling), "intake_cpu_ms_per_req": cpu_ms,
                                     "machine_busy_pct": busy_share[0], "load_avg_1m": os.getloadavg()[0]}
            if windows:
                windows.sort()
                run["intake_cpu_ms_per_req_windows"] = {"n": len(windows), "min": round(windows[0], 2),
                                                        "median": round(windows[len(windows) // 2], 2)}
                print(f"  intake CPU ms/report per 1-s window: min {windows[0]:.2f}, "
                      f"median {windows[len(windows) // 2]:.2f} ({len(windows)} windows)", flush=True)
            run["ceiling_ratio"] = round(ceiling.ok_per_s / floor.ok_per_s, 3) if floor.ok_per_s else 0.0
            results["runs"].append(run)
            print(f"  intake ceiling: {ceiling.ok_per_s} accepted/s, p50 {ceiling.p50_ms} ms, "
                  f"p99 {ceiling.p99_ms} ms, {cpu_ms} ms CPU/req, {run['ceiling_ratio']:.2f} of the floor, "
                  f"machine {busy_share[0]} % busy, load {os.getloadavg()[0]:.1f}",
                  flush=True)
            await asyncio.sleep(1.0)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        await stack.aclose()
    return results


def logs_dir(tmp: Path, workers: int) -> Path:
    path = tmp / f"logs-w{workers}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _workers_label(workers: int) -> str:
    return "in-process" if workers == 0 else str(workers)


def report(results: dict[str, Any]) -> str:
    floor_at = {row["offered_per_s"]: row for row in results["floor_open"]}
    floor, n = results["floor_ceiling"], results["concurrency"]
    lines = [
        f"intake benchmark {results['date']} — {results['machine']['nproc']} CPUs, {results['seconds']} s per phase "
        f"(+{results['warmup_s']} s warm-up), body {results['request_body_bytes']} B, "
        f"event {results['event_payload_bytes']} B",
        "",
        "| workers | offered/s | accepted/s | non-202 | p50 ms | p99 ms | max ms | intake CPU ms/req "
        "| floor p50 ms | floor p99 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in results["runs"]:
        for row in run["open"]:
            f = floor_at.get(row["offered_per_s"], {})
            lines.append(f"| {_workers_label(run['workers'])} | {row['offered_per_s']} | {row['ok_per_s']} | "
                         f"{row['not_ok']} | {row['p50_ms']} | {row['p99_ms']} | {row['max_ms']} | "
                         f"{row['intake_cpu_ms_per_req']} | {f.get('p50_ms', '')} | {f.get('p99_ms', '')} |")
    lines += [
        "",
        f"| ceiling (closed loop, {n} concurrent) | ops/s | failures | p50 ms | p99 ms | max ms | CPU ms/req "
        "| ratio to floor | machine busy % | load 1 min |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| floor: bare nats-py JetStream publish | {floor['ok_per_s']} | {floor['not_ok']} | "
        f"{floor['p50_ms']} | {floor['p99_ms']} | {floor['max_ms']} | | 1 | | |",
    ]
    for run in results["runs"]:
        c = run["intake_ceiling"]
        lines.append(f"| intake, {_workers_label(run['workers'])} worker(s): POST /v1/incidents | {c['ok_per_s']} | "
                     f"{c['not_ok']} | {c['p50_ms']} | {c['p99_ms']} | {c['max_ms']} | "
                     f"{c['intake_cpu_ms_per_req']} | {run['ceiling_ratio']:.2f} | {c['machine_busy_pct']} | "
                     f"{c['load_avg_1m']:.1f} |")
    lines.append("")
    for run in results["runs"]:
        if w := run.get("intake_cpu_ms_per_req_windows"):
            lines.append(f"in-process intake CPU ms/report at its ceiling, per 1-s window: min {w['min']}, "
                         f"median {w['median']} ({w['n']} windows)")
    for run in results["runs"]:
        label = f"{_workers_label(run['workers'])} worker(s)"
        for row in run["open"]:
            if row["not_ok"]:
                lines.append(f"{label}: non-202 at {row['offered_per_s']}/s: {row['statuses']}")
        at_target = [r for r in run["open"] if r["offered_per_s"] == TARGET_P99_RATE]
        if at_target:
            p99 = at_target[0]["p99_ms"]
            verdict = "PASS" if p99 <= TARGET_P99_MS and at_target[0]["not_ok"] == 0 else "FAIL"
            lines.append(f"{label}: {verdict}: p99 at {TARGET_P99_RATE} req/s = {p99} ms "
                         f"(target ≤ {TARGET_P99_MS:g} ms, no non-202)")
        else:
            lines.append(f"{label}: SKIP: p99 target needs {TARGET_P99_RATE} in --rates")
        ratio = run["ceiling_ratio"]
        verdict = "PASS" if ratio >= TARGET_CEILING_RATIO else "FAIL"
        lines.append(f"{label}: {verdict}: intake ceiling = {ratio:.0%} of the floor "
                     f"(target ≥ {TARGET_CEILING_RATIO:.0%})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="100,200,500", help="offered rates in req/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients in the ceiling phases")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--keep-rate-limit", action="store_true",
                        help="keep intake's per-key rate limit (by default raised out of the way)")
    parser.add_argument("--workers", default=",".join(str(w) for w in sorted({1, 2, os.cpu_count() or 1})),
                        help="intake worker counts to measure, comma-separated (processes sharing the port, as "
                        "INTAKE_WORKERS starts them); 0: intake inside the benchmark's process (needed by --profile)")
    parser.add_argument("--profile", type=Path, help="cProfile intake's ceiling phase (with --workers 0)")
    args = parser.parse_args(argv)
    args.rates = [int(r) for r in args.rates.split(",") if r.strip()]
    args.workers = [int(w) for w in args.workers.split(",") if w.strip()]
    if args.profile and 0 not in args.workers:
        parser.error("--profile needs --workers 0 (intake in this process)")

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="antibully-bench-") as tmp:
        results = run_loop(_bench(args, Path(tmp)))
    return finish(report(results), results, args.json, started)


if __name__ == "__main__":
    raise SystemExit(main())

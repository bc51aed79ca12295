"""Benchmark of escalation, run by hand (never part of pytest).

    .venv/bin/python -m bench.escalation [--n 2000] [--iterations 20000] [--rates 50,100] [--seconds 10] [--json PATH]

Three parts, see docs/performance.md:

* pure: `decide()` alone, and `decide()` + `plan()` + `obligations_for()` — what the handler computes
  before it touches the database — on a mix of reports (every combination of injury × violence ×
  group × public attention), validated before timing; median of 5 repeats;
* backlog: `--n` IncidentReported events are published to JetStream (bare nats-py, distinct
  idempotency keys) *before* escalation starts; then escalation runs in-process and drains them.
  Measured: time until AB_ESCALATION holds `n` EscalationDecided and AB_NOTIFY every
  NotificationRequested (each severe example report asks for 6);
* open loop: at each of `--rates` reports per second for `--seconds`, while escalation runs; latency
  of each from its scheduled publish to its EscalationDecided seen on a core NATS subscription.

Everything runs on loopback with its own nats-server (deploy/nats.conf: fsync before every PubAck)
and a fresh database (on `DATABASE_URL`'s server if set, else an embedded PostgreSQL), stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import bus_keys, finish, machine, run_loop
from bench.intake import percentile

ROOT = Path(__file__).resolve().parent.parent
POLICY_FILE = ROOT / "deploy" / "policy" / "default.toml"
DIRECTORY_FILE = ROOT / "deploy" / "directory.toml"

REPEATS = 5
POLL_S = 0.02
DRAIN_TIMEOUT_S = 90.0
OPEN_DRAIN_TIMEOUT_S = 30.0
PUBLISH_CONCURRENCY = 64
PUBLISH_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0

_STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:5.1f} s] {message}", flush=True)


# --------------------------------------------------------------------------- pure part


@dataclass
class Case:
    """One pre-built input: the validated report, its event and the `reported_at` passed to decide()."""

    report: Any  # IncidentReport
    event: Any  # IncidentReported
    reported_at: datetime


def _mixed_cases() -> list[Case]:
    """The severe example with every combination of injury × violence × group × public attention (48)."""
    from services.intake.examples import SEVERE_EXAMPLE
    from services.intake.reports import reported_event
    from shared.contracts import IncidentReport

    cases = []
    combos = itertools.product(("none", "minor", "serious", "grave"), (False, True), (False, True),
                               ("none", "local", "wide"))
    for i, (injury, violence, group, attention) in enumerate(combos):
        body = {**SEVERE_EXAMPLE, "indicators": {**SEVERE_EXAMPLE["indicators"], "injury": injury,
                                                 "violence": violence, "group": group,
                                                 "public_attention": attention}}
        report = IncidentReport.model_validate(body)
        # Reported an hour after discovery: no late-report flag, whatever today's date.
        cases.append(Case(report, reported_event(report, f"bench-mix-{i:02d}"),
                          report.discovered_at + timedelta(hours=1)))
    return cases


def _time_repeats(fn: Any, iterations: int) -> dict[str, Any]:
    """fn(iterations) timed REPEATS times; the median repeat gives the rate."""
    fn(min(iterations, 500))  # warm-up
    runs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn(iterations)
        runs.append(time.perf_counter() - start)
    median = statistics.median(runs)
    return {"iterations": iterations, "repeats_s": [round(r, 4) for r in runs], "median_s": round(median, 4),
            "per_s": round(iterations / median, 1), "us_each": round(median / iterations * 1e6, 2)}


def bench_pure(iterations: int, plan_iterations: int) -> dict[str, Any]:
    from services.escalation.domain import decide
    from services.escalation.notices import plan
    from services.escalation.obligations import CaseRef, obligations_for
    from services.escalation.policy import parse_policy
    from shared.directory import load_directory

    policy = parse_policy(POLICY_FILE.read_text("utf-8"))
    directory = load_directory(DIRECTORY_FILE)
    cases = _mixed_cases()
    levels: dict[str, int] = {}
    notices = 0
    for c in cases:
        d = decide(c.report, policy, c.reported_at)
        levels[d.level.value] = levels.get(d.level.value, 0) + 1
        notices += len(plan(c.event, d, directory)[1])

    def decide_only(k: int) -> None:
        for c in itertools.islice(itertools.cycle(cases), k):
            decide(c.report, policy, c.reported_at)

    def decide_and_plan(k: int) -> None:
        for c in itertools.islice(itertools.cycle(cases), k):
            decision = decide(c.report, policy, c.reported_at)
            _decided, requests = plan(c.event, decision, directory)
            case = CaseRef(c.event.incident_id, c.event.school_id, c.event.occurred_at)
            obligations_for(case, decision, requests, policy)

    return {
        "mix": {"reports": len(cases), "levels": dict(sorted(levels.items())),
                "notices_per_report": round(notices / len(cases), 2)},
        "decide": _time_repeats(decide_only, iterations),
        "decide_plan": _time_repeats(decide_and_plan, plan_iterations),
    }


# --------------------------------------------------------------------------- end to end


async def _messages(js: Any, stream: str) -> int:
    return int((await js.stream_info(stream)).state.messages)


async def _publish_all(js: Any, events: list[Any], concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(event: Any) -> None:
        async with gate:
            await js.publish(event.routing_subject, event.model_dump_json().encode(), timeout=PUBLISH_TIMEOUT_S,
                             headers={"Nats-Msg-Id": str(event.event_id)})

    await asyncio.gather(*(one(e) for e in events))


async def _drain(js: Any, t0: float, n: int, decided_before: int, notices: int, notices_before: int,
                 timeout_s: float) -> dict[str, float | None]:
    """Poll until AB_ESCALATION has `n` and AB_NOTIFY `notices` more messages; times from t0."""
    loop = asyncio.get_running_loop()
    first = decided = notified = None
    while loop.time() - t0 < timeout_s:
        d = await _messages(js, "AB_ESCALATION") - decided_before
        now = loop.time() - t0
        if first is None and d > 0:
            first = now
        if decided is None and d >= n:
            decided = now
        if decided is not None and await _messages(js, "AB_NOTIFY") - notices_before >= notices:
            notified = loop.time() - t0
            break
        await asyncio.sleep(POLL_S)
    return {"first_decided_s": first, "all_decided_s": decided, "all_notified_s": notified}


async def _open_loop(js: Any, nc: Any, events: list[Any], rate: float, notices: int) -> dict[str, Any]:
    """Publish events[i] at start + i/rate; latency = EscalationDecided seen − scheduled publish.
    Then wait (bounded) until AB_NOTIFY holds `notices` more, so escalation is idle when it stops."""
    from shared.subjects import ESCALATION_DECIDED

    loop = asyncio.get_running_loop()
    sent: dict[str, float] = {}
    latencies: dict[str, float] = {}
    all_seen = asyncio.Event()
    failures: dict[str, int] = {}

    async def on_decided(msg: Any) -> None:
        incident = json.loads(msg.data)["incident_id"]
        if incident in sent and incident not in latencies:
            latencies[incident] = loop.time() - sent[incident]
            if len(latencies) == len(events):
                all_seen.set()

    notices_before = await _messages(js, "AB_NOTIFY")
    sub = await nc.subscribe(ESCALATION_DECIDED, cb=on_decided)
    await nc.flush()

    async def publish(event: Any) -> None:
        try:
            await js.publish(event.routing_subject, event.model_dump_json().encode(), timeout=PUBLISH_TIMEOUT_S,
                             headers={"Nats-Msg-Id": str(event.event_id)})
        except Exception as exc:  # noqa: BLE001 - every failure is an outcome to count
            failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1

    tasks = []
    start = loop.time() + 0.05
    try:
        for i, event in enumerate(events):
            scheduled = start + i / rate
            if (delay := scheduled - loop.time()) > 0:
                await asyncio.sleep(delay)
            sent[str(event.incident_id)] = scheduled
            tasks.append(asyncio.create_task(publish(event)))
        published_in = loop.time() - start
        await asyncio.gather(*tasks)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_seen.wait(), OPEN_DRAIN_TIMEOUT_S)
    finally:
        await sub.unsubscribe()
    notified_s = None
    while loop.time() - start < published_in + OPEN_DRAIN_TIMEOUT_S:
        if await _messages(js, "AB_NOTIFY") - notices_before >= notices:
            notified_s = round(loop.time() - start - published_in, 3)
            break
        await asyncio.sleep(POLL_S)
    values = sorted(x * 1000.0 for x in latencies.values())
    return {
        "offered_per_s": rate, "sent": len(events), "publish_failures": failures,
        "published_in_s": round(published_in, 3), "decided": len(values),
        "p50_ms": round(percentile(values, 50), 1), "p99_ms": round(percentile(values, 99), 1),
        "max_ms": round(values[-1], 1) if values else 0.0,
        "all_notified_after_last_publish_s": notified_s,
    }


async def _stop(escalation: contextlib.AsyncExitStack) -> dict[str, Any]:
    """Leave `running()`, bounded: on Python 3.11 a cancel that meets the outbox relay's kick can be
    swallowed by asyncio.wait_for and the relay's stop() then waits for ever; one more cancel ends it."""
    loop = asyncio.get_running_loop()
    t = loop.time()
    closing = asyncio.ensure_future(escalation.aclose())
    done, _ = await asyncio.wait({closing}, timeout=STOP_TIMEOUT_S)
    forced = not done
    if forced:
        closing.cancel()  # reaches the stuck relay task through its stop()'s `await task`
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(closing, STOP_TIMEOUT_S)
    return {"stop_s": round(loop.time() - t, 3), "forced": forced}


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


async def bench_e2e(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import nats

    from bench.common import bench_infrastructure
    from services.escalation.app import running
    from services.escalation.domain import decide
    from services.escalation.notices import plan
    from services.escalation.policy import parse_policy
    from services.intake.examples import SEVERE_EXAMPLE
    from services.intake.reports import reported_event
    from shared.bus import setup_nats
    from shared.contracts import IncidentReport
    from shared.directory import load_directory

    run_id = uuid.uuid4().hex[:8]
    report = IncidentReport.model_validate(SEVERE_EXAMPLE)
    backlog = [reported_event(report, f"bench-{run_id}-b{i:06d}") for i in range(args.n)]
    open_events = {rate: [reported_event(report, f"bench-{run_id}-o{rate:g}-{i:06d}")
                          for i in range(int(rate * args.seconds))] for rate in args.rates}
    policy = parse_policy(POLICY_FILE.read_text("utf-8"))
    per_report = len(plan(backlog[0], decide(report, policy, backlog[0].occurred_at),
                          load_directory(DIRECTORY_FILE))[1])
    results: dict[str, Any] = {"n": args.n, "notices_per_report": per_report, "open": [],
                               "event_payload_bytes": len(backlog[0].model_dump_json().encode())}

    stack = contextlib.AsyncExitStack()
    nc: Any = None
    loop = asyncio.get_running_loop()
    try:
        infra = await stack.enter_async_context(bench_infrastructure(tmp))
        # escalation signs in as its own NATS user and PostgreSQL role; the setup step as the admin
        settings = infra.settings(watchdog_interval_s=3600)
        await setup_nats(settings)
        nc = await nats.connect(infra.nats_url)  # the publisher: the server admin's credentials
        js = nc.jetstream()

        say(f"nats-server and database ready; publishing {args.n} reports")
        t = loop.time()
        await _publish_all(js, backlog, PUBLISH_CONCURRENCY)
        results["prepublish_s"] = round(loop.time() - t, 3)
        in_reports = await _messages(js, "AB_REPORTS")
        say(f"backlog: {in_reports} IncidentReported in AB_REPORTS ({results['prepublish_s']} s)")

        cpu0 = time.process_time()
        t0 = loop.time()
        escalation = contextlib.AsyncExitStack()
        try:
            await escalation.enter_async_context(running(settings))
            ready = loop.time() - t0
            times = await _drain(js, t0, args.n, 0, args.n * per_report, 0, DRAIN_TIMEOUT_S)
            cpu_ms = (time.process_time() - cpu0) * 1000.0
            decided_s, notified_s = times["all_decided_s"], times["all_notified_s"]
            results["backlog"] = {
                "startup_s": round(ready, 3),
                **{k: _round(v) for k, v in times.items()},
                "decided": await _messages(js, "AB_ESCALATION"),
                "notices": await _messages(js, "AB_NOTIFY"),
                "decisions_per_s": round(args.n / decided_s, 1) if decided_s else None,
                "decisions_per_s_after_ready": round(args.n / (decided_s - ready), 1) if decided_s else None,
                "notices_per_s": round(args.n * per_report / notified_s, 1) if notified_s else None,
                "cpu_ms_per_report": round(cpu_ms / args.n, 2),
            }
            b = results["backlog"]
            say(f"backlog drained: {b['decided']} decided in {b['all_decided_s']} s, {b['notices']} notices in "
                f"{b['all_notified_s']} s (startup {b['startup_s']} s)")
            if decided_s is None or notified_s is None:
                say("WARNING: backlog not drained within the timeout")

            for rate, events in open_events.items():
                await asyncio.sleep(1.0)
                o = await _open_loop(js, nc, events, rate, len(events) * per_report)
                results["open"].append(o)
                say(f"open loop {rate:g}/s: {o['decided']}/{o['sent']} decided, p50 {o['p50_ms']} ms, "
                    f"p99 {o['p99_ms']} ms, max {o['max_ms']} ms; notices done "
                    f"{o['all_notified_after_last_publish_s']} s after the last publish")
        finally:
            results["stop"] = await _stop(escalation)
            say(f"escalation stopped: {results['stop']}")
    finally:
        try:
            if nc is not None:
                await nc.close()
        finally:
            await stack.aclose()
            say("nats-server and database stopped")
    return results


# --------------------------------------------------------------------------- report


def report(results: dict[str, Any]) -> str:
    pure, e2e = results["pure"], results["e2e"]
    mix = pure["mix"]
    lines = [
        f"escalation benchmark {results['date']} — {results['machine']['nproc']} CPUs, "
        f"{results['machine']['processor']}",
        "",
        f"pure, median of {REPEATS} repeats over a mix of {mix['reports']} reports {mix['levels']} "
        f"({mix['notices_per_report']} notices per report)",
        "",
        "| pure (no I/O) | iterations | per s | µs each |",
        "|---|---:|---:|---:|",
    ]
    for key, label in (("decide", "decide()"), ("decide_plan", "decide + plan + obligations_for")):
        row = pure[key]
        lines.append(f"| {label} | {row['iterations']} | {row['per_s']:,.0f} | {row['us_each']} |")
    b = e2e["backlog"]
    n, notices = e2e["n"], e2e["n"] * e2e["notices_per_report"]
    lines += [
        "",
        f"| end to end: backlog of {n} severe reports | value |",
        "|---|---:|",
        f"| startup (`running()` entered → ready) | {b['startup_s']} s |",
        f"| first EscalationDecided after | {b['first_decided_s']} s |",
        f"| all {n} EscalationDecided after | {b['all_decided_s']} s |",
        f"| all {notices} NotificationRequested after | {b['all_notified_s']} s |",
        f"| decisions/s (from start / from ready) | {b['decisions_per_s']} / {b['decisions_per_s_after_ready']} |",
        f"| notices/s (from start) | {b['notices_per_s']} |",
        f"| escalation CPU per report | {b['cpu_ms_per_report']} ms |",
        "",
        "| open loop | offered/s | sent | decided | p50 ms | p99 ms | max ms | notices done after last publish |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in e2e["open"]:
        lines.append(f"| publish → EscalationDecided | {o['offered_per_s']:g} | {o['sent']} | {o['decided']} | "
                     f"{o['p50_ms']} | {o['p99_ms']} | {o['max_ms']} | {o['all_notified_after_last_publish_s']} s |")
        if o["publish_failures"]:
            lines.append(f"publish failures at {o['offered_per_s']:g}/s: {o['publish_failures']}")
    stop = e2e.get("stop", {})
    if stop.get("forced"):
        lines.append(f"escalation did not stop within {STOP_TIMEOUT_S:g} s (outbox relay's swallowed cancel); "
                     f"stopped with a second cancel after {stop['stop_s']} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.escalation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="reports in the backlog escalation drains")
    parser.add_argument("--iterations", type=int, default=20000, help="decide() calls per repeat")
    parser.add_argument("--plan-iterations", type=int, default=5000, help="decide + plan calls per repeat")
    parser.add_argument("--rates", default="50,100", help="open-loop reports per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each open-loop phase")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    args.rates = [float(r) for r in args.rates.split(",") if r.strip()]

    started = time.monotonic()
    bus_keys()  # the events the benchmark builds are sealed, as intake seals them
    results: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    say("pure ...")
    results["pure"] = bench_pure(args.iterations, args.plan_iterations)
    say("end to end ...")
    with tempfile.TemporaryDirectory(prefix="antibully-bench-") as tmp:
        results["e2e"] = run_loop(bench_e2e(args, Path(tmp)))
    return finish(report(results), results, args.json, started)


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark of notify, run by hand (never part of pytest).

    .venv/bin/python -m bench.notify [--n 500] [--rate 20] [--seconds 10] [--json PATH]

notify runs in-process against its own nats-server, a fresh database, a local SMTP sink and
the local webhook fake. For each channel, a backlog of `--n` NotificationRequested is published at once
(one notice per request, each to a distinct address; webhooks spread over 50 receiver URLs,
since notify paces each URL at 5/s) and the time from each publish to its
NotificationDelivered, seen on a core NATS subscription, is recorded; then an open loop at
`--rate` per second for `--seconds`. Reported: notices/s and p50/p99/max latency from request
to delivered. Numbers in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import bench_infrastructure, finish, machine, run_loop
from bench.intake import percentile

_STARTED = time.monotonic()
HOOK_URLS = 50


def say(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:5.1f} s] {message}", flush=True)


def _requests(kind: str, n: int, hook_base: str) -> list[Any]:
    from shared.contracts import NoticeFacts, NotificationRequested, Recipient, RecipientRole
    from shared.contracts.base import derive_id, utcnow
    from shared.contracts.notification import Address, ChannelKind

    run = time.time_ns()
    out = []
    for i in range(n):
        nid = derive_id("bench-notify", run, kind, i)
        to = f"g{i}@example.cn" if kind == "email" else f"{hook_base}/hook/school-{i % HOOK_URLS}"
        out.append(NotificationRequested(
            event_id=nid, incident_id=derive_id("bench-incident", run, i), notification_id=nid,
            recipient=Recipient(role=RecipientRole.victim_guardian, display_name="家长",
                                addresses=[Address(kind=ChannelKind(kind), to=to)]),
            facts=NoticeFacts(case_ref=f"AB-{i:08d}", school_id="demo-school", school_name="乐昌市示范中学",
                              reasons_zh=["基准测试"], occurred_at=utcnow())))
    return out


async def _phase(nc: Any, js: Any, requests: list[Any], rate: float | None) -> dict[str, Any]:
    from shared.contracts import NotificationDelivered
    from shared.subjects import NOTIFICATION_DELIVERED

    loop = asyncio.get_running_loop()
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()

    async def on_delivered(msg: Any) -> None:
        nid = str(NotificationDelivered.model_validate_json(msg.data).notification_id)
        if nid in sent_at:
            latencies.append(loop.time() - sent_at.pop(nid))
            if not sent_at and len(latencies) == len(requests):
                done.set()

    sub = await nc.subscribe(NOTIFICATION_DELIVERED, cb=on_delivered)
    t0 = loop.time()
    for i, r in enumerate(requests):
        if rate:  # open loop: each request at its scheduled time
            await asyncio.sleep(max(0.0, t0 + i / rate - loop.time()))
        sent_at[str(r.notification_id)] = loop.time()
        await js.publish(r.routing_subject, r.model_dump_json().encode(), headers={"Nats-Msg-Id": str(r.event_id)})
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), timeout=120)
    elapsed = loop.time() - t0
    await sub.unsubscribe()
    ordered = sorted(latencies)
    return {"n": len(requests), "delivered": len(latencies), "elapsed_s": round(elapsed, 2),
            "notices_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(ordered, 50) * 1000, 1), "p99_ms": round(percentile(ordered, 99) * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1) if ordered else None}


async def bench(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import nats

    from antibully.fakes import running_fakes
    from antibully.infra import SmtpSink, free_port
    from services.notify.app import running
    from shared.bus import ensure_streams
    from shared.config import Settings

    results: dict[str, Any] = {"n": args.n}
    sink = SmtpSink().start()
    try:
        async with bench_infrastructure(tmp) as infra, running_fakes() as fakes:
            fakes.on_accept = None
            settings = Settings(nats_url=infra.nats_url, database_url=infra.database_url, smtp_port=sink.port,
                                notify_port=free_port(), webhook_secret=fakes.webhook_secret,
                                wecom_webhook_base="", dingtalk_webhook_base="", reachability_interval_s=3600)
            await ensure_streams(settings.nats_url)
            nc = await nats.connect(settings.nats_url)
            try:
                async with running(settings):
                    for kind in ("email", "webhook"):
                        for phase, rate in (("backlog", None), (f"{args.rate:g}/s", args.rate)):
                            n = args.n if rate is None else int(args.rate * args.seconds)
                            say(f"{kind} {phase}: {n} notices ...")
                            got = await _phase(nc, nc.jetstream(), _requests(kind, n, fakes.base_url), rate)
                            results.setdefault(kind, {})[phase] = got
                            say(f"{kind} {phase}: {got}")
            finally:
                await nc.close()
            results["smtp_messages"] = len(sink.messages)
            results["webhook_messages"] = len(fakes.accepted_by("webhook"))
    finally:
        sink.stop()
    return results


def report(results: dict[str, Any]) -> str:
    lines = [f"notify benchmark, {results['date']}, {results['machine']['nproc']} cores"]
    for kind in ("email", "webhook"):
        for phase, r in results["bench"][kind].items():
            lines.append(f"  {kind:8} {phase:8} {r['delivered']}/{r['n']} delivered in {r['elapsed_s']} s: "
                         f"{r['notices_per_s']} notices/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
                         f"max {r['max_ms']} ms")
    lines.append(f"  sinks: {results['bench']['smtp_messages']} mails, {results['bench']['webhook_messages']} webhooks")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.notify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="notices per channel")
    parser.add_argument("--rate", type=float, default=20.0, help="open-loop notices per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of the open-loop phase")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    results: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="antibully-bench-") as tmp:
        results["bench"] = run_loop(bench(args, Path(tmp)))
    return finish(report(results), results, args.json, started)


if __name__ == "__main__":
    raise SystemExit(main())

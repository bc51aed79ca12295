"""Benchmark of notify, run by hand (never part of pytest).

    .venv/bin/python -m bench.notify [--n 500] [--rate 20] [--seconds 10] [--part consumer|channels|all]
                                     [--kinds email,sms,webhook] [--smtp-rtt-ms 0] [--smtp-latency-ms 0] [--letter 0]
                                     [--json PATH]

consumer: notify runs in-process against its own nats-server, a fresh database, a local SMTP
sink and the local fakes (SMS at realistic latency, 50-150 ms a call). For each channel, a
backlog of `--n` NotificationRequested is published at once (one notice per request, each to a
distinct address; webhooks spread over 50 receiver URLs, since notify paces each URL at 5/s)
and the time from each publish to its NotificationDelivered, seen on a core NATS subscription,
is recorded; then an open loop at `--rate` per second for `--seconds`. Reported: notices/s and
p50/p99/max latency from request to delivered.

channels: the channels alone, per replica (bench/channels.py): e-mails/s with a connection per
mail, the pool, and batches over pooled connections; SMS/s one by one and through the batch APIs.
Numbers in docs/performance.md.
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
        to = {"email": f"g{i}@example.cn", "sms": f"+86137{(run // 1000 + i) % 10**8:08d}"}.get(
            kind, f"{hook_base}/hook/school-{i % HOOK_URLS}")
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
    from antibully.fake_limits import REALISTIC_LATENCY_MS
    from antibully.fakes import FakeProviders, running_fakes
    from antibully.infra import SmtpSink
    from bench.channels import channel_bench

    results: dict[str, Any] = {"n": args.n, "smtp_latency_ms": args.smtp_latency_ms, "smtp_rtt_ms": args.smtp_rtt_ms}
    sink = SmtpSink(latency_s=args.smtp_latency_ms / 1000, rtt_s=args.smtp_rtt_ms / 1000).start()
    try:
        async with running_fakes(FakeProviders(latency_ms=dict(REALISTIC_LATENCY_MS), limits=None)) as fakes:
            fakes.on_accept = None
            if args.part in ("channels", "all"):
                fakes.keep_accepted = not args.letter  # 200,000 letters: count them, keep none
                results["channels"] = await channel_bench(args.n, args.n_sms, sink.port, fakes.env(), say,
                                                          args.letter)
            if args.part in ("consumer", "all"):
                results["consumer"] = await _consumer(args, tmp, sink, fakes)
            results["smtp_messages"] = len(sink.messages)
            results["smtp_connections"] = sink.connections
            results["sms_accepted"] = fakes.accepted_count["aliyun"] + fakes.accepted_count["tencent"]
            results["webhook_messages"] = fakes.accepted_count["webhook"]
    finally:
        sink.stop()
    return results


async def _consumer(args: argparse.Namespace, tmp: Path, sink: Any, fakes: Any) -> dict[str, Any]:
    import nats

    from antibully.infra import free_port
    from services.notify.app import running
    from shared.bus import setup_nats

    out: dict[str, Any] = {}
    async with bench_infrastructure(tmp) as infra:
        sms_env = {k.lower(): v for k, v in fakes.env().items() if k.startswith(("ALIYUN_", "TENCENT_"))}
        # notify signs in as its own NATS user and PostgreSQL role; the setup step as the admin
        settings = infra.settings(smtp_port=sink.port, notify_port=free_port(), webhook_secret=fakes.webhook_secret,
                                  sms_providers="aliyun", wecom_webhook_base="", dingtalk_webhook_base="",
                                  reachability_interval_s=3600).model_copy(update=sms_env)
        await setup_nats(settings)
        nc = await nats.connect(infra.nats_url)  # the publisher: the server admin's credentials
        try:
            async with running(settings):
                for kind in args.kinds.split(","):
                    for phase, rate in (("backlog", None), (f"{args.rate:g}/s", args.rate)):
                        n = args.n if rate is None else int(args.rate * args.seconds)
                        say(f"{kind} {phase}: {n} notices ...")
                        got = await _phase(nc, nc.jetstream(), _requests(kind, n, fakes.base_url), rate)
                        out.setdefault(kind, {})[phase] = got
                        say(f"{kind} {phase}: {got}")
        finally:
            await nc.close()
    return out


def report(results: dict[str, Any]) -> str:
    b = results["bench"]
    lines = [f"notify benchmark, {results['date']}, {results['machine']['nproc']} cores, "
             f"SMTP sink: {b['smtp_rtt_ms']} ms a reply, {b['smtp_latency_ms']} ms more per mail"]
    for kind, phases in b.get("consumer", {}).items():
        for phase, r in phases.items():
            lines.append(f"  {kind:8} {phase:8} {r['delivered']}/{r['n']} delivered in {r['elapsed_s']} s: "
                         f"{r['notices_per_s']} notices/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
                         f"max {r['max_ms']} ms")
    for name, r in b.get("channels", {}).items():
        if isinstance(r, dict):
            lines.append(f"  {name}: {r['sent']} sent ({r['failed']} failed) in {r['elapsed_s']} s = {r['per_s']}/s")
    lines.append(f"  sinks: {b['smtp_messages']} mails over {b['smtp_connections']} connections, "
                 f"{b['sms_accepted']} SMS, {b['webhook_messages']} webhooks")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.notify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="notices per channel")
    parser.add_argument("--rate", type=float, default=20.0, help="open-loop notices per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of the open-loop phase")
    parser.add_argument("--part", choices=("consumer", "channels", "all"), default="all")
    parser.add_argument("--kinds", default="email,sms,webhook", help="consumer part: channels, comma-separated")
    parser.add_argument("--n-sms", type=int, default=300, help="channels part: SMS per case")
    parser.add_argument("--letter", type=int, default=0, help="channels part: also a letter to this many "
                        "parents through each batch API (e.g. 200000)")
    parser.add_argument("--smtp-latency-ms", type=float, default=0.0, help="the SMTP sink's extra time per mail")
    parser.add_argument("--smtp-rtt-ms", type=float, default=0.0,
                        help="the SMTP sink's delay before every reply (a relay across a network)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    results: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="antibully-bench-") as tmp:
        results["bench"] = run_loop(bench(args, Path(tmp)))
    return finish(report(results), results, args.json, started)


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark of the letter to every parent, run by hand (never part of pytest).

    .venv/bin/python -m bench.letters [--parents 200000] [--schools 100] [--replicas 2] [--email-share 0.1]
                                      [--json PATH]

intake, archive and `--replicas` notify processes on their own nats-server and a fresh database, with the
provider fakes (SMS) and an SMTP sink. Each school uploads a roster (`--parents` / `--schools` rows; a share
of them e-mail only); the bureau writes and approves a letter to all; the clock runs from the approval's
202 until notify has handed every parent to a gateway (`letter_sends` all sent) and until the archive's
figures are complete (every batch's LetterBatchSent counted). Target (issue 12, printed PASS/FAIL, not
asserted): 200,000 letters handed to the gateways in ≤ 5 minutes with two notify replicas.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import bench_infrastructure, finish, machine, run_loop

_STARTED = time.monotonic()
TARGET_S = 300.0


def say(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:6.1f} s] {message}", flush=True)


def roster_csv(school: int, rows: int, email_share: float) -> bytes:
    lines = ["grade,student_ref,relation,phone,email"]
    every = max(1, round(1 / email_share)) if email_share > 0 else 0
    for i in range(rows):
        n = school * 100_000 + i
        if every and i % every == 0:
            lines.append(f"七年级,S-{n},母亲,,p{n}@example.cn")
        else:
            lines.append(f"{['七年级', '八年级', '九年级'][i % 3]},S-{n},母亲,139{n:08d},")
    return ("\n".join(lines) + "\n").encode()


async def progress(database_url: str) -> tuple[int, int]:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow("SELECT count(*) FILTER (WHERE state = 'sent') AS sent, count(*) AS claimed"
                                  " FROM notify.letter_sends")
        assert row is not None
        return int(row["sent"]), int(row["claimed"])
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    from antibully.cli import add_school
    from antibully.fakes import FakeProviders, FakeProvidersThread
    from antibully.infra import SmtpSink, free_port, wait_port
    from antibully.processes import ServiceProcesses
    from tests.helpers import official_headers

    per_school = args.parents // args.schools
    parents = per_school * args.schools
    with tempfile.TemporaryDirectory(prefix="bench-letters-") as tmp:
        async with bench_infrastructure(Path(tmp)) as infra:
            sink = SmtpSink().start()
            # the providers' latency and documented limits (every parent has a number of its own)
            fakes = FakeProvidersThread(FakeProviders.realistic(keep_accepted=False), free_port()).start()
            # each service its own NATS user and PostgreSQL role, every key (bench/common.py: the tests' rig)
            env = infra.service_env(sink.port, **(fakes.fakes.env() | {"WECOM_WEBHOOK_BASE": "",
                                                                       "DINGTALK_WEBHOOK_BASE": ""}),
                                    LOG_LEVEL="WARNING",
                                    **({"SMS_RATE_PER_S": str(args.sms_rate)} if args.sms_rate else {}))
            ports = {name: int(env[f"{name.upper()}_PORT"]) for name in ("intake", "archive", "notify")}
            fleet = ServiceProcesses(env, Path(tmp))
            try:
                for name in ("intake", "archive", "notify"):
                    fleet.start(name)
                for replica in range(2, args.replicas + 1):
                    fleet.start(f"notify-{replica}", "notify", NOTIFY_PORT=str(free_port()))
                for name in ("intake", "archive", "notify"):
                    wait_port(ports[name], timeout_s=60, proc=fleet.procs[name])
                say(f"services up ({args.replicas} notify replicas); uploading {args.schools} rosters of "
                    f"{per_school} parents")
                keys = [await add_school(infra.database_url, f"school-{s:04d}", f"第{s}中学")
                        for s in range(args.schools)]
                async with httpx.AsyncClient(timeout=120) as client:
                    sem = asyncio.Semaphore(4)

                    async def upload(s: int) -> None:
                        async with sem:
                            r = await client.put(f"http://127.0.0.1:{ports['intake']}/v1/rosters",
                                                 content=roster_csv(s, per_school, args.email_share),
                                                 headers={"Authorization": f"Bearer {keys[s]}",
                                                          "Content-Type": "text/csv"})
                            assert r.status_code == 200 and r.json()["accepted"] == per_school, r.text[:300]

                    t = time.monotonic()
                    await asyncio.gather(*(upload(s) for s in range(args.schools)))
                    upload_s = time.monotonic() - t
                    say(f"rosters uploaded in {upload_s:.1f} s")
                    archive = httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports['archive']}", timeout=30)
                    writer = await official_headers(archive, infra.database_url, "bench.writer")
                    approver = await official_headers(archive, infra.database_url, "bench.approver")
                    r = await archive.post("/v1/letters", headers=writer, json={
                        "title": "致全市中小学生家长的一封信", "body": "尊敬的家长：\n" + "防治学生欺凌。" * 200})
                    letter_id = r.json()["letter_id"]
                    t0 = time.monotonic()
                    r = await archive.post(f"/v1/letters/{letter_id}/approve", headers=approver)
                    assert r.status_code == 202, r.text
                    first_sent = handed = figures = None
                    samples: list[tuple[float, int]] = []
                    while time.monotonic() - t0 < args.timeout_s:
                        sent, _ = await progress(infra.database_url)
                        now = time.monotonic() - t0
                        samples.append((round(now, 1), sent))
                        if sent and first_sent is None:
                            first_sent = now
                        if sent >= parents and handed is None:
                            handed = now
                            say(f"all {parents} handed to the gateways at {now:.1f} s")
                        if handed is not None:
                            body = (await archive.get(f"/v1/letters/{letter_id}", headers=approver)).json()
                            t_ = body["totals"]
                            if t_["batches"] and t_["batches_done"] == t_["batches"]:
                                figures = now
                                break
                        if len(samples) % 10 == 0:
                            say(f"{sent} sent after {now:.0f} s")
                        await asyncio.sleep(1.0)
                    await archive.aclose()
            finally:
                fleet.stop_all()
                fakes.stop()
                sink.stop()
    rate = parents / handed if handed else None
    return {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()},
            "parents": parents, "upload_s": round(upload_s, 1), "first_sent_s": first_sent, "handed_s": handed,
            "figures_s": figures, "letters_per_s": round(rate, 1) if rate else None,
            "samples": samples[::5]}


def reading(r: dict[str, Any]) -> str:
    handed = r["handed_s"]
    projected = 200_000 / r["letters_per_s"] if r["letters_per_s"] else None
    verdict = "PASS" if projected is not None and projected <= TARGET_S else "FAIL"
    return "\n".join([
        f"letter to {r['parents']} parents, {r['args']['replicas']} notify replicas",
        f"  rosters uploaded: {r['upload_s']} s",
        f"  first letter sent: {r['first_sent_s']:.1f} s after approval" if r["first_sent_s"] else "  none sent",
        f"  all handed to the gateways: {handed:.1f} s ({r['letters_per_s']} letters/s)" if handed
        else "  not all handed to the gateways in time",
        f"  archive figures complete: {r['figures_s']:.1f} s" if r["figures_s"] else "  figures incomplete",
        f"  200,000 letters at this rate: {projected:.0f} s (target ≤ {TARGET_S:.0f} s): {verdict}" if projected
        else f"  target ≤ {TARGET_S:.0f} s: {verdict}",
    ])


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parents", type=int, default=200_000)
    parser.add_argument("--schools", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--email-share", type=float, default=0.1)
    parser.add_argument("--sms-rate", type=float, default=None,
                        help="SMS_RATE_PER_S for notify (SendSms calls/s per provider; default the setting's 20)")
    parser.add_argument("--timeout-s", type=float, default=900.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = run_loop(main(args))
    return finish(reading(results), results, args.json, _STARTED)


if __name__ == "__main__":
    raise SystemExit(cli())

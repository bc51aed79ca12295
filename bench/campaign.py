"""The campaign (issue 16) at a city's size, run by hand (never part of pytest).

    .venv/bin/python -m bench.campaign [--schools 300] [--reads 30] [--concurrency 16] [--json PATH]

Archive and escalation run as processes (as in production) on the benchmark's own nats-server and a fresh
database, with a generated directory of `--schools` schools in one jurisdiction (the shipped directory's
officials and demo-school, plus generated ones). Measured:
1. **start → duties**: from the start's 202 (`POST /v1/campaigns/{id}/start`, the bureau) until escalation's
   `obligations` and the archive's `duties` projection hold every duty (per school × schools + the campaign's
   once-per-campaign duties); duties/s.
2. **returns → settled**: every school files its student screening return through the API (its own school
   account, `--concurrency` requests in flight); from the first request until every student_screening duty
   is settled in the archive's projection.
3. **reads** (`--reads` each, one at a time, as the bureau): progress `GET /v1/campaigns/{id}`, coverage,
   `GET /v1/ledger.xlsx` (campaign sheets) and the city summary DOCX with every school's summary submitted;
   p50/p95/max and the body's size.
4. **peak RSS** (VmHWM) of the archive and escalation processes at the end.
Intake and notify are not started (their projections and notices are not what this measures).
Results and their reading: docs/performance.md, "Campaign (issue 16)".
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.common import BenchInfra, bench_infrastructure, finish, machine, run_loop

CAMPAIGN = "2027-zhuanxiang"
PASSWORD = "correct horse battery staple"
PURPOSE = quote("专项整治基准测试")
SUMMARY = {"achievements": "完成全体学生排查，召开家长会十二场。", "problems": "个别班级欺凌苗头发现不及时。",
           "causes": "班主任培训不足。", "next_steps": "开展全员培训，每月专项排查一次。"}
_STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:6.1f} s] {message}", flush=True)


def school_ids(n: int) -> list[str]:
    """demo-school (the shipped directory's) and n - 1 generated ones."""
    return ["demo-school"] + [f"bench-{i:04d}" for i in range(1, n)]


def write_directory(path: Path, n: int) -> Path:
    """The shipped directory plus n - 1 schools of its jurisdiction (as tests/helpers.py
    directory_with_more_schools adds two)."""
    from shared.config import ROOT

    extra = "".join(f'\n[schools.{s}]\nname = "乐昌市基准学校{s[-4:]}号"\nstudents = 900\n'
                    f'email = "principal@{s}.example.cn"\n' for s in school_ids(n)[1:])
    path.write_text((ROOT / "deploy" / "directory.toml").read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


def expected_duties(n: int) -> int:
    from services.archive.campaign_files import campaign_of, load_campaigns
    from shared.campaign_plan import Per
    from shared.config import Settings

    campaign = campaign_of(load_campaigns(Settings().campaigns_dir), CAMPAIGN)
    return sum(n if d.per is Per.school else 1 for d in campaign.duties)


def stats(seconds: list[float], sizes: list[int]) -> dict[str, Any]:
    ms = sorted(s * 1000 for s in seconds)
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.95))], 1), "max_ms": round(ms[-1], 1),
            "bytes": max(sizes) if sizes else 0}


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM of a live process (Linux), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


async def wait_count(conn: Any, sql: str, target: int, timeout_s: float) -> tuple[float | None, int]:
    """Monotonic time when `sql`'s count reaches `target` (None: timed out), and the last count."""
    deadline = time.monotonic() + timeout_s
    count = 0
    while time.monotonic() < deadline:
        count = int(await conn.fetchval(sql))
        if count >= target:
            return time.monotonic(), count
        await asyncio.sleep(0.1)
    return None, count


class Accounts:
    """The bureau's and every school's account (antibully/officials.py's way, one password hash for all: the
    hash is deliberately slow), logged in on the archive's API."""

    def __init__(self, client: Any, database_url: str) -> None:
        from services.archive.accounts import hash_password

        self.client, self.database_url, self.hash = client, database_url, hash_password(PASSWORD)

    async def log_in(self, pool: Any, account: str, role: str, school: str | None) -> dict[str, str]:
        from services.archive import repository
        from shared.identity import StaffTitle

        await repository.upsert_official(pool, account, account, role, "lechang", school, self.hash,
                                         StaffTitle.head.value if school else None)
        r = await self.client.post("/v1/auth/token", json={"username": account, "password": PASSWORD})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}", "X-Access-Purpose": PURPOSE}

    async def all(self, schools: list[str]) -> tuple[dict[str, str], list[dict[str, str]]]:
        from services.archive import repository
        from shared.db import create_pool

        pool = await create_pool(self.database_url, repository.SCHEMA, max_size=2)
        try:
            return (await self.log_in(pool, "bureau", "bureau", None),
                    [await self.log_in(pool, f"head-{s}", "school", s) for s in schools])
        finally:
            await pool.close()


async def file_all(client: Any, headers: list[dict[str, str]], path: str, body: dict[str, Any],
                   concurrency: int) -> dict[str, int]:
    """POST `body` to `path` once per account, `concurrency` in flight; answers by status code."""
    gate = asyncio.Semaphore(concurrency)
    answers: dict[str, int] = {}

    async def one(h: dict[str, str]) -> None:
        async with gate:
            r = await client.post(path, json=body, headers=h)
            answers[str(r.status_code)] = answers.get(str(r.status_code), 0) + 1

    await asyncio.gather(*(one(h) for h in headers))
    return answers


async def timed_reads(client: Any, path: str, params: dict[str, str], headers: dict[str, str],
                      runs: int) -> dict[str, Any]:
    seconds, sizes = [], []
    for i in range(runs + 2):  # two warm-ups
        t0 = time.perf_counter()
        r = await client.get(path, params=params, headers=headers)
        took = time.perf_counter() - t0
        r.raise_for_status()
        if i >= 2:
            seconds.append(took)
            sizes.append(len(r.content))
    return stats(seconds, sizes)


async def run(infra: BenchInfra, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg
    import httpx

    from antibully.infra import wait_port
    from antibully.processes import ServiceProcesses

    n = args.schools
    env = infra.service_env(0, LOG_LEVEL="WARNING", DIRECTORY_FILE=str(write_directory(tmp / "directory.toml", n)),
                            ARCHIVE_LOGIN_PER_ADDRESS=str(10**6))  # every school account logs in from 127.0.0.1
    fleet = ServiceProcesses(env, tmp)
    out: dict[str, Any] = {"schools": n}
    conn = await asyncpg.connect(infra.database_url)
    try:
        for name in ("escalation", "archive"):
            fleet.start(name)
        for name in ("escalation", "archive"):
            wait_port(int(env[f"{name.upper()}_PORT"]), timeout_s=90, proc=fleet.procs[name])
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{env['ARCHIVE_PORT']}", timeout=120,
                                     limits=httpx.Limits(max_connections=64)) as client:
            say(f"{n} school accounts ...")
            bureau, heads = await Accounts(client, infra.database_url).all(school_ids(n))

            # 1. start → every duty created (escalation) and projected (archive)
            target = expected_duties(n)
            say(f"start: {target} duties expected")
            t0 = time.monotonic()
            r = await client.post(f"/v1/campaigns/{CAMPAIGN}/start", headers=bureau)
            accepted = time.monotonic()
            assert r.status_code == 202, r.text
            obligations, n_obl = await wait_count(conn, "SELECT count(*) FROM escalation.obligations", target,
                                                  args.timeout_s)
            projected, n_dut = await wait_count(conn, "SELECT count(*) FROM archive.duties", target, args.timeout_s)
            out["start"] = {"duties_expected": target, "obligations": n_obl, "duties_projected": n_dut,
                            "start_request_ms": round((accepted - t0) * 1000, 1),
                            "obligations_s": round(obligations - accepted, 2) if obligations else None,
                            "projected_s": round(projected - accepted, 2) if projected else None,
                            "duties_per_s": round(n_dut / (projected - accepted), 1) if projected else None}
            say(f"  {out['start']}")

            # 2. every school's student screening return → its duty settled in the archive's projection
            say("returns: every school files its student screening return")
            settled_sql = ("SELECT count(*) FROM archive.duties WHERE settled"
                           " AND action_id LIKE '%student_screening%'")
            t0 = time.monotonic()
            answers = await file_all(client, heads, f"/v1/campaigns/{CAMPAIGN}/phases/p1/student-screening",
                                     {"students_screened": 900, "parent_talks": 100, "nothing_found": True},
                                     args.concurrency)
            filed = time.monotonic()
            settled, n_set = await wait_count(conn, settled_sql, n, args.timeout_s)
            out["returns"] = {"answers": answers, "filing_s": round(filed - t0, 2),
                              "filing_per_s": round(n / (filed - t0), 1), "settled": n_set,
                              "settled_s": round(settled - t0, 2) if settled else None}
            say(f"  {out['returns']}")

            # summaries, for the city summary
            say("summaries: every school submits its phase summary")
            t0 = time.monotonic()
            answers = await file_all(client, heads, f"/v1/campaigns/{CAMPAIGN}/phases/p3/summary", SUMMARY,
                                     args.concurrency)
            in_view, n_sum = await wait_count(conn, "SELECT count(DISTINCT school_id) FROM archive.campaign_summaries",
                                              n, args.timeout_s)
            out["summaries"] = {"answers": answers, "projected": n_sum,
                                "projected_s": round(in_view - t0, 2) if in_view else None}
            say(f"  {out['summaries']}")

            # 3. reads
            reads = {"progress GET /v1/campaigns/{id}": (f"/v1/campaigns/{CAMPAIGN}", {}),
                     "coverage GET /v1/campaigns/{id}/coverage": (f"/v1/campaigns/{CAMPAIGN}/coverage", {}),
                     "GET /v1/ledger.xlsx": ("/v1/ledger.xlsx", {}),
                     "city summary GET …/city-summary.docx": (f"/v1/campaigns/{CAMPAIGN}/city-summary.docx",
                                                              {"phase": "p3"})}
            out["reads"] = {}
            for name, (path, params) in reads.items():
                runs = args.reads if "docx" not in path and "xlsx" not in path else max(5, args.reads // 3)
                out["reads"][name] = await timed_reads(client, path, params, bureau, runs)
                say(f"  {name}: {out['reads'][name]}")

        # 4. peak RSS
        out["peak_rss_mb"] = {name: peak_rss_mb(fleet.procs[name].pid) for name in ("archive", "escalation")}
        say(f"peak RSS: {out['peak_rss_mb']}")
    finally:
        await conn.close()
        fleet.stop_all()
    return out


def reading(results: dict[str, Any]) -> str:
    r = results["campaign"]
    s, ret = r["start"], r["returns"]
    lines = [f"campaign at {r['schools']} schools — {results['machine']['nproc']} CPUs "
             f"({results['machine']['processor']})",
             f"start → duties: {s['duties_expected']} expected; escalation's obligations after {s['obligations_s']} s,"
             f" archive's projection after {s['projected_s']} s ({s['duties_per_s']} duties/s)",
             f"returns: {ret['answers']} filed in {ret['filing_s']} s ({ret['filing_per_s']}/s); every duty settled"
             f" in the projection after {ret['settled_s']} s",
             f"summaries: {r['summaries']['answers']}, in the projection after {r['summaries']['projected_s']} s",
             "", "| read | runs | p50 ms | p95 ms | max ms | bytes |", "|---|---|---|---|---|---|"]
    for name, q in r["reads"].items():
        lines.append(f"| {name} | {q['n']} | {q['p50_ms']} | {q['p95_ms']} | {q['max_ms']} | {q['bytes']:,} |")
    lines.append(f"\npeak RSS (VmHWM): {r['peak_rss_mb']}")
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-campaign-") as tmp:
        async with bench_infrastructure(Path(tmp)) as infra:
            return {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items() if k != "json"},
                    "campaign": await run(infra, Path(tmp), args)}


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.campaign", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schools", type=int, default=300, help="schools in the jurisdiction (a city: a few hundred)")
    parser.add_argument("--reads", type=int, default=30, help="timed runs of each JSON read (exports: a third)")
    parser.add_argument("--concurrency", type=int, default=16, help="filing requests in flight")
    parser.add_argument("--timeout-s", type=float, default=600.0, help="longest wait for a phase")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = run_loop(main(args))
    return finish(reading(results), results, args.json, _STARTED)


if __name__ == "__main__":
    raise SystemExit(cli())

"""Archive's read queries at scale, run by hand (never part of pytest).

    .venv/bin/python -m bench.archive [--n 1000000] [--runs 200] [--json PATH] [--no-plans]

On a fresh database (DATABASE_URL's server, else an embedded one): archive's schema is migrated,
N cases are loaded into the `cases` projection with COPY — ~200 schools in 10 jurisdictions of
uneven size, reports spread over 3 years and loaded in report order (as they arrive), levels skewed
to minor, some late, overdue, repeat, referred and public-attention cases, hazards (mostly
rectified), help requests (mostly answered), look-backs — then VACUUM (ANALYZE), as autovacuum
leaves a live table; the ledger's monthly rollup (ledger_months) is counted once after the COPY,
as the migration fills it. Then each query runs the same SQL the API runs (repository.list_cases,
ledger_counts, ledger_cases), `--runs` times after a warm-up, cycling over jurisdictions or
schools, one connection, one query at a time; p50/p99/max in ms against p99 ≤ 50 ms. Finally the
plans: EXPLAIN (ANALYZE, BUFFERS) of the same SQL. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench.common import bench_infrastructure, finish, machine, run_loop
from services.archive import repository
from services.archive.ledger import LATE_FLAG, REPEAT_FLAG, REPEAT_REASON, Period
from services.archive.listing import CaseFilter, Cursor
from services.archive.repository import SCHEMA
from services.archive.scopes import Scope
from shared.db import Conn, create_pool
from shared.migrations import migrate, migrations_dir

TARGET_P99_MS = 50.0
WARMUP = 10
JURISDICTIONS = 10
SCHOOLS = 200
JURISDICTION_WEIGHTS = (3, 2, 2, 1.5, 1.5, 1, 1, 1, 0.7, 0.5)  # a city district to a small county
YEARS = 3
PAGE = 50
DEEP = 5000          # the deep cursor page starts after this many cases of the scope
BATCH = 50_000
RULES = (LATE_FLAG, REPEAT_FLAG, REPEAT_REASON)
COLUMNS = ("incident_id", "kind", "case_ref", "school_id", "jurisdiction", "level", "risk_level", "status",
           "public_attention_wide", "flags", "missed_deadlines", "referred_to_police", "urgent",
           "converted_incident_id", "reported_at", "decided_at", "rectified_at", "answered_at", "reasons",
           "policy_version")
_STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:6.1f} s] {message}", flush=True)


# --------------------------------------------------------------------------- data


def schools(rng: random.Random) -> list[tuple[str, str, float]]:
    """(school, jurisdiction, weight): jurisdictions of uneven size, schools of uneven size within them."""
    out = []
    for i in range(SCHOOLS):
        j = rng.choices(range(JURISDICTIONS), weights=JURISDICTION_WEIGHTS)[0] if i >= JURISDICTIONS else i
        out.append((f"school-{i:03d}", f"j{j:02d}", rng.lognormvariate(0, 0.8)))
    return out


def records(n: int, now: datetime, seed: int = 6) -> list[tuple[Any, ...]]:
    """N cases in report order (as they arrive), with the projection's columns."""
    rng = random.Random(seed)
    table = schools(rng)
    picks = rng.choices(table, weights=[w for _, _, w in table], k=n)
    span = YEARS * 365 * 86400
    times = sorted(rng.random() * span for _ in range(n))
    start = now - timedelta(seconds=span)
    kinds = rng.choices(("incident", "hazard", "help", "lookback"), weights=(70, 20, 8, 2), k=n)
    out = []
    for i in range(n):
        school, jurisdiction, _ = picks[i]
        kind, reported = kinds[i], start + timedelta(seconds=times[i])
        case_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        old = (now - reported).days > 60
        level = risk = urgent = converted = decided = rectified = answered = reasons = None
        flags: list[str] = []
        missed = 0
        police = wide = False
        status = "closed" if old and rng.random() < 0.8 else "open"
        if kind == "incident":
            level = rng.choices(("minor", "serious", "severe", "criminal"), weights=(70, 20, 8, 2))[0]
            decided = reported + timedelta(seconds=2)
            police = level in ("severe", "criminal") or (level == "serious" and rng.random() < 0.3)
            wide = rng.random() < 0.01
            flags = [f for f, p in (("late_report", 0.05), (REPEAT_FLAG, 0.03), ("wide_public_attention", 0.01))
                     if rng.random() < p]
            repeated = rng.random() < 0.02
            reasons = '[{"code": "%s", "zh": "", "en": ""}]' % (REPEAT_REASON if repeated else "violence")
            missed = rng.choice((1, 1, 2, 3)) if rng.random() < 0.03 else 0
        elif kind == "hazard":
            risk = rng.choice(("low", "medium", "high"))
            rectified = reported + timedelta(days=rng.randint(1, 60)) if old or rng.random() < 0.5 else None
        elif kind == "help":
            urgent = rng.random() < 0.2
            answered = reported + timedelta(hours=rng.randint(1, 48)) if rng.random() < 0.8 else None
            converted = uuid.UUID(int=rng.getrandbits(128), version=4) if rng.random() < 0.1 else None
        else:
            status = "closed" if old and rng.random() < 0.9 else "open"
        prefix = {"incident": "AB", "hazard": "HZ", "help": "HR", "lookback": "LB"}[kind]
        out.append((case_id, kind, f"{prefix}-{case_id.hex[:8].upper()}", school, jurisdiction, level, risk, status,
                    wide, flags, missed, police, urgent, converted, reported, decided, rectified, answered,
                    reasons, "bench" if decided else None))
    return out


async def load(pool: asyncpg.Pool, n: int, now: datetime) -> dict[str, Any]:
    t0 = time.monotonic()
    rows = records(n, now)
    built = time.monotonic() - t0
    async with pool.acquire() as conn:
        # A bulk load counts the ledger once at the end rather than case by case (the trigger's cost
        # per write is the projection's, measured by the archive's own consumer, not here).
        await conn.execute("ALTER TABLE cases DISABLE TRIGGER cases_ledger_months")
        for i in range(0, n, BATCH):
            await conn.copy_records_to_table("cases", records=rows[i:i + BATCH], columns=COLUMNS,
                                             schema_name=SCHEMA)
        await conn.execute("ALTER TABLE cases ENABLE TRIGGER cases_ledger_months")
        await conn.execute("SELECT ledger_months_rebuild()")
        loaded = time.monotonic() - t0 - built
        await conn.execute("VACUUM (ANALYZE) cases")
        await conn.execute("VACUUM (ANALYZE) ledger_months")
        size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('cases'))")
        per_j = await conn.fetch("SELECT jurisdiction, count(*) AS n FROM cases GROUP BY 1 ORDER BY 2 DESC")
    return {"generate_s": round(built, 1), "copy_and_ledger_rebuild_s": round(loaded, 1),
            "vacuum_analyze_s": round(time.monotonic() - t0 - built - loaded, 1), "table_and_indexes": size,
            "cases_per_jurisdiction": {r["jurisdiction"]: r["n"] for r in per_j}}


# --------------------------------------------------------------------------- queries


Query = Callable[[Conn, int], Awaitable[Any]]


async def cursor_after(conn: Conn, column: str, value: str, offset: int) -> Cursor:
    """The cursor after `offset` cases of the scope (half its cases when it has fewer)."""
    count = await conn.fetchval(f"SELECT count(*) FROM cases WHERE {column} = $1", value)
    offset = min(offset, count // 2)
    row = await conn.fetchrow(
        f"SELECT reported_at, incident_id FROM cases WHERE {column} = $1 AND kind IS NOT NULL"
        " ORDER BY reported_at DESC, incident_id DESC OFFSET $2 LIMIT 1", value, offset)
    assert row is not None
    return Cursor(row["reported_at"], row["incident_id"])


async def queries(conn: Conn, now: datetime) -> dict[str, Query]:
    """Each query by name: `i` picks the jurisdiction or school of the run (cycling over all of them)."""
    js = [r["jurisdiction"] for r in await conn.fetch("SELECT DISTINCT jurisdiction FROM cases ORDER BY 1")]
    ss = [r["school_id"] for r in await conn.fetch("SELECT DISTINCT school_id FROM cases ORDER BY 1")]
    deep_j = {j: await cursor_after(conn, "jurisdiction", j, DEEP) for j in js}
    deep_s = {s: await cursor_after(conn, "school_id", s, DEEP) for s in ss}
    today = now.date()
    first = today.year * 12 + today.month - 12  # 12 months up to this one
    last_12 = Period.parse(f"{first // 12}-{first % 12 + 1:02d}", None, today)
    prev_month = today.replace(day=1) - timedelta(days=1)
    one_month = Period.parse(f"{prev_month:%Y-%m}", f"{prev_month:%Y-%m}", today)
    bureau = [Scope(jurisdiction=j) for j in js]
    school = [Scope(school_id=s) for s in ss]
    none = CaseFilter()

    def page(scopes: list[Scope], f: CaseFilter, after: dict[str, Cursor] | None = None) -> Query:
        async def run(c: Conn, i: int) -> Any:
            scope = scopes[i % len(scopes)]
            key = scope.jurisdiction or scope.school_id or ""
            return await repository.list_cases(c, scope, f, after[key] if after else None, PAGE + 1)
        return run

    def ledger(period: Period) -> Query:
        async def run(c: Conn, i: int) -> Any:
            return await repository.ledger_counts(c, bureau[i % len(bureau)], None, period.first, period.last)
        return run

    def ledger_direct(period: Period) -> Query:
        async def run(c: Conn, i: int) -> Any:
            return await repository.ledger_counts_from_cases(c, bureau[i % len(bureau)], None, period.since(),
                                                             period.until(), *RULES)
        return run

    async def summary_cases(c: Conn, i: int) -> Any:
        return await repository.ledger_cases(c, school[i % len(school)], ss[i % len(ss)], last_12.since(),
                                             last_12.until(), *RULES, limit=501)

    last_month_filter = CaseFilter(reported_from=one_month.first, reported_to=prev_month)
    return {
        "list: bureau, first page": page(bureau, none),
        f"list: bureau, page after {DEEP} (cursor)": page(bureau, none, deep_j),
        "list: school, first page": page(school, none),
        f"list: school, page after {DEEP} (cursor)": page(school, none, deep_s),
        "list: bureau, incidents of level severe": page(bureau, CaseFilter(kind="incident", level="severe")),
        "list: bureau, overdue": page(bureau, CaseFilter(overdue=True)),
        "list: bureau, flag late_report": page(bureau, CaseFilter(flag="late_report")),
        "list: bureau, open hazards": page(bureau, CaseFilter(kind="hazard", status="open")),
        "list: bureau, level criminal (rare)": page(bureau, CaseFilter(level="criminal")),
        "list: bureau, flag wide_public_attention (rare)": page(bureau, CaseFilter(flag="wide_public_attention")),
        "list: school, last month": page(school, last_month_filter),
        f"ledger: jurisdiction, 12 months ({last_12.stated()['from']}…{last_12.stated()['to']})": ledger(last_12),
        f"ledger: jurisdiction, one month ({one_month.stated()['from']})": ledger(one_month),
        "summary: a school's cases needing attention, 12 months": summary_cases,
        "(ledger counted from cases, no rollup: 12 months)": ledger_direct(last_12),
        "(ledger counted from cases, no rollup: one month)": ledger_direct(one_month),
    }


def stats(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {"runs": len(s), "p50_ms": round(statistics.median(s), 2),
            "p99_ms": round(s[min(len(s) - 1, int(len(s) * 0.99))], 2), "max_ms": round(s[-1], 2)}


async def time_queries(conn: Conn, qs: dict[str, Query], runs: int) -> dict[str, dict[str, Any]]:
    out = {}
    for name, q in qs.items():
        for i in range(WARMUP):
            await q(conn, i)
        samples = []
        for i in range(runs):
            t0 = time.perf_counter()
            await q(conn, i)
            samples.append((time.perf_counter() - t0) * 1000)
        out[name] = {**stats(samples), "rows_last_run": len(await q(conn, runs - 1))}
        say(f"{name}: {out[name]}")
    return out


class Explaining:
    """Stands in for a connection: runs EXPLAIN (ANALYZE, BUFFERS) of the SQL the repository sends."""

    def __init__(self, conn: Conn) -> None:
        self.conn, self.plan = conn, ""

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        rows = await self.conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
        self.plan = "\n".join(r[0] for r in rows)
        return []


async def projection_writes(conn: Conn, runs: int) -> dict[str, dict[str, Any]]:
    """What the ledger's trigger costs a projection write: repository.case_deadline_missed on random
    cases, with the trigger and with it off (each in its own transaction, rolled back)."""
    ids = [r["incident_id"] for r in await conn.fetch(
        "SELECT incident_id FROM cases TABLESAMPLE SYSTEM (1) LIMIT $1", runs)]
    out = {}
    for name, enabled in (("projection write (DeadlineMissed), with the ledger trigger", True),
                          ("projection write (DeadlineMissed), trigger off", False)):
        samples = []
        for case_id in ids:
            tr = conn.transaction()
            await tr.start()
            if not enabled:
                await conn.execute("ALTER TABLE cases DISABLE TRIGGER cases_ledger_months")
            t0 = time.perf_counter()
            await repository.case_deadline_missed(conn, case_id)
            samples.append((time.perf_counter() - t0) * 1000)
            await tr.rollback()
        out[name] = {**stats(samples), "rows_last_run": 1}
        say(f"{name}: {out[name]}")
    return out


async def explain(conn: Conn, qs: dict[str, Query]) -> dict[str, str]:
    ex = Explaining(conn)
    out = {}
    for name, q in qs.items():
        await q(ex, 0)  # type: ignore[arg-type]  # duck-typed: the repository only calls fetch
        out[name] = ex.plan
    return out


async def bench(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    now = datetime.now(UTC)
    async with bench_infrastructure(tmp) as infra:
        pool = await create_pool(infra.database_url, SCHEMA, max_size=2)
        try:
            await migrate(pool, SCHEMA, migrations_dir("archive"))
            say(f"loading {args.n} cases ...")
            loaded = await load(pool, args.n, now)
            say(f"loaded: {loaded}")
            async with pool.acquire() as conn:
                server = await conn.fetchval("SHOW server_version")
                buffers = await conn.fetchval("SHOW shared_buffers")
                qs = await queries(conn, now)
                timed = await time_queries(conn, qs, args.runs)
                timed |= await projection_writes(conn, args.runs)
                plans = await explain(conn, qs) if args.plans else {}
        finally:
            await pool.close()
    return {"n": args.n, "load": loaded, "postgres": server, "shared_buffers": buffers, "queries": timed,
            "plans": plans}


def report(results: dict[str, Any]) -> str:
    r = results["archive"]
    lines = [f"archive at {r['n']:,} cases — PostgreSQL {r['postgres']}, shared_buffers {r['shared_buffers']}, "
             f"{results['machine']['nproc']} CPUs ({results['machine']['processor']})",
             f"load: {r['load']}", "",
             f"| query | p50 ms | p99 ms | max ms | rows | p99 ≤ {TARGET_P99_MS:g} ms |", "|---|---|---|---|---|---|"]
    for name, q in r["queries"].items():
        ok = "yes" if q["p99_ms"] <= TARGET_P99_MS else "**no**"
        lines.append(f"| {name} | {q['p50_ms']} | {q['p99_ms']} | {q['max_ms']} | {q['rows_last_run']} | {ok} |")
    for name, plan in r["plans"].items():
        lines += ["", f"-- {name}", plan]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.archive", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="cases loaded into the projection")
    parser.add_argument("--runs", type=int, default=200, help="timed runs of each query (≥ 200 for a p99)")
    parser.add_argument("--no-plans", dest="plans", action="store_false", help="skip EXPLAIN (ANALYZE, BUFFERS)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    results: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="antibully-bench-") as tmp:
        results["archive"] = run_loop(bench(args, Path(tmp)))
    return finish(report(results), results, args.json, started)


if __name__ == "__main__":
    raise SystemExit(main())

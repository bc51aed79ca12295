"""What a console page costs above the API it reads, run by hand (never part of pytest).

    .venv/bin/python -m bench.console [--runs 300] [--concurrency 8] [--json PATH]

The four services and the console run as processes (bench/pipeline.py's System) on the benchmark's
own nats-server and database; one severe incident is reported and archived. Then, one request at a
time (`--runs` after a warm-up): the archive's API directly (`GET /v1/cases/{id}`, `GET /v1/cases`)
and the console's pages that read them (`/cases/{id}` with its purpose, `/cases`), plus the home
page (the office's nearest duties) and the help page (no call at all); p50/p99 in ms and the
console's overhead. Finally the case page with `--concurrency` visitors at once: pages/s.
See docs/performance.md, "The console".
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.common import bench_infrastructure, finish, machine, run_loop
from bench.pipeline import System, stats
from services.intake.examples import SEVERE_EXAMPLE

PASSWORD = "correct horse battery staple"
WARMUP = 20


async def _timed(client: httpx.AsyncClient, url: str, runs: int, **kwargs: Any) -> dict[str, float]:
    for _ in range(WARMUP):
        assert (await client.get(url, **kwargs)).status_code == 200, url
    took = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = await client.get(url, **kwargs)
        took.append(time.perf_counter() - t0)
        assert r.status_code == 200, (url, r.status_code)
    return stats(took)


async def _concurrent(console: str, cookies: httpx.Cookies, path: str, visitors: int, seconds: float
                      ) -> dict[str, float]:
    done = 0
    stop = time.monotonic() + seconds

    async def visitor() -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=console, cookies=cookies, timeout=30) as c:
            while time.monotonic() < stop:
                assert (await c.get(path)).status_code == 200
                done += 1

    t0 = time.monotonic()
    await asyncio.gather(*(visitor() for _ in range(visitors)))
    return {"visitors": visitors, "pages": done, "pages_per_s": round(done / (time.monotonic() - t0), 1)}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from antibully.infra import free_port, wait_port
    from antibully.officials import add_official

    with tempfile.TemporaryDirectory() as tmp:
        async with bench_infrastructure(Path(tmp)) as infra:
            system = System(infra, Path(tmp))  # its environment has every key, the console's too
            port = free_port()
            system.env.update({"CONSOLE_PORT": str(port), "CONSOLE_DEV_MODE": "1", "CONSOLE_LOGIN_PER_MINUTE": "1000"})
            try:
                await system.start()
                system.fleet.start("console")
                wait_port(port, timeout_s=60, proc=system.fleet.procs["console"])
                await add_official(infra.database_url, "bench-bureau", role="bureau", jurisdiction="lechang",
                                   name="bench", password=PASSWORD)
                return await measure(system, f"http://127.0.0.1:{port}", args)
            finally:
                system.close()


async def measure(system: System, console: str, args: argparse.Namespace) -> dict[str, Any]:
    archive = f"http://127.0.0.1:{system.env['ARCHIVE_PORT']}"
    async with httpx.AsyncClient(timeout=30) as api:
        posted = await api.post(f"http://127.0.0.1:{system.intake_port}/v1/incidents", json=SEVERE_EXAMPLE,
                                headers={"Authorization": f"Bearer {system.key}", "Idempotency-Key": str(uuid.uuid4())})
        case_id = posted.json()["incident_id"]
        token = (await api.post(f"{archive}/v1/auth/token",
                                json={"username": "bench-bureau", "password": PASSWORD})).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "X-Access-Purpose": "benchmark"}
        for _ in range(300):  # archived?
            if (await api.get(f"{archive}/v1/cases/{case_id}", headers=headers)).status_code == 200:
                break
            await asyncio.sleep(0.1)
        results: dict[str, Any] = {
            "api: case record": await _timed(api, f"{archive}/v1/cases/{case_id}", args.runs, headers=headers),
            "api: case list": await _timed(api, f"{archive}/v1/cases", args.runs, headers=headers)}
    async with httpx.AsyncClient(base_url=console, timeout=30) as page:
        csrf = re.search(r'name="csrf" value="([^"]+)"', (await page.get("/login")).text)
        assert csrf
        assert (await page.post("/login", data={"csrf": csrf.group(1), "username": "bench-bureau",
                                                "password": PASSWORD})).status_code == 303
        form = re.search(r'name="csrf" value="([^"]+)"', (await page.get(f"/cases/{case_id}")).text)
        assert form
        await page.post(f"/cases/{case_id}/purpose", data={"csrf": form.group(1), "preset": "督办检查"})
        results |= {
            "console: case page": await _timed(page, f"/cases/{case_id}", args.runs),
            "console: case list": await _timed(page, "/cases", args.runs),
            "console: home (nearest duties)": await _timed(page, "/", args.runs),
            "console: help page (no call)": await _timed(page, "/help", args.runs)}
        results["console: case page, concurrent"] = await _concurrent(console, page.cookies, f"/cases/{case_id}",
                                                                      args.concurrency, args.seconds)
    return {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()}, "results": results}


def reading(out: dict[str, Any]) -> str:
    r = out["results"]
    lines = [f"{name:34} p50 {v['p50_ms']:7.1f} ms   p99 {v['p99_ms']:7.1f} ms"
             for name, v in r.items() if "p50_ms" in v]
    for api, page in (("api: case record", "console: case page"), ("api: case list", "console: case list")):
        lines.append(f"overhead of '{page}': p50 +{r[page]['p50_ms'] - r[api]['p50_ms']:.1f} ms")
    c = r["console: case page, concurrent"]
    lines.append(f"case page with {c['visitors']} visitors at once: {c['pages_per_s']} pages/s")
    return "\n".join(lines)


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    started = time.monotonic()
    results = run_loop(main(args))
    return finish(reading(results), results, args.json, started)


if __name__ == "__main__":
    raise SystemExit(cli())

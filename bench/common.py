"""What the benchmarks share: their own nats-server and database on loopback, stopped at the end."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def run_loop(coro: Coroutine[Any, Any, T]) -> T:
    """The event loop the services use (uvloop where installed), so the numbers match production."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "processor": model}


@dataclass(frozen=True)
class BenchInfra:
    nats_url: str
    database_url: str


@asynccontextmanager
async def bench_infrastructure(tmp: Path) -> AsyncIterator[BenchInfra]:
    """nats-server with the project's config, and a fresh database on DATABASE_URL's server (else embedded)."""
    from antibully.infra import EmbeddedPostgres, NatsServer, create_database, drop_database

    nats_server = NatsServer(tmp / "nats", log_file=tmp / "nats.log")
    pg: EmbeddedPostgres | None = None
    database_url: str | None = None
    base_url = os.environ.get("DATABASE_URL")
    try:
        nats_server.start()
        if base_url is None:
            pg = EmbeddedPostgres(tmp / "pg" / "data")
            base_url = pg.url
        database_url = await create_database(base_url, prefix="antibully_bench")
        from antibully.migrate import migrate_database
        from shared.config import Settings

        await migrate_database(Settings(database_url=database_url))  # the services act as their roles
        yield BenchInfra(nats_server.url, database_url)
    finally:
        try:
            if database_url is not None and base_url is not None:
                await drop_database(base_url, database_url)
        finally:
            if pg is not None:
                pg.stop()
            nats_server.stop()


def finish(text: str, results: dict[str, Any], json_path: Path | None, started: float) -> int:
    """Print the report, and write the results as JSON when asked."""
    print()
    print(text)
    print(f"\n(took {time.monotonic() - started:.0f} s)")
    if json_path:
        json_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return 0

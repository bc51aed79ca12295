"""What the benchmarks share: their own nats-server and database on loopback, stopped at the end, and
what a service needs to start on them (since issue 14: its own NATS user and PostgreSQL role, the bus's
sealing keys), taken from the tests' rig (tests/fault_rig.py, tests/helpers.py) so that the two cannot
drift apart."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import platform
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from shared.config import Settings

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


def tests_module(module: str) -> Any:
    """The tests' rig (tests/fault_rig.py, tests/helpers.py), imported by name: the benchmarks set up
    services as the tests do, and mypy does not check the tests' package."""
    return importlib.import_module(f"tests.{module}")


def bus_keys() -> dict[str, str]:
    """The bus's sealing keys (a key pair per reader: archive, notify) in this process's environment, as
    the tests' conftest puts them: events this process builds (get_settings) are sealed for the readers
    the services run with. Keys already set are kept."""
    from shared.bus_seal import new_private_key_b64, public_key_b64

    for reader in ("ARCHIVE", "NOTIFY"):
        private = os.environ.setdefault(f"{reader}_BUS_PRIVATE_KEY", new_private_key_b64())
        os.environ.setdefault(f"{reader}_BUS_PUBLIC_KEY", public_key_b64(private))
    return {name: os.environ[name] for name in (f"{r}_BUS_{k}_KEY" for r in ("ARCHIVE", "NOTIFY")
                                                 for k in ("PRIVATE", "PUBLIC"))}


def fresh_keys() -> dict[str, str]:
    """Every key setting of shared/service_keys.py (environment names): fresh random keys, the public ones
    derived from their private ones, the bus's from this process's (`bus_keys`)."""
    from shared.assertions import public_key_b64
    from shared.crypto import new_key_b64
    from shared.service_keys import KEYS

    keys = {name.upper(): new_key_b64() for name in KEYS if "_bus_" not in name}
    keys["IDENTITY_PUBLIC_KEY"] = public_key_b64(keys["IDENTITY_SIGNING_KEY"])
    return keys | bus_keys()


# tests/fault_rig.py's quick timings (redelivery after 10 s, ...) make faults short; a benchmark runs the defaults
_RIG_TIMINGS = ("ack_wait_s", "smtp_timeout_s", "db_acquire_timeout_s")


@dataclass(frozen=True)
class BenchInfra:
    """The benchmark's servers. `nats_url` carries the server admin's credentials (for raw clients:
    floors, probes); a service given its seed signs in as its own user instead."""

    nats_url: str
    database_url: str

    def service_env(self, smtp_port: int = 0, /, **extra: str) -> dict[str, str]:
        """The services' environment as processes: the tests' rig_env (each service's NATS seed, the
        admin's for `antibully nats-setup`, and its own PostgreSQL role), every key, the default timings."""
        from shared.config import Settings

        timings = {name.upper(): str(Settings.model_fields[name].default) for name in _RIG_TIMINGS}
        return {**tests_module("fault_rig").rig_env(self.nats_url, self.database_url, smtp_port),
                **fresh_keys(), **timings, **extra}

    def settings(self, **fields: Any) -> Settings:
        """A service's Settings in this process, as the tests' `settings` fixture makes them: every NATS
        seed (the service signs in as itself; `setup_nats(settings)` as the admin), every role's login,
        every key. `fields` override."""
        from antibully.infra import database_url_as
        from shared.config import DB_SERVICES
        from shared.config import Settings as _Settings

        values: dict[str, Any] = {
            "nats_url": self.nats_url, "database_url": self.database_url,
            **{f"{s}_database_url": database_url_as(self.database_url, f"antibully_{s}") for s in DB_SERVICES},
            **tests_module("helpers").NATS_KEYS.settings(),
            **{name.lower(): value for name, value in fresh_keys().items()}, **fields}
        return _Settings(**values)


@asynccontextmanager
async def bench_infrastructure(tmp: Path) -> AsyncIterator[BenchInfra]:
    """nats-server with the project's config and the tests' NATS users (tests/helpers.NATS_KEYS), and a
    fresh database on DATABASE_URL's server (else embedded), migrated: the service roles exist."""
    from antibully.infra import EmbeddedPostgres, NatsServer, create_database, drop_database

    bus_keys()
    nats_server = NatsServer(tmp / "nats", log_file=tmp / "nats.log", keys=tests_module("helpers").NATS_KEYS)
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

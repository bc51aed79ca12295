"""The benchmarks (bench/, run by hand, never by the suite) still start the services: issue 14's keys,
NATS users and PostgreSQL roles broke them unnoticed. Each module imports, and the environment and the
Settings bench/common.py hands the services hold every secret a service requires (shared/service_keys.py),
none refused, with bus keys that open what the benchmark's own process seals. No servers: fast."""

from __future__ import annotations

import importlib
import os
import pkgutil

import pytest

import bench
from bench.common import BenchInfra
from shared.bus_seal import Opening, Sealing
from shared.config import Settings
from shared.contracts.sealed import ARCHIVE, NOTIFY
from shared.service_keys import APP_SERVICES, OPTIONAL, SERVICE_SECRETS, refusals

INFRA = BenchInfra("nats://admin:secret@127.0.0.1:4222", "postgresql://postgres@127.0.0.1:5432/antibully_bench")
MODULES = sorted(m.name for m in pkgutil.iter_modules(bench.__path__))


def _problems(values: dict[str, object], service: str) -> list[str]:
    missing = sorted(s for s in SERVICE_SECRETS[service] - OPTIONAL if not values.get(s))
    return [f"{s} missing" for s in missing] + refusals(values, service)


@pytest.mark.pure
@pytest.mark.parametrize("name", MODULES)
def test_every_benchmark_module_imports(name: str) -> None:
    assert importlib.import_module(f"bench.{name}").__doc__, f"bench/{name}.py says what it measures"


@pytest.mark.pure
def test_services_in_the_benchmarks_process_get_what_they_require() -> None:
    settings = INFRA.settings(intake_port=8080)
    values = settings.model_dump()
    assert {s: _problems(values, s) for s in ("intake", "escalation", "notify")} == {
        "intake": [], "escalation": [], "notify": []}
    assert settings.intake_port == 8080 and settings.nats_url == INFRA.nats_url


def test_services_as_processes_get_what_they_require() -> None:
    env = INFRA.service_env(2525, LOG_LEVEL="WARNING")  # binds nothing but free_port's probes
    values = {name.lower(): value for name, value in env.items()}
    assert {s: _problems(values, s) for s in APP_SERVICES} == {s: [] for s in APP_SERVICES}
    assert env["LOG_LEVEL"] == "WARNING" and env["SMTP_PORT"] == "2525"
    Settings(**{k: v for k, v in values.items() if k in Settings.model_fields})  # every value parses
    # what the benchmark's process seals (its environment's public keys), the services' private keys open
    sealing = Sealing({ARCHIVE: os.environ["ARCHIVE_BUS_PUBLIC_KEY"], NOTIFY: os.environ["NOTIFY_BUS_PUBLIC_KEY"]})
    box = sealing.seal({"name": "x"}, "bench", (ARCHIVE, NOTIFY))
    for reader in (ARCHIVE, NOTIFY):
        assert Opening(reader, env[f"{reader.upper()}_BUS_PRIVATE_KEY"]).open(box, "bench") == {"name": "x"}

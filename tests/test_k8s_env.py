"""Every variable a service reads is set in its manifest: its secrets exactly (shared/service_keys.py, from
its own Secret), every setting its code reads whose default only works on one machine (a loopback address,
a path in the source tree, metrics off), and everything compose.yaml gives it (tests/test_service_keys.py
reads that file). What a service reads is found in its code: the Settings fields named in the modules its
`__main__` imports, transitively."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

from shared.config import ROOT, Settings
from shared.service_keys import ALL_SECRETS, OPTIONAL, SERVICE_SECRETS
from tests.k8s_manifests import APP_SERVICES, JOBS, EnvSource, container_env, find, production, release
from tests.k8s_render import Obj, pod_specs
from tests.test_service_keys import _compose

FIELDS = set(Settings.model_fields)
OWN_PACKAGES = ("shared", "services")
# SMTP AUTH: a secret of notify's the table does not list (yet), passed from notify's own Secret too
EXTRA_SECRETS = {"notify": {"SMTP_USERNAME"}}  # not a secret, but kept beside the password it goes with
# the console reaches neither NATS nor PostgreSQL (shared modules it imports name their settings)
NO_BUS = {"console"}


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*parent, module] if module else parent)
            names |= {module, *(f"{module}.{a.name}" for a in node.names)}
    return {n for n in names if n.split(".")[0] in OWN_PACKAGES}


@cache
def modules_of(service: str) -> frozenset[Path]:
    """The repository's modules `python -m services.<service>` imports, directly or not."""
    seen: set[Path] = set()
    todo = [ROOT / "services" / service / "__main__.py"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(f for name in _imports(path) if (f := _module_file(name)) is not None)
    return frozenset(seen)


def settings_read(service: str) -> set[str]:
    """The Settings fields named (`x.field`) in the service's modules; shared/config.py itself, where the
    fallbacks between fields live, is left out."""
    fields: set[str] = set()
    for path in modules_of(service) - {ROOT / "shared" / "config.py"}:
        fields |= {n.attr for n in ast.walk(ast.parse(path.read_text()))
                   if isinstance(n, ast.Attribute) and n.attr in FIELDS}
    return fields


def only_works_locally(field: str) -> bool:
    """A default that is right on a developer's machine and wrong in a pod."""
    if field == "database_url":
        return False  # the fallback login: each service has its own URL (checked with the secrets)
    default = Settings.model_fields[field].default
    if isinstance(default, Path):
        return default.is_relative_to(ROOT)
    if isinstance(default, str):
        return "127.0.0.1" in default or "localhost" in default
    return field.endswith("_metrics_port") or field in ("nats_replicas",)


def _workload(service: str) -> tuple[Obj, list[Obj]]:
    if service in JOBS:
        return find(release(), "Job", JOBS[service]), release()
    objs = production()
    return find(objs, "Deployment", service), objs


@pytest.mark.pure
def test_the_code_scan_finds_what_each_service_is_known_to_read() -> None:
    escalation = {"escalation_port", "policy_file", "directory_file", "nats_url", "nats_tls_ca"}
    assert escalation <= settings_read("escalation")
    assert "policy_file" in settings_read("archive")  # the look-backs' window (routes/lookbacks.py)
    assert {"console_archive_url", "console_session_key"} <= settings_read("console")
    assert "policy_file" not in settings_read("console") and "archive_kek" not in settings_read("intake")
    assert {"smtp_host", "link_key", "directory_file"} <= settings_read("notify")


@pytest.mark.pure
@pytest.mark.parametrize("service", [*APP_SERVICES, *JOBS])
def test_each_workload_gets_exactly_its_own_secrets_from_its_own_secret(service: str) -> None:
    workload, objs = _workload(service)
    env = container_env(workload, objs)
    from_secrets = {name: src for name, src in env.items() if src.secret}
    table = SERVICE_SECRETS[service]
    assert {n.lower() for n in from_secrets} & ALL_SECRETS == table, service
    assert set(from_secrets) - {n.upper() for n in table} == EXTRA_SECRETS.get(service, set())
    for name, src in from_secrets.items():
        assert src.secret == f"antibully-{service}" and src.key == name, f"{service}: {name} from {src}"
        assert src.optional == (name.lower() in OPTIONAL or name in EXTRA_SECRETS.get(service, set())), name
    literal = {n.lower() for n, src in env.items() if not src.secret}
    assert not literal & ALL_SECRETS, f"{service}: a secret given as a plain value: {literal & ALL_SECRETS}"


@pytest.mark.pure
@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_setting_a_service_reads_that_only_works_locally_is_set(service: str) -> None:
    workload, objs = _workload(service)
    env = container_env(workload, objs)
    needed = {f.upper() for f in settings_read(service) if only_works_locally(f)}
    assert needed, f"the scan found nothing for {service}"
    assert needed <= set(env), f"{service} reads {sorted(needed - set(env))}, its manifest does not set them"
    compose = set(_compose()[service])
    assert compose <= set(env), f"{service}: compose.yaml sets {sorted(compose - set(env))}, the manifest does not"
    _assert_values_work_in_a_pod(service, workload, env)


def _assert_values_work_in_a_pod(service: str, workload: Obj, env: dict[str, EnvSource]) -> None:
    values = {name: src.value for name, src in env.items() if src.value is not None}
    for name, value in values.items():
        if name.endswith("_HOST") and name != "SMTP_HOST":
            assert value == "0.0.0.0", f"{service}: {name}={value} is not reachable from outside the pod"
        assert "127.0.0.1" not in value and "localhost" not in value, f"{service}: {name}={value}"
    assert values["NATS_REPLICAS"] == "3"
    (spec,) = pod_specs(workload)
    mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    files = {"DIRECTORY_FILE": "antibully-directory", "POLICY_FILE": "antibully-policy",
             "NATS_TLS_CA": "antibully-nats-ca"}
    for name, config in files.items():
        if name.lower() not in settings_read(service) or (name == "NATS_TLS_CA" and service in NO_BUS):
            continue
        path = Path(values[name])
        volume = volumes[mounts[str(path.parent)]]
        assert volume["configMap"]["name"].startswith(config), f"{service}: {name} is not in {config}"


@pytest.mark.pure
def test_nats_setup_makes_every_stream_at_three_replicas_over_tls() -> None:
    job, objs = _workload("nats-setup")
    env = container_env(job, objs)
    assert env["NATS_REPLICAS"].value == "3" and env["NATS_URL"].value == "nats://nats:4222"
    assert env["NATS_TLS_CA"].value == "/etc/antibully/nats-ca/ca.pem"


@pytest.mark.pure
def test_the_operations_guide_makes_each_secret_with_exactly_the_keys_its_workload_reads() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text().split("\n## Kubernetes\n", 1)[1]
    lines = {line.split()[1]: set(line.split()[2:]) for line in guide.splitlines() if line.startswith("secret ")}
    assert set(lines) == {*APP_SERVICES, *JOBS}
    for service, keys in lines.items():
        workload, objs = _workload(service)
        read = {src.key for src in container_env(workload, objs).values() if src.secret}
        assert keys == read, f"antibully-{service}: the guide makes {sorted(keys ^ read)} wrongly"

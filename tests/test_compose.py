"""compose.yaml without a Docker engine: valid against the Compose Specification's JSON schema
(tests/fixtures/compose-spec.json: schema/compose-spec.json of compose-spec/compose-spec at 170098ba,
2026-06-23, Apache-2.0), and wired as meant — every
dependency a service, every mounted file in the repository, replicas without fixed host ports, a
healthcheck on each app service's own port, three NATS nodes routed to each other, streams at R3,
Prometheus scraping each service's metrics port, the policy and directory mounted where the settings
look. tests/test_replicas.py runs the same topology as processes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from antibully.healthcheck import PATHS
from shared.bus import stream_config
from shared.config import ROOT, Settings
from shared.subjects import STREAMS

pytestmark = pytest.mark.pure

SCHEMA = Path(__file__).with_name("fixtures") / "compose-spec.json"
APP = ("intake", "escalation", "notify", "archive", "console")
NODES = ("nats-1", "nats-2", "nats-3")
# made by the operator before the first `up` (compose.yaml's header: `antibully nats-auth`, `nats-certs`)
GENERATED = (".nats/",)


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "compose.yaml").read_text()))


def _services() -> dict[str, dict[str, Any]]:
    return dict(_compose()["services"])


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def _flag(command: list[str], flag: str) -> str:
    """The flag's value, each ${VAR…} as compose would put a (URL-safe) value there."""
    return re.sub(r"\$\{[^}]*\}", "secret", command[command.index(flag) + 1])


def _binds(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each bind mount (a source path starting with ./)."""
    out = []
    for volume in service.get("volumes") or []:
        source, target = (volume["source"], volume["target"]) if isinstance(volume, dict) else volume.split(":")[:2]
        if source.startswith("./"):
            out.append((source, target))
    return out


def test_compose_yaml_is_valid_against_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(_compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)
    # the check can fail: a misspelt key is refused
    broken = _compose() | {"services": {"intake": {"image": "x", "helthcheck": {}}}}
    assert any("helthcheck" in e.message for e in validator.iter_errors(broken))


def test_every_dependency_is_a_service_and_every_mounted_file_is_in_the_repository() -> None:
    compose = _compose()
    services = compose["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on") or []:
            assert dependency in services, f"{name} depends on {dependency}, which is no service"
        for source, _ in _binds(service):
            path = source.removeprefix("./")
            if not path.startswith(GENERATED):
                assert (ROOT / path).exists(), f"{name} mounts {source}, which is not in the repository"
    for name, config in (compose.get("configs") or {}).items():
        assert (ROOT / config["file"]).is_file(), f"config {name}: {config['file']} is missing"


def test_replicated_services_have_no_fixed_host_port_the_edge_publishes_them() -> None:
    services = _services()
    replicated = {name for name, s in services.items() if (s.get("deploy") or {}).get("replicas", 1) > 1}
    assert replicated == set(APP), replicated  # two of each, escalation included (docs/operations.md)
    for name in replicated:
        assert services[name]["deploy"]["replicas"] == 2
        assert not services[name].get("ports"), f"{name} has replicas and a host port: they would conflict"
    # every API port is published once, by the edge, which sends it on to that service's replicas
    haproxy = (ROOT / "deploy" / "haproxy.cfg").read_text()
    published = {int(p.split(":")[-1]) for p in services["edge"]["ports"]}
    for name in ("intake", "archive", "notify", "console"):
        port = int(getattr(Settings(), f"{name}_port"))
        assert port in published and str(port) in services[name]["expose"], name
        assert re.search(rf"frontend {name}\n\s+bind :{port}\n", haproxy), name
        assert re.search(rf"backend {name}\n(?:\s+.*\n)*?\s+server-template {name} \d+ {name}:{port}\n", haproxy), name


def test_each_app_service_checks_its_own_readiness() -> None:
    services = _services()
    for name in APP:
        check = services[name].get("healthcheck") or {}
        test = " ".join(check.get("test", []))
        port = int(getattr(Settings(), f"{name}_port"))
        path = PATHS[name]  # the image's HEALTHCHECK's paths: the console's /healthz keeps it in rotation
        assert f"http://127.0.0.1:{port}{path}" in test and "urllib" in test, f"{name}: {test!r}"
    for name in ("postgres", *NODES, "edge", "prometheus", "grafana", "mailpit"):
        assert services[name].get("healthcheck", {}).get("test"), name


def test_three_nats_nodes_routed_to_each_other_streams_at_three_replicas() -> None:
    services = _services()
    names = set()
    for node in NODES:
        command = services[node]["command"]
        names.add(_flag(command, "-n"))
        assert _flag(command, "--cluster_name") == "antibully" and "--tls" in command
        routes = {urlsplit(u).hostname for u in _flag(command, "--routes").split(",")}
        assert routes == set(NODES) - {node}, f"{node} routes to {routes}"
        # the routes log in: nothing else on the network joins the cluster
        assert all("route:${NATS_ROUTE_PASSWORD" in command[command.index(f) + 1] for f in ("--cluster", "--routes"))
        for url in [_flag(command, "--cluster"), *_flag(command, "--routes").split(",")]:
            assert urlsplit(url).username == "route" and urlsplit(url).password == "secret", url
        assert ("./deploy/nats.conf", "/etc/nats/nats.conf") in _binds(services[node])
        assert any(v.endswith(":/data") for v in services[node]["volumes"] if isinstance(v, str))
    assert names == set(NODES)
    for name in (*APP, "nats-setup"):
        env = _env(services[name])
        assert {urlsplit(u).hostname for u in env["NATS_URL"].split(",")} == set(NODES), name
        assert env["NATS_REPLICAS"] == "3", name
    settings = Settings(nats_replicas=int(_env(services["nats-setup"])["NATS_REPLICAS"]))
    assert {stream_config(s, settings.nats_replicas).num_replicas for s in STREAMS} == {3}


def test_policy_and_directory_are_mounted_where_the_settings_look() -> None:
    services = _services()
    for name in ("intake", "escalation", "notify", "archive"):
        env, service = _env(services[name]), services[name]
        policy = Path(env["POLICY_FILE"])
        folder = dict((t, s) for s, t in _binds(service))[str(policy.parent)]
        assert folder == "./deploy/policy" and (ROOT / "deploy/policy" / policy.name).is_file(), name
        assert f"{policy.parent}:ro" in " ".join(v for v in service["volumes"] if isinstance(v, str))
        directory = dict((t, s) for s, t in _binds(service))[env["DIRECTORY_FILE"]]
        assert directory == "./deploy/directory.toml", name
        assert f"{env['DIRECTORY_FILE']}:ro" in " ".join(v for v in service["volumes"] if isinstance(v, str))


def test_prometheus_scrapes_every_replica_of_every_service_and_loads_the_alert_rules() -> None:
    services = _services()
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name in APP:
        env = _env(services[name])
        assert env["METRICS_HOST"] == "0.0.0.0", name
        port = int(env[f"{name.upper()}_METRICS_PORT"])
        (sd,) = jobs[name]["dns_sd_configs"]  # by DNS: each replica is a target of its own
        assert sd["names"] == [name] and sd["type"] == "A" and sd["port"] == port, name
        assert str(port) in services[name]["expose"] and not services[name].get("ports"), name
    mounts = dict((t, s) for s, t in _binds(services["prometheus"]))
    for rule_file in config["rule_files"]:
        assert mounts[rule_file] == "./deploy/prometheus/alerts.yml"
    assert mounts["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus/prometheus.yml"
    grafana = dict((t, s) for s, t in _binds(services["grafana"]))
    assert grafana["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    assert grafana["/var/lib/grafana/dashboards"] == "./deploy/grafana/dashboards"

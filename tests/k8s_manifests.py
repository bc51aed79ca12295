"""The production overlay as rendered objects, and what a pod's container is given (for tests/test_k8s*.py)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from shared.config import ROOT
from tests.k8s_render import Obj, build, pod_specs

K8S = ROOT / "deploy" / "k8s"
PRODUCTION = K8S / "overlays" / "production"
RELEASE = PRODUCTION / "release"
MONITORING = K8S / "monitoring"
APP_SERVICES = ("intake", "escalation", "notify", "archive", "console")
JOBS = {"migrate": "antibully-migrate", "nats-setup": "antibully-nats-setup"}


@lru_cache
def _rendered() -> tuple[tuple[Obj, ...], tuple[Obj, ...]]:
    return tuple(build(PRODUCTION)), tuple(build(RELEASE))


def production() -> list[Obj]:
    """The services' overlay (a fresh copy each call: a test may change what it gets)."""
    return copy.deepcopy(list(_rendered()[0]))


def release() -> list[Obj]:
    return copy.deepcopy(list(_rendered()[1]))


def monitoring() -> list[Obj]:
    """The optional PodMonitor and PrometheusRule (for the Prometheus Operator)."""
    return build(MONITORING)


def find(objs: list[Obj], kind: str, name: str) -> Obj:
    matches = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} objects"
    return matches[0]


@dataclass(frozen=True)
class EnvSource:
    """Where one variable comes from: a literal value, a ConfigMap's key or a Secret's key."""

    value: str | None = None
    secret: str | None = None
    key: str | None = None
    optional: bool = False


def container_env(workload: Obj, objs: list[Obj]) -> dict[str, EnvSource]:
    """Every variable the (single) container of `workload` gets, envFrom ConfigMaps resolved in `objs`."""
    (spec,) = pod_specs(workload)
    (container,) = spec["containers"]
    env: dict[str, EnvSource] = {}
    for source in container.get("envFrom", []):
        config = find(objs, "ConfigMap", source["configMapRef"]["name"])
        env |= {k: EnvSource(value=v) for k, v in config.get("data", {}).items()}
    for entry in container.get("env", []):
        ref: dict[str, Any] = entry.get("valueFrom", {}).get("secretKeyRef", {})
        if ref:
            env[entry["name"]] = EnvSource(secret=ref["name"], key=ref["key"], optional=ref.get("optional", False))
        else:
            assert "valueFrom" not in entry, f"{entry['name']}: only literals and secretKeyRef are used"
            env[entry["name"]] = EnvSource(value=entry["value"])
    return env

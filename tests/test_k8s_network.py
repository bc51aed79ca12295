"""The NetworkPolicies let each workload reach what it needs and nothing else in the namespace: evaluated
here (podSelector matchLabels/matchExpressions In, ports by number or container-port name) for every pair
of workloads, in both directions (the sender's egress and the receiver's ingress must both allow it)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.k8s_manifests import production, release
from tests.k8s_render import Obj, pod_specs

NATS = {"labels": {"app.kubernetes.io/name": "nats", "app.kubernetes.io/component": "nats"},
        "ports": {"nats": 4222, "cluster": 6222, "monitor": 8222}}
POSTGRES = {"labels": {"cnpg.io/cluster": "antibully-db"}, "ports": {"postgres": 5432}}
# who must reach whom, on which port (in the namespace); every other pair must be refused
NEEDS = {
    "intake": {("nats", 4222), ("postgres", 5432)},
    "escalation": {("nats", 4222), ("postgres", 5432)},
    "notify": {("nats", 4222), ("postgres", 5432)},
    "archive": {("nats", 4222), ("postgres", 5432)},
    "console": {("intake", 8080), ("archive", 8081)},
    "antibully-migrate": {("postgres", 5432)},
    "antibully-nats-setup": {("nats", 4222)},
    "nats": {("nats", 6222)},
    "postgres": {("postgres", 5432)},
}


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In", expr
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def _pods() -> dict[str, tuple[dict[str, str], dict[str, int]]]:
    """Each workload's pod labels and named ports."""
    pods = {}
    for obj in production() + release():
        for spec in pod_specs(obj):
            ports = {p["name"]: p["containerPort"] for c in spec["containers"] for p in c.get("ports", [])}
            pods[obj["metadata"]["name"]] = (obj["spec"]["template"]["metadata"]["labels"], ports)
    pods["nats"] = (NATS["labels"], NATS["ports"])
    pods["postgres"] = (POSTGRES["labels"], POSTGRES["ports"])
    return pods


def _port_allowed(rule: dict[str, Any], port: int, named: dict[str, int]) -> bool:
    ports = rule.get("ports")
    return ports is None or any(p["port"] == port or named.get(str(p["port"])) == port for p in ports)


def _allows(policies: list[Obj], direction: str, me: str, peer: str, port: int,
            pods: dict[str, tuple[dict[str, str], dict[str, int]]]) -> bool:
    """Whether the policies selecting `me` allow `direction` traffic with `peer` on `port` (the receiver's
    named ports name `port`). In-namespace peers only: a rule with a namespaceSelector does not count."""
    key = "egress" if direction == "Egress" else "ingress"
    peer_key = "to" if direction == "Egress" else "from"
    receiver = pods[peer] if direction == "Egress" else pods[me]
    for policy in policies:
        spec = policy["spec"]
        if direction not in spec["policyTypes"] or not _selects(spec["podSelector"], pods[me][0]):
            continue
        for rule in spec.get(key, []):
            peers = [p for p in rule.get(peer_key, []) if "podSelector" in p and "namespaceSelector" not in p]
            if any(_selects(p["podSelector"], pods[peer][0]) for p in peers) and \
                    _port_allowed(rule, port, receiver[1]):
                return True
    return False


@pytest.mark.pure
def test_each_workload_reaches_what_it_needs_and_nothing_else() -> None:
    policies = [o for o in production() if o["kind"] == "NetworkPolicy"]
    default = next(p for p in policies if p["metadata"]["name"] == "default-deny")["spec"]
    assert default == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    pods = _pods()
    ports = sorted({port for _, named in pods.values() for port in named.values()})
    for sender in pods:
        for receiver in pods:
            for port in ports:
                if port not in pods[receiver][1].values():
                    continue
                open_ = _allows(policies, "Egress", sender, receiver, port, pods) and \
                    _allows(policies, "Ingress", receiver, sender, port, pods)
                expected = (receiver, port) in NEEDS.get(sender, set())
                assert open_ == expected, f"{sender} → {receiver}:{port} is {'open' if open_ else 'closed'}"

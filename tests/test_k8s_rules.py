"""The PrometheusRule in deploy/k8s/monitoring carries exactly deploy/prometheus/alerts.yml's rules, so an
alert edited for compose is the alert Kubernetes gets (its schema: tests/test_k8s.py)."""

from __future__ import annotations

import pytest
import yaml

from tests.k8s_manifests import find, monitoring
from tests.k8s_rules import ALERTS, RULE, alert_groups, render

REGENERATE = "deploy/k8s/monitoring/prometheusrule.yaml differs from alerts.yml: run `python -m tests.k8s_rules`"


@pytest.mark.pure
def test_the_prometheus_rule_holds_the_alert_rules_groups_exactly() -> None:
    rule = find(monitoring(), "PrometheusRule", "antibully")
    groups = alert_groups()
    assert rule["spec"] == {"groups": groups}, REGENERATE
    assert yaml.safe_load(RULE.read_text())["spec"]["groups"] == groups, REGENERATE
    assert RULE.read_text() == render(), REGENERATE  # the file is the generator's, header and comments too
    assert rule["metadata"]["namespace"] == "antibully"


@pytest.mark.pure
def test_an_edited_alert_is_seen_and_regenerating_carries_it() -> None:
    source = ALERTS.read_text()
    edited = source.replace("for: 10m", "for: 15m", 1)
    assert edited != source
    spec = yaml.safe_load(render(edited))["spec"]
    assert spec != find(monitoring(), "PrometheusRule", "antibully")["spec"]  # the committed file is now stale
    assert spec == {"groups": yaml.safe_load(edited)["groups"]}

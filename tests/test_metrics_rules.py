"""The alert rules and the dashboard are well formed, and every expression in them names metrics only
in a shape a test can check against what the services export (tests/test_metrics_exported.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from shared.config import ROOT
from tests.metric_names import exported_names, metric_names

ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "antibully.json"
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
OPERATIONS = ROOT / "docs" / "operations.md"
DURATION = r"^\d+[smhdw]$"


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def expressions() -> dict[str, str]:
    """Every PromQL expression of the rules and the panels, by where it is."""
    found = {f"alert {r['alert']}": str(r["expr"]) for r in alert_rules()}
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            found[f"panel {panel['title']!r} {target['refId']}"] = target["expr"]
    return found


@pytest.mark.pure
def test_metric_names_skip_functions_labels_and_keywords() -> None:
    expr = ('histogram_quantile(0.95, sum by (job, route, le) (rate(antibully_http_request_duration_seconds_bucket'
            '{route!~"/healthz|/readyz", status="5xx"}[5m]))) > 1 and on (job) max without (instance) (up offset 5m)'
            ' / ignoring(le) group_left antibully_x:rate5m unless bool 2e3')
    assert metric_names(expr) == {"antibully_http_request_duration_seconds_bucket", "up", "antibully_x:rate5m"}
    assert metric_names('sum(increase(antibully_notices_total{outcome="failed"}[15m:1m])) > 0') == {
        "antibully_notices_total"}


@pytest.mark.pure
def test_exported_names_cover_suffixes_and_empty_families() -> None:
    text = ("# HELP a_total x\n# TYPE a_total counter\n"  # a labelled counter that counted nothing yet
            "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1.0\nh_count 1.0\nh_sum 0.1\n"
            "# HELP g x\n# TYPE g gauge\ng 1.0\n")
    assert {"a", "a_total", "h_bucket", "h_sum", "h_count", "g"} <= exported_names(text)


@pytest.mark.pure
def test_alert_rules_are_well_formed() -> None:
    data = yaml.safe_load(ALERTS.read_text())
    assert set(data) == {"groups"} and data["groups"]
    names: list[str] = []
    runbook = OPERATIONS.read_text()
    for group in data["groups"]:
        assert isinstance(group["name"], str) and group["rules"], group
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, rule
            assert rule["alert"].startswith("Antibully") and isinstance(rule["expr"], str), rule
            assert re.match(DURATION, str(rule["for"])), rule
            assert rule["labels"]["severity"] in ("critical", "warning"), rule
            annotations = rule["annotations"]
            assert annotations["summary"].strip(), rule
            anchor = annotations["runbook_url"]
            assert anchor == f"docs/operations.md#{rule['alert'].lower()}", rule
            assert f"#### {rule['alert']}\n" in runbook, f"no runbook entry for {rule['alert']}"
            assert metric_names(rule["expr"]), rule
            names.append(rule["alert"])
    assert len(names) == len(set(names))
    # what the issue asks an operator to be woken for
    assert {"AntibullyDependencyDown", "AntibullyConsumerLagGrowing", "AntibullyDeadLetters", "AntibullyOutboxStuck",
            "AntibullyDutiesOverdue", "AntibullyNoticesFailing", "AntibullyHttp5xx",
            "AntibullyHttpLatencyP95"} <= set(names)


@pytest.mark.pure
def test_dashboard_and_provisioning() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "antibully" and dashboard["panels"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "prometheus" and panel["targets"], panel["title"]
        assert all(metric_names(t["expr"]) for t in panel["targets"]), panel["title"]
    sources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yaml").read_text())["datasources"]
    assert [s["uid"] for s in sources] == ["prometheus"] and sources[0]["type"] == "prometheus"
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "antibully.yaml").read_text())["providers"]
    assert providers[0]["type"] == "file" and providers[0]["options"]["path"]
    assert all(e.startswith("antibully_") or e == "up" for expr in expressions().values() for e in metric_names(expr))

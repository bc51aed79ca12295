"""deploy/k8s/monitoring/prometheusrule.yaml, made from deploy/prometheus/alerts.yml: Kustomize cannot put a
file into a custom resource's spec, so the alert rules are copied into the PrometheusRule by this script and
tests/test_k8s_rules.py fails when the copy differs from its source. After editing alerts.yml:

    .venv/bin/python -m tests.k8s_rules

The rules' text is indented, not re-serialised, so their comments and block scalars stay as written."""

from __future__ import annotations

from typing import Any

import yaml

from shared.config import ROOT

ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE = ROOT / "deploy" / "k8s" / "monitoring" / "prometheusrule.yaml"

HEADER = """\
# GENERATED from deploy/prometheus/alerts.yml by `python -m tests.k8s_rules`: edit alerts.yml, then run that
# (tests/test_k8s_rules.py fails while the two differ). For a Prometheus run by the Prometheus Operator: its
# PrometheusRule CRD must exist, and the Prometheus's ruleSelector/ruleNamespaceSelector must select this
# object (add the label your Prometheus selects, e.g. `release: <helm release>`, in a patch).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: antibully
  labels:
    app.kubernetes.io/part-of: antibully
spec:
"""


def alert_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(ALERTS.read_text())["groups"]
    return groups


def render(alerts: str | None = None) -> str:
    """The PrometheusRule: alerts.yml (or the text `alerts`) from its `groups:` line on, two spaces deeper
    under `spec:`."""
    source = ALERTS.read_text() if alerts is None else alerts
    lines = source.splitlines()
    start = lines.index("groups:")  # the file's only top-level key (tests/test_metrics_rules.py)
    body = "\n".join(f"  {line}" if line.strip() else "" for line in lines[start:])
    text = f"{HEADER}{body}\n"
    rendered = yaml.safe_load(text)["spec"]["groups"]
    assert rendered == yaml.safe_load(source)["groups"], "indenting alerts.yml changed its meaning"
    return text


if __name__ == "__main__":
    RULE.write_text(render())
    print(f"wrote {RULE.relative_to(ROOT)}")

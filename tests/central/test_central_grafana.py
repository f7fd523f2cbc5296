"""The shipped Grafana dashboard and provisioning: valid PromQL, only declared metrics."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from deidentify.metrics import central_metrics, sidecar_metrics

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "deidentify-dashboard.json"


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def expressions(only_central: bool = False) -> list[tuple[str, str]]:
    out = []
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            if only_central and "deid_sidecar_" in expr:
                continue
            out.append((panel["title"], concrete(expr)))
    return out


def concrete(expr: str) -> str:
    """Grafana's variables replaced by what they expand to with "All" selected."""
    return expr.replace("$region", ".*").replace("$__rate_interval", "1m")


def exported_names() -> set[str]:
    names: set[str] = set()
    for registry in (central_metrics(CollectorRegistry()).registry,
                     sidecar_metrics(CollectorRegistry()).registry):
        for family in registry.collect():
            kind = family.type
            base = family.name
            if kind == "counter":
                names |= {base + "_total", base + "_created"}
            elif kind == "histogram":
                names |= {base + "_bucket", base + "_sum", base + "_count"}
            else:
                names.add(base)
    return names


def test_every_metric_in_the_dashboard_is_declared() -> None:
    known = exported_names()
    used = set()
    for _title, expr in expressions():
        used |= set(re.findall(r"\bdeid_[a-z0-9_]+", expr))
    assert used, "no deid_ metric in the dashboard"
    assert used - known == set()


def test_dashboard_promql_is_valid(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        message = "promtool is not installed (apt-get install -y prometheus)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:panel_{i}", "expr": expr}
        for i, (_title, expr) in enumerate(expressions())]}]}
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_shape_and_provisioning() -> None:
    dash = dashboard()
    assert dash["uid"] == "deidentify-central"
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml")
                                .read_text())["datasources"][0]
    ids = set()
    for panel in dash["panels"]:
        assert panel["id"] not in ids
        ids.add(panel["id"])
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == datasource["uid"]
            assert panel["targets"], panel["title"]
    titles = " | ".join(p["title"] for p in dash["panels"])
    for needed in ("Request rate by route", "5xx error rate by route", "Latency percentiles",
                   "Billing totals by tenant and currency", "Webhook success rate by host"):
        assert needed in titles
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "deidentify.yml")
                              .read_text())["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"

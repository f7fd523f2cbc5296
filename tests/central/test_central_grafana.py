"""The shipped Grafana dashboard and provisioning: generated from the schemas and up to date,
valid PromQL, only declared metrics."""

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

from deidentify.central.export import CentralExport
from deidentify.cli import main as cli_main
from deidentify.grafana import grafana_dashboard, render
from deidentify.metrics import central_metrics, sidecar_metrics
from deidentify.schema import load_schemas

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS_DIR = ROOT / "schemas"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "deidentify-dashboard.json"


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def expressions(only_central: bool = False, dash: dict | None = None) -> list[tuple[str, str]]:
    out = []
    for panel in (dash or dashboard())["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            if only_central and "deid_sidecar_" in expr:
                continue
            out.append((panel["title"], concrete(expr)))
    return out


def concrete(expr: str) -> str:
    """Grafana's variables replaced by what they expand to with "All" selected."""
    return expr.replace("$region", ".*").replace("$__rate_interval", "1m")


def exported_names(schemas_dir: Path = SCHEMAS_DIR) -> set[str]:
    names: set[str] = set()
    central = central_metrics(CollectorRegistry())
    CentralExport(load_schemas(schemas_dir).schemas, central.registry)
    for registry in (central.registry, sidecar_metrics(CollectorRegistry()).registry):
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
        used |= set(re.findall(r"\bdeid(?:entify)?_[a-z0-9_]+", expr))
    assert used, "no deid_ metric in the dashboard"
    assert any(name.startswith("deidentify_") for name in used)
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
    for needed in ("HTTP requests: events per minute by route", "HTTP requests: errors rate",
                   "HTTP requests: latency_ms percentiles", "Billing totals: amount_minor",
                   "Webhook deliveries: successes rate by host", "Central collector health"):
        assert needed in titles
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "deidentify.yml")
                              .read_text())["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_shipped_dashboard_is_generated_from_the_shipped_schemas(tmp_path: Path) -> None:
    out = tmp_path / "dashboard.json"
    assert cli_main(["dashboards", "grafana", "--schemas", str(SCHEMAS_DIR),
                     "--out", str(out)]) == 0
    assert out.read_text() == DASHBOARD.read_text(), (
        "deploy/grafana/deidentify-dashboard.json is out of date: run "
        "deidentify dashboards grafana --schemas schemas --out "
        "deploy/grafana/deidentify-dashboard.json")
    assert render(grafana_dashboard(load_schemas(SCHEMAS_DIR).schemas)) == out.read_text()


def test_generated_panels_follow_the_measure_kinds(tmp_path: Path) -> None:
    from tests.central.new_schema import write_login_schema
    write_login_schema(tmp_path)
    dash = grafana_dashboard(load_schemas(tmp_path).schemas)
    exprs = dict((expr, title) for title, expr in expressions(dash=dash))
    assert any("deidentify_login_attempts_mfa_prompts_total" in e for e in exprs)
    assert any("histogram_quantile(0.99" in e and "latency_ms_bucket" in e for e in exprs)
    assert any(e.startswith("topk(15, sum by (region, method, outcome)") for e in exprs)
    used = set()
    for expr in exprs:
        used |= set(re.findall(r"\bdeid(?:entify)?_[a-z0-9_]+", expr))
    assert used - exported_names(tmp_path) == set()

"""The Prometheus alerting rules in deploy/ (issue 12: sidecar down, lag growing, transactions
failing, drops by reason rising, windows not closing; plus guard hits and central refusals):
valid, unit-tested with ``promtool test rules``, and reading only series deidentify exports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from deidentify.metrics import central_metrics, sidecar_metrics

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
RULES = DEPLOY / "prometheus-alerts.yml"
RULE_TESTS = DEPLOY / "prometheus-alerts.test.yml"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool is not installed (apt-get install -y prometheus)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _rules() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def test_rules_are_valid_and_their_unit_tests_pass() -> None:
    tool = promtool()
    check = subprocess.run([tool, "check", "rules", str(RULES)], capture_output=True,
                           text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    tests = subprocess.run([tool, "test", "rules", RULE_TESTS.name], cwd=DEPLOY,
                           capture_output=True, text=True, timeout=120)
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_every_alert_has_a_unit_test() -> None:
    tested = {case["alertname"] for t in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for case in t.get("alert_rule_test", ())}
    assert {r["alert"] for r in _rules()} == tested


def test_rules_read_only_series_deidentify_exports() -> None:
    exported = set()
    for metrics in (sidecar_metrics(), central_metrics()):
        for family in metrics.registry.collect():
            exported.update(s.name for s in family.samples)
            exported.add(family.name)
            exported.add(family.name + "_total")
    used = {name for r in _rules() for name in re.findall(r"\b(deid_[a-z_]+)", r["expr"])}
    assert used and used <= exported, used - exported


def test_prometheus_loads_the_rules() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    assert config["rule_files"] == [RULES.name]

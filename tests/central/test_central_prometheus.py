"""A real Prometheus (Debian's ``prometheus`` package) scrapes the collector; PromQL agrees.

Also checks that ``deploy/prometheus.yml`` is a config this Prometheus accepts (promtool).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.central.central_helpers import ROOT, free_port, http_get, total

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")


def need(binary: str | None, name: str) -> str:
    if binary is None:
        message = f"{name} is not installed (apt-get install -y prometheus)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


def query(base: str, promql: str) -> list[dict]:
    status, body = http_get(f"{base}/api/v1/query?query={urllib.parse.quote(promql)}")
    assert status == 200, body[:500]
    doc = json.loads(body)
    assert doc["status"] == "success"
    return doc["data"]["result"]


def wait_for_value(base: str, promql: str, expected: float, proc: subprocess.Popen,
                   timeout_s: float = 90.0) -> float:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, "prometheus exited"
        try:
            result = query(base, promql)
        except OSError:
            result = []
        if result:
            last = float(result[0]["value"][1])
            if last == expected:
                return last
        time.sleep(1)
    raise TimeoutError(f"{promql} = {last}, expected {expected}")


def test_prometheus_scrapes_the_collector(loaded_central, tmp_path: Path) -> None:
    binary = need(PROMETHEUS, "prometheus")
    central, aggs = loaded_central.central, loaded_central.aggregates
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: deidentify-central\n"
        "    scrape_interval: 1s\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{central.port}']\n")
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        expected = total(aggs, "http_requests", region="eu")
        assert expected > 0
        wait_for_value(base, 'sum(deidentify_http_requests_events_total{region="eu"})', expected, proc)
        billing = total(aggs, "billing_totals", "amount_minor", region="us")
        wait_for_value(base, 'sum(deidentify_billing_totals_amount_minor_total{region="us"})', billing, proc)
        # the merged histogram is a real Prometheus histogram: histogram_quantile works on it
        p99 = query(base, 'histogram_quantile(0.99, sum by (le) '
                          '(deidentify_http_requests_latency_ms_bucket{region="eu"}))')
        assert p99 and 0 < float(p99[0]["value"][1]) <= 10_000
        up = query(base, 'up{job="deidentify-central"}')
        assert up and up[0]["value"][1] == "1"
        # every central query of the shipped Grafana dashboard finds series in a real scrape
        from tests.central.test_central_grafana import expressions
        deadline = time.monotonic() + 60
        pending = dict((expr, title) for title, expr in expressions(only_central=True))
        while pending and time.monotonic() < deadline:
            pending = {e: t for e, t in pending.items() if not query(base, e)}
            if pending:
                time.sleep(1)
        assert not pending, f"dashboard panels with no series: {sorted(pending.values())}"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def test_shipped_prometheus_config_is_valid() -> None:
    promtool = need(PROMTOOL, "promtool")
    result = subprocess.run([promtool, "check", "config", "--syntax-only",
                             str(ROOT / "deploy" / "prometheus.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr

"""A real Prometheus (Debian's ``prometheus`` package) scrapes the collector and a sidecar
over TLS with basic auth (the same web config format as node_exporter's); PromQL agrees.

Also checks that ``deploy/prometheus.yml`` is a config this Prometheus accepts (promtool).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.central.central_helpers import ROOT, total
from tests.helpers import free_port, http_get

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


def scrape_job(name: str, port: int, web, password_file: Path) -> str:
    """One scrape job over TLS (our throw-away CA) with basic auth from a password file."""
    return (f"  - job_name: {name}\n"
            "    scrape_interval: 1s\n"
            "    scheme: https\n"
            f"    tls_config:\n      ca_file: {web.ca.cert}\n"
            f"    basic_auth:\n      username: {web.user}\n"
            f"      password_file: {password_file}\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")


@contextlib.contextmanager
def running_prometheus(tmp_path: Path, scrape_configs: str
                       ) -> Iterator[tuple[str, subprocess.Popen]]:
    """A real Prometheus on a free loopback port scraping ``scrape_configs`` (YAML list items)
    every second; yields its base URL and process, and stops it (bounded) at the end."""
    binary = need(PROMETHEUS, "prometheus")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                      "scrape_configs:\n" + scrape_configs)
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def start_sidecar(bootstrap: str, web, tmp_path: Path):
    """A real sidecar serving /metrics with the same web config (TLS + basic auth)."""
    from tests.sidecar.sidecar_support import SidecarProcess, new_topics

    sidecar = SidecarProcess(bootstrap, new_topics("prom"), tmp_path / "sidecar.log",
                             extra_args=["--web-config", str(web.config)]).start()
    try:
        sidecar.wait_until("the health server over TLS", lambda: http_get(
            f"https://127.0.0.1:{sidecar.port}/livez", 2.0,
            context=web.client_context())[0] == 200, timeout_s=60)
    except BaseException:
        sidecar.ensure_stopped()
        raise
    return sidecar


def test_prometheus_scrapes_the_collector(loaded_central, kafka_bootstrap, tmp_path: Path) -> None:
    need(PROMETHEUS, "prometheus")        # fail (or skip) before anything starts
    central, aggs = loaded_central.central, loaded_central.aggregates
    web = central.web
    assert web is not None, "the shared collector runs with a web config"
    password_file = tmp_path / "scrape-password"
    password_file.write_text(web.password)
    password_file.chmod(0o600)
    sidecar = start_sidecar(kafka_bootstrap, web, tmp_path)
    # without credentials the sidecar answers 401
    assert http_get(f"https://127.0.0.1:{sidecar.port}/metrics", 5.0,
                    context=web.client_context())[0] == 401
    jobs = (scrape_job("deidentify-central", central.port, web, password_file)
            + scrape_job("deidentify-sidecar", sidecar.port, web, password_file))
    try:
        with running_prometheus(tmp_path, jobs) as (base, proc):
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
            # the sidecar's own registry, scraped over TLS with basic auth too
            wait_for_value(base, 'up{job="deidentify-sidecar"}', 1, proc)
            assert query(base, 'deid_sidecar_windows_open{job="deidentify-sidecar"}')
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
        sidecar.ensure_stopped()


def test_shipped_prometheus_config_is_valid() -> None:
    promtool = need(PROMTOOL, "promtool")
    result = subprocess.run([promtool, "check", "config", "--syntax-only",
                             str(ROOT / "deploy" / "prometheus.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_accepts_our_web_config_files(tmp_path: Path) -> None:
    """The files deidentify writes and reads are the format Prometheus's own tools check."""
    promtool = need(PROMTOOL, "promtool")
    from tests.tls_helpers import web_tls

    web = web_tls(tmp_path)                 # TLS + a bcrypt user, via write_web_config
    result = subprocess.run([promtool, "check", "web-config", str(web.config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr

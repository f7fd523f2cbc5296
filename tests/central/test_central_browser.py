"""The dashboard in a real headless Chromium against a running collector fed by Kafka.

The collector serves HTTPS with basic auth (its web config); Chromium logs in with the
credentials in the URL (kept by its HTTP auth cache for the page's own ``/api/summary``
requests) and trusts the throw-away test CA via ``--ignore-certificate-errors``.

Chromium is Debian's ``chromium`` package (CI installs it via .ci/run). Set
``DEIDENTIFY_SCREENSHOT_DIR`` to keep the screenshot somewhere after the run.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import orjson
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(args: list[str], profile: Path, url: str, timeout_s: float = 120) -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
           "--window-size=1400,1000", "--virtual-time-budget=10000", *args, url]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def region_section(dom: str, region: str) -> str:
    start = dom.index(f'data-region="{region}"')
    nxt = dom.find("data-region=", start + 20)
    return dom[start: nxt if nxt != -1 else len(dom)]


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def login_url(central) -> str:
    web = central.web
    assert web is not None, "the shared collector runs with a web config"
    return f"https://{web.user}:{web.password}@127.0.0.1:{central.port}/"


TLS_ARGS = ["--ignore-certificate-errors"]


def test_dashboard_without_credentials_shows_nothing(loaded_central, tmp_path: Path) -> None:
    central = loaded_central.central
    dom = chromium([*TLS_ARGS, "--dump-dom"], tmp_path / "profile-anon", central.url + "/")
    assert 'data-loaded="1"' not in dom and "data-region=" not in dom
    assert "/v1/orders/{id}" not in dom


def test_dashboard_renders_produced_data(loaded_central, tmp_path: Path) -> None:
    central = loaded_central.central
    status, body = central.get("/api/summary")
    assert status == 200
    summary = orjson.loads(body)
    dom = chromium([*TLS_ARGS, "--dump-dom"], tmp_path / "profile-dom", login_url(central))

    assert 'data-loaded="1"' in dom, "the page never rendered /api/summary"
    assert 'data-regions="eu,us"' in dom
    for region in ("eu", "us"):
        section = region_section(dom, region)
        schemas = summary["regions"][region]["schemas"]
        http = schemas["http_requests"]["view"]
        row = next(r for r in http["top"]
                   if r["dims"]["method"] == "GET" and r["dims"]["route"] == "/v1/orders/{id}")
        # the top-cells table shows the route template and its event count
        table = section[section.index('data-table="http_requests-cells"'):]
        table = table[: table.index("</table>")]
        assert "/v1/orders/{id}" in table
        assert f"{row['events']:,}" in table
        # charts chosen from the measure kinds, drawn as SVG: events per minute for every
        # schema, count_if rates, histogram quantiles, sums
        for chart in ("http_requests-events", "http_requests-rate-errors",
                      "http_requests-quantiles-latency_ms", "billing_totals-events",
                      "billing_totals-sum-amount_minor", "webhook_deliveries-rate-successes",
                      "webhook_deliveries-quantiles-duration_ms"):
            card = section[section.index(f'data-chart="{chart}"'):]
            card = card[: card.index("</svg>")]
            assert "<svg" in card, chart
            assert "<polyline" in card or "<circle" in card, chart
        for schema, dim in (("billing_totals", "tenant"), ("webhook_deliveries", "host")):
            value = next(r["dims"][dim] for r in schemas[schema]["view"]["top"]
                         if r["dims"][dim] != "__other__")
            assert value in section[section.index(f'data-table="{schema}-cells"'):]
    # nothing from outside the collector was ever requested: the page has no external URL
    assert not re.search(r'(src|href)="(https?:)?//', dom)

    shot = tmp_path / "dashboard.png"
    chromium([*TLS_ARGS, f"--screenshot={shot}"], tmp_path / "profile-shot", login_url(central))
    assert shot.stat().st_size > 50_000
    assert png_size(shot) == (1400, 1000)
    keep = os.environ.get("DEIDENTIFY_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "dashboard.png")

"""The collector's HTTP side without a broker: routes, headers, probes, JSON API."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from deidentify.central.collector import CentralCollector
from deidentify.central.web import STATIC_DIR, Views, build_web_app
from deidentify.schema import load_schemas
from tests.central.central_helpers import SCHEMAS_DIR, real_aggregates

SCHEMAS = load_schemas(SCHEMAS_DIR)


@pytest.fixture(scope="module")
def collector() -> CentralCollector:
    c = CentralCollector(SCHEMAS)
    for agg in real_aggregates("eu", events=6000):
        c.handle(agg.to_json())
    return c


def run(collector: CentralCollector, check) -> None:
    async def main() -> None:
        views = Views(summary=collector.summary, readiness=collector.readiness,
                      registry=collector.metrics.registry)
        async with TestClient(TestServer(build_web_app(views))) as client:
            await check(client)
    asyncio.run(main())


def test_dashboard_and_assets(collector: CentralCollector) -> None:
    async def check(client: TestClient) -> None:
        res = await client.get("/")
        assert res.status == 200
        html = await res.text()
        assert '<script src="/static/app.js"' in html
        assert "http://" not in html.replace('href="/', "")      # nothing from elsewhere
        csp = res.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert res.headers["X-Content-Type-Options"] == "nosniff"
        for name in ("app.js", "charts.js", "app.css", "favicon.svg"):
            asset = await client.get(f"/static/{name}")
            assert asset.status == 200, name
        for bad in ("/static/index.html", "/static/../web.py", "/static/%2e%2e/web.py",
                    "/static/nope.js"):
            assert (await client.get(bad)).status == 404, bad
    run(collector, check)


def test_static_files_reference_nothing_external() -> None:
    for path in STATIC_DIR.iterdir():
        text = path.read_text()
        for marker in ("https://", "http://cdn", "//cdn", "googleapis", "unpkg", "jsdelivr",
                       "innerHTML", "eval("):
            if marker == "https://" and path.suffix == ".svg":
                continue
            assert marker not in text, (path.name, marker)


def test_summary_api(collector: CentralCollector) -> None:
    async def check(client: TestClient) -> None:
        res = await client.get("/api/summary")
        assert res.status == 200
        assert res.headers["Content-Type"].startswith("application/json")
        assert res.headers["Cache-Control"] == "no-store"
        doc = orjson.loads(await res.read())
        eu = doc["regions"]["eu"]
        assert {"http_requests", "billing_totals", "webhook_deliveries"} <= set(eu["schemas"])
        top = eu["schemas"]["http_requests"]["view"]["top"]
        assert any(r["dims"]["route"] == "/v1/orders/{id}" for r in top)
        assert doc["collector"]["accepted"] == collector.accepted
    run(collector, check)


def test_metrics_and_probes() -> None:
    collector = CentralCollector(SCHEMAS)

    async def check(client: TestClient) -> None:
        res = await client.get("/metrics")
        assert res.status == 200
        assert res.headers["Content-Type"].startswith("text/plain; version=")
        assert "deid_central_aggregates_rejected_total" in await res.text()
        assert (await client.get("/livez")).status == 200
        res = await client.get("/readyz")
        assert res.status == 503
        assert orjson.loads(await res.read()) == {"ready": False,
                                                  "waiting_for": ["web_server", "consumer"]}
        collector.web_started = collector.consuming = True
        collector.assigned_partitions = 1
        assert (await client.get("/readyz")).status == 200
    run(collector, check)

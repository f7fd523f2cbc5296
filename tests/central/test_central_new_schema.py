"""A schema written only into a temporary folder reaches the SRE's dashboards unchanged.

The schema (``login_attempts``: a new event type on a new raw topic, enum dimensions, a
latency histogram, a count_if, subjects ``user.id``, k = 5) exists nowhere in the package.
Generated events for it go through a real sidecar and a real central collector on the local
broker, into ``/metrics`` scraped by a real Prometheus (PromQL sums equal the totals read
back from the central topic), onto the built-in dashboard in a real headless Chromium, and
the Grafana dashboard generated for the folder has panels whose queries return series in
the same Prometheus.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from deidentify.generate_schema import SchemaEventGenerator
from deidentify.schema import load_schemas
from tests.central.central_helpers import (
    DEIDENTIFY,
    create_region_topics,
    http_get,
    start_central,
)
from tests.central.new_schema import LOGIN_EVENT_TYPE, LOGIN_SCHEMA, write_login_schema
from tests.central.test_central_browser import chromium, region_section
from tests.central.test_central_grafana import concrete
from tests.central.test_central_prometheus import (
    PROMETHEUS,
    need,
    query,
    running_prometheus,
    wait_for_value,
)
from tests.kafka_helpers import create_topic
from tests.sidecar.sidecar_support import SidecarProcess, Topics, read_central, unique

EVENTS = 4_800
RATE = 40                      # events per second of event time: two minutes of windows
MINUTE = 60_000


async def _produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for key, value in records:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def _delete_topics(bootstrap: str, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()


def prometheus(tmp_path: Path, target_port: int):
    """A real Prometheus scraping the collector on ``target_port`` (plain HTTP, loopback)."""
    return running_prometheus(
        tmp_path, "  - job_name: deidentify-central\n    scrape_interval: 1s\n"
                  f"    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n")


def test_a_schema_only_in_a_folder_reaches_metrics_dashboard_and_grafana(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    need(PROMETHEUS, "prometheus")
    schemas_dir = tmp_path / "schemas"
    write_login_schema(schemas_dir)                       # the ONLY schema: nothing shipped
    schemas = load_schemas(schemas_dir)
    (schema,) = schemas.schemas
    assert schema.source_type == LOGIN_EVENT_TYPE
    prefix = unique("t-newschema-") + "."
    topics = Topics(prefix=prefix, central=prefix + "central.eu", group=prefix + "group",
                    central_base=prefix + "central")
    raw_topic = prefix + schema.topic
    create_topic(kafka_bootstrap, raw_topic, partitions=3)
    # the sidecar publishes to its region's central topic, the collector reads eu and us
    create_region_topics(kafka_bootstrap, topics.central_base, ("eu", "us"), partitions=3)

    # Event time: two minutes that ended a few minutes ago, so every window closes once the
    # sidecar's partitions are idle and stream time follows the wall clock.
    now_ms = int(time.time() * 1000)
    start_ms = now_ms - now_ms % MINUTE - 5 * MINUTE
    gen = SchemaEventGenerator(schemas.schemas, seed=11, start_ms=start_ms,
                               events_per_second=RATE)
    records = [(key, value) for _s, key, value in gen.records(EVENTS)]
    sidecar = SidecarProcess(kafka_bootstrap, topics, tmp_path / "sidecar.log",
                             schemas=schemas_dir, idle="2s", region="eu")
    central = None
    try:
        sidecar.start()
        sidecar.wait_ready(90)
        central = start_central(kafka_bootstrap, topics.central_base, tmp_path,
                                schemas_dir=schemas_dir, ready_timeout_s=90)
        asyncio.run(_produce(kafka_bootstrap, raw_topic, records))
        sidecar.wait_consumed(EVENTS, timeout_s=120)
        # every window of the generated two minutes is published (nothing stays open)
        sidecar.wait_until("all windows published",
                           lambda: sidecar.metric("deid_sidecar_windows_open") == 0
                           and sidecar.metric("deid_sidecar_cells_published_total",
                                              schema=LOGIN_SCHEMA) > 0, timeout_s=120)
        published = int(sidecar.metric("deid_sidecar_cells_published_total",
                                       schema=LOGIN_SCHEMA))
        aggs = [a for _k, a in read_central(kafka_bootstrap, topics.central,
                                            until=lambda r: len(r) >= published,
                                            timeout_s=120)]
        assert len(aggs) == published and {a["schema"] for a in aggs} == {LOGIN_SCHEMA}
        total = sum(a["measures"]["count"] for a in aggs)
        mfa = sum(a["measures"]["mfa_prompts"] for a in aggs)
        latency_sum = sum(a["measures"]["latency_ms"]["sum"] for a in aggs)
        assert total > EVENTS // 2 and 0 < mfa < total
        central.wait_for_metric("deid_central_aggregates_accepted_total", published,
                                timeout_s=120, region="eu", schema=LOGIN_SCHEMA)

        # /metrics, scraped by a real Prometheus: PromQL sums equal the published totals
        with prometheus(tmp_path, central.port) as (base, proc):
            wait_for_value(base, 'sum(deidentify_login_attempts_events_total{region="eu"})',
                           total, proc)
            wait_for_value(base, "sum(deidentify_login_attempts_mfa_prompts_total)", mfa, proc)
            wait_for_value(base, "sum(deidentify_login_attempts_latency_ms_count)", total, proc)
            wait_for_value(base, 'sum(deidentify_login_attempts_latency_ms_bucket{le="+Inf"})',
                           total, proc)
            (got,) = query(base, "sum(deidentify_login_attempts_latency_ms_sum)")
            assert float(got["value"][1]) == pytest.approx(latency_sum, rel=1e-9)
            for method in {a["dims"]["method"] for a in aggs}:
                want = sum(a["measures"]["count"] for a in aggs if a["dims"]["method"] == method)
                wait_for_value(base, "sum(deidentify_login_attempts_events_total"
                                     f'{{method="{method}"}})', want, proc)

            # the Grafana dashboard generated from the folder: its queries return series
            out = tmp_path / "grafana.json"
            result = subprocess.run(
                [DEIDENTIFY, "dashboards", "grafana", "--schemas",
                 str(schemas_dir), "--out", str(out)], capture_output=True, text=True,
                timeout=120)
            assert result.returncode == 0, result.stderr
            dash = json.loads(out.read_text())
            pending = {concrete(t["expr"]): p["title"] for p in dash["panels"]
                       for t in p.get("targets", []) if LOGIN_SCHEMA in t["expr"]}
            kinds = {p["type"] for p in dash["panels"] if LOGIN_SCHEMA in p["title"].lower()
                     or "login attempts" in p["title"].lower()}
            assert len(pending) >= 5 and {"timeseries", "table"} <= kinds
            deadline = time.monotonic() + 90
            while pending and time.monotonic() < deadline:
                pending = {e: t for e, t in pending.items() if not query(base, e)}
                if pending:
                    time.sleep(1)
            assert not pending, f"generated panels with no series: {sorted(pending.values())}"

        # the built-in dashboard, in a real headless Chromium
        status, body = http_get(central.url + "/api/summary")
        assert status == 200
        view = orjson.loads(body)["regions"]["eu"]["schemas"][LOGIN_SCHEMA]["view"]
        assert sum(w["events"] for w in view["windows"]) == total
        dom = chromium(["--dump-dom"], tmp_path / "profile", central.url + "/")
        assert 'data-loaded="1"' in dom
        section = region_section(dom, "eu")
        for chart in (f"{LOGIN_SCHEMA}-events", f"{LOGIN_SCHEMA}-rate-mfa_prompts",
                      f"{LOGIN_SCHEMA}-quantiles-latency_ms"):
            card = section[section.index(f'data-chart="{chart}"'):]
            card = card[: card.index("</svg>")]
            assert "<polyline" in card or "<circle" in card, chart
        table = section[section.index(f'data-table="{LOGIN_SCHEMA}-cells"'):]
        table = table[: table.index("</table>")]
        top = view["top"][0]
        assert f"<td>{top['dims']['method']}</td><td>{top['dims']['outcome']}</td>" in \
            table.replace(' class=""', "")
        assert f"{top['events']:,}" in table
        assert f">{view['cell_count']:,}<" in section      # the cells KPI
    finally:
        if central is not None:
            code = central.stop()
            assert code == 0, central.log()
        if sidecar.alive():
            with contextlib.suppress(Exception):
                sidecar.sigterm(30)
        sidecar.ensure_stopped()
        with contextlib.suppress(Exception):
            asyncio.run(_delete_topics(kafka_bootstrap, [raw_topic, topics.central, topics.central_base + ".us"]))

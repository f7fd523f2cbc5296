"""Nothing personal leaves through ANY output channel, fed with hostile and realistic data.

``tests/test_no_leaks.py`` searches what the pure pipeline returns. This module feeds the same
strategies (canary-laden hostile events, and ``name_cell``: a person's name, a tenant id that
is a name, a personal domain, each shared by >= 6 distinct subjects) to every other place a
value could come out, and searches each one with the leak detector of
``tests/strategies.py``:

* ``deidentify preview``: stdout (aggregates) and stderr (drop report), in process and as the
  real command;
* the central collector fed with the pipeline's aggregates: ``/api/summary`` and ``/metrics``
  served over HTTP (aiohttp test client; no Kafka needed), its stats and its logs at DEBUG;
* the sidecar: its Prometheus ``/metrics`` served by its health server after a batch loop
  session exported the pipeline's counters, and its logs at DEBUG including the exception
  path (a transform that fails with a value in its message, while the session processes
  hostile events).

Tests marked "issue 9 case 1" fail before route literals fail closed and the output guard
detects names (the name reaches the aggregates, hence the collector's summary and metric
labels); they pass after. The others pass on the code of the time and guard the channel.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deidentify.central.collector import CentralCollector
from deidentify.central.validate import AggregateValidator
from deidentify.pipeline import Pipeline
from deidentify.preview import run_preview
from deidentify.schema import default_schema_dir, load_schemas
from tests.helpers import captured_logs
from tests.strategies import (
    NAME_KINDS,
    SecretList,
    assert_no_leaks,
    canary_registry,
    hostile_cell,
    hostile_event,
    leaked,
    name_cell,
    raw_line,
)

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = load_schemas(default_schema_dir())
KINDS = ("http_request", "billing_charge", "webhook_delivery")
SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
FEW = min(settings().max_examples, 30)       # each example runs a whole channel
MINUTE_MS = 60_000
NOW_MS = int(time.time() * 1000)
RECENT_MS = (NOW_MS // MINUTE_MS - 5) * MINUTE_MS     # a recent window for central

name_batches = st.lists(st.one_of(*(name_cell(kind) for kind in NAME_KINDS)),
                        min_size=1, max_size=3)
mixed_batches = st.lists(
    st.one_of(*(name_cell(kind) for kind in NAME_KINDS),
              *(hostile_cell(kind) for kind in KINDS),
              hostile_event().map(lambda e: [e])),
    min_size=1, max_size=5)


def lines_of(batches) -> list[bytes]:
    return [orjson.dumps(event) for batch in batches for event in batch]


def collect_lines(cells: st.SearchStrategy, *, examples: int) -> tuple[SecretList, list[bytes]]:
    """A fixed corpus: the events of ``examples`` derandomized draws of ``cells`` (a tuple of
    event lists) and every secret they carry. (The registry is drawn per example: a growing
    list passed as a strategy argument would make Hypothesis repr it on every draw.)"""
    secrets = SecretList()
    lines: list[bytes] = []

    @settings(max_examples=examples, database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(cells, canary_registry())
    def collect(drawn, registry):
        lines.extend(orjson.dumps(e) for cell in drawn for e in cell)
        for secret in registry:
            if secret not in secrets:
                secrets.append(secret)
        secrets.wholes.extend(registry.wholes)

    collect()
    return secrets, lines


# -- deidentify preview: stdout and stderr ---------------------------------------------------

def preview(lines: list[bytes], tmp: Path) -> tuple[bytes, str, str]:
    """(stdout, stderr, logs) of the preview command's function on ``lines``."""
    path = tmp / "raw.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    out, err = io.BytesIO(), io.StringIO()
    with captured_logs() as logs:
        code = run_preview(SCHEMAS, str(path), region="eu", out=out, err=err)
    assert code == 0
    return out.getvalue(), err.getvalue(), logs.getvalue()


@settings(max_examples=FEW, suppress_health_check=SLOW)
@given(batches=mixed_batches, garbage=st.lists(raw_line(), max_size=3),
       secrets=canary_registry())
def test_preview_stdout_and_stderr_carry_no_secret(tmp_path_factory, batches, garbage,
                                                  secrets):
    """Issue 9 case 1 (fails before the fix: names reach stdout): hostile events, garbage
    lines and name cells through ``preview``; neither its aggregates nor its drop report nor
    its logs hold any secret in any form."""
    out, err, logs = preview(lines_of(batches) + garbage, tmp_path_factory.mktemp("p"))
    assert err.startswith("events read:")
    assert_no_leaks([out, err, logs], secrets)


def test_preview_command_output_carries_no_secret(tmp_path):
    """Issue 9 case 1 (fails before the fix): the real ``deidentify preview`` command (a
    subprocess) on name cells of every kind and hostile cells; stdout and stderr."""
    secrets, lines = SecretList(), []
    for cell in (*(name_cell(kind) for kind in NAME_KINDS),
                 *(hostile_cell(kind, min_size=5, max_size=6) for kind in KINDS)):
        more_secrets, more_lines = collect_lines(st.tuples(cell), examples=2)
        for secret in more_secrets:
            secrets.append(secret)
        secrets.wholes.extend(more_secrets.wholes)
        lines += more_lines
    path = tmp_path / "raw.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = subprocess.run([sys.executable, "-m", "deidentify.cli", "preview", "--region",
                             "eu", str(path)], capture_output=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0
    assert result.stdout.count(b"\n") >= 1                  # something was published
    assert_no_leaks([result.stdout, result.stderr], secrets)


# -- the central collector fed with the pipeline's aggregates --------------------------------

def central_outputs(lines: list[bytes]) -> tuple[list, int]:
    """Run the lines through the pipeline and its aggregates through a collector; return
    what the collector shows (summary and metrics over HTTP, stats, logs) and the number of
    aggregates it accepted."""
    pipeline = Pipeline(SCHEMAS, region="eu")
    pipeline.process_batch(list(enumerate(lines)))
    aggregates = pipeline.close_all()
    collector = CentralCollector(SCHEMAS, validator=AggregateValidator(
        SCHEMAS, now_ms=lambda: NOW_MS), clock=lambda: NOW_MS / 1000)
    with captured_logs() as logs:
        for agg in aggregates:
            collector.handle(agg.to_json())
    summary, metrics = served_by_central(collector)
    return ([summary, metrics, orjson.dumps(collector.stats()), logs.getvalue()],
            collector.accepted)


def served_by_central(collector: CentralCollector) -> tuple[bytes, bytes]:
    from aiohttp.test_utils import TestClient, TestServer

    from deidentify.central.web import Views, build_web_app

    async def fetch() -> tuple[bytes, bytes]:
        app = build_web_app(Views(summary=collector.summary, readiness=collector.readiness,
                                  registry=collector.metrics.registry))
        async with TestClient(TestServer(app)) as client:
            bodies = []
            for path in ("/api/summary", "/metrics"):
                response = await client.get(path)
                assert response.status == 200
                bodies.append(await response.read())
            return bodies[0], bodies[1]

    return asyncio.run(fetch())


@settings(max_examples=FEW, suppress_health_check=SLOW)
@pytest.mark.parametrize("kind", NAME_KINDS)
@given(data=st.data())
def test_central_summary_and_metric_labels_carry_no_name(kind, data):
    """Issue 9 case 1 (fails before the fix): a name cell of ``kind`` in a recent window,
    through the pipeline into the collector: ``/api/summary``, ``/metrics`` label values,
    stats and logs hold no part of the name; the clean part of the traffic is there."""
    secrets = SecretList()
    events = data.draw(name_cell(kind, secrets, base_ms=RECENT_MS))
    outputs, _accepted = central_outputs([orjson.dumps(e) for e in events])
    assert_no_leaks(outputs, secrets)


def test_central_channels_show_accepted_aggregates():
    """The channels above are live: clean traffic of the same shape is accepted and its
    dimension values are in the summary and the metric labels."""
    events = [{"type": "billing_charge", "ts": RECENT_MS + i, "tenant_id": "initech",
               "customer_id": f"cus_{i}", "currency": "EUR", "amount_minor": 100}
              for i in range(6)]
    outputs, accepted = central_outputs([orjson.dumps(e) for e in events])
    assert accepted == 1
    assert leaked(outputs[0], ["initech"]) == [0] and leaked(outputs[1], ["initech"]) == [0]


# -- the sidecar: /metrics and logs, including the exception path ----------------------------

RUN_FLAGS = ("region", "bootstrap", "schemas", "group", "central_topic", "port", "topic_prefix",
             "idle", "commit_interval", "security_protocol", "sasl_mechanism", "sasl_username",
             "sasl_password_file", "ssl_cafile")


def sidecar_settings():
    from deidentify.sidecar.settings import load_settings
    flags = dict.fromkeys(RUN_FLAGS)
    flags.update(region="eu", port="0")
    return load_settings(argparse.Namespace(**flags), env={"DEIDENTIFY_BIND": "127.0.0.1"})


def sidecar_metrics_text(lines: list[bytes]) -> tuple[bytes, str]:
    """A batch loop session (no broker) processes ``lines``, closes its windows and exports
    its counters; returns the health server's ``/metrics`` body and the logs."""
    from deidentify.metrics import sidecar_metrics
    from deidentify.sidecar.health import HealthServer, HealthState
    from deidentify.sidecar.loop import BatchLoop

    metrics = sidecar_metrics()
    health = HealthState(heartbeat=time.monotonic())
    loop = BatchLoop(sidecar_settings(), SCHEMAS, metrics, health)

    async def scenario() -> bytes:
        loop.pipeline.process_batch(list(enumerate(lines)), "telemetry.raw.x", NOW_MS)
        loop._pending.extend(loop.pipeline.close_all())
        loop._export_metrics(time.monotonic())
        server = HealthServer(health, metrics, host="127.0.0.1", port=0)
        port = await server.start()
        try:
            def get() -> bytes:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                            timeout=30) as response:
                    return response.read()
            return await asyncio.to_thread(get)
        finally:
            await server.stop()

    with captured_logs() as logs:
        body = asyncio.run(scenario())
    return body, logs.getvalue()


@settings(max_examples=FEW, suppress_health_check=SLOW)
@given(batches=mixed_batches, garbage=st.lists(raw_line(), max_size=3),
       secrets=canary_registry())
def test_sidecar_metrics_and_logs_carry_no_secret(batches, garbage, secrets):
    """The sidecar's Prometheus text (every label value) and its logs at DEBUG, after a
    session processed hostile events, garbage and name cells."""
    body, logs = sidecar_metrics_text(lines_of(batches) + garbage)
    assert b"deid_sidecar_events_dropped" in body or b"deid_sidecar_windows_open" in body
    assert_no_leaks([body, logs], secrets)


def _failing_route(self, route, url):
    # A bug in a transform of the kind the project forbids: the value in the message.
    raise ValueError(f"cannot template route {route!r} of {url!r}")


def test_sidecar_exception_path_logs_no_value(monkeypatch):
    """A transform that fails with the event's URL in its message, while a session processes
    name cells and hostile events: the sidecar gives up on the session (exit code 1) and
    logs the error, but no part of any value, even with the traceback at DEBUG."""
    from deidentify.dimensions.route import RouteTemplate
    from deidentify.sidecar.app import Sidecar
    from deidentify.sidecar.loop import BatchLoop

    monkeypatch.setattr(RouteTemplate, "__call__", _failing_route)
    monkeypatch.setattr(RouteTemplate, "url_miss",          # its URL-cache miss entry too
                        lambda self, key, url: _failing_route(self, None, url))
    schemas = load_schemas(default_schema_dir())       # compiled with the failing transform
    secrets, lines = collect_lines(
        st.tuples(name_cell("http_request"), hostile_cell("http_request", max_size=6)),
        examples=3)

    async def start(self) -> None:
        self.health.session_up = True

    async def run(self, stopping) -> None:
        self.pipeline.process_batch(list(enumerate(lines)), "telemetry.raw.http_requests",
                                    NOW_MS)

    async def close(self) -> None:
        self.health.session_up = False

    monkeypatch.setattr(BatchLoop, "start", start)
    monkeypatch.setattr(BatchLoop, "run", run)
    monkeypatch.setattr(BatchLoop, "close", close)
    sidecar = Sidecar(sidecar_settings(), schemas)
    with captured_logs() as logs:
        code = asyncio.run(sidecar._supervise())
    assert code == 1
    text = logs.getvalue()
    assert "ValueError" in text                     # the failure is reported ...
    assert_no_leaks([text], secrets)                # ... without the value

"""Shared builders for the central collector tests: real and forged aggregates, a running
collector subprocess, a transactional producer.

Real aggregates come from the real pure pipeline fed by the real generator; forged ones are
real ones with one thing changed, so each forged case fails exactly one check.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from deidentify.contract import Aggregate
from deidentify.generate import TelemetryGenerator
from deidentify.pipeline import Pipeline
from deidentify.schema import load_schemas
from tests.helpers import ServiceProcess, free_port, http_get, metric_samples
from tests.tls_helpers import WebTls

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS_DIR = ROOT / "schemas"
DEIDENTIFY = str(Path(sys.executable).with_name("deidentify"))

# Values that must never appear in the collector's output (forged aggregates carry them).
SECRET_EMAIL = "alice.secret@example.com"
SECRET_CARD = "4111111111111111"
SECRET_PATH = "/v1/orders/98765432"
SECRET_UNDECLARED = "leaky-dimension-value"


def real_aggregates(region: str, *, events: int = 12_000, seed: int = 1,
                    start_ms: int | None = None) -> list[Aggregate]:
    """Aggregates of ``events`` generated raw events, through the real pipeline."""
    schemas = load_schemas(SCHEMAS_DIR)
    if start_ms is None:
        start_ms = (int(time.time() * 1000) // 60_000 - 8) * 60_000
    gen = TelemetryGenerator(seed=seed, region=region, start_ms=start_ms, events_per_second=50)
    pipeline = Pipeline(schemas, region=region)
    pipeline.process_batch([(i, value) for i, (_kind, value) in enumerate(gen.encoded(events))])
    return pipeline.close_all()


def total(aggs: Iterable[Aggregate], schema: str, measure: str = "count", region: str | None = None,
          **dims) -> int:
    n = 0
    for agg in aggs:
        v = agg.value
        if v["schema"] != schema or (region is not None and v["region"] != region):
            continue
        if any(v["dims"].get(k) != want for k, want in dims.items()):
            continue
        n += v["measures"][measure]
    return n


def first(aggs: Iterable[Aggregate], schema: str) -> dict:
    for agg in aggs:
        if agg.value["schema"] == schema and "__other__" not in agg.value["dims"].values():
            return copy.deepcopy(agg.value)
    raise AssertionError(f"no {schema} aggregate")


def forged_cases(aggs: list[Aggregate]) -> dict[str, tuple[dict, str]]:
    """name -> (forged aggregate object, expected reject reason)."""
    http = first(aggs, "http_requests")
    billing = first(aggs, "billing_totals")
    webhook = first(aggs, "webhook_deliveries")
    cases: dict[str, tuple[dict, str]] = {}

    def case(name: str, base: dict, reason: str, change) -> None:
        obj = copy.deepcopy(base)
        change(obj)
        cases[name] = (obj, reason)

    case("email_in_route", http, "guard_hit",
         lambda o: o["dims"].__setitem__("route", f"/v1/users/{SECRET_EMAIL}"))
    case("email_in_tenant", billing, "guard_hit",
         lambda o: o["dims"].__setitem__("tenant", SECRET_EMAIL))
    case("undeclared_dimension", http, "undeclared_dimension",
         lambda o: o["dims"].__setitem__("client", SECRET_UNDECLARED))
    case("wrong_version", http, "unknown_version",
         lambda o: o.__setitem__("schema_version", o["schema_version"] + 1))
    case("raw_path_as_route", http, "invalid_dimension",
         lambda o: o["dims"].__setitem__("route", SECRET_PATH))
    case("card_number_as_tenant", billing, "guard_hit",
         lambda o: o["dims"].__setitem__("tenant", SECRET_CARD))

    def wrong_buckets(o: dict) -> None:
        buckets = o["measures"]["latency_ms"]["buckets"]
        buckets["7"] = buckets.pop("5")
    case("wrong_bucket_bounds", http, "invalid_buckets", wrong_buckets)
    case("subdomain_host", webhook, "invalid_dimension",
         lambda o: o["dims"].__setitem__("host", "docs.github.io"))
    case("unknown_schema", http, "unknown_schema", lambda o: o.__setitem__("schema", "users"))
    return cases


# ---------------------------------------------------------------------------- Kafka


def region_topic(base: str, value: bytes, default: str = "eu") -> str:
    """``<base>.<region>``: the topic a sidecar of the aggregate's region publishes to
    (``default`` for a value that names no usable region)."""
    try:
        region = orjson.loads(value).get("region")
    except (orjson.JSONDecodeError, AttributeError):
        region = None
    return f"{base}.{region if isinstance(region, str) and region.isalnum() else default}"


def create_region_topics(bootstrap: str, base: str, regions=("eu", "us"), *,
                         partitions: int = 1) -> list[str]:
    from tests.kafka_helpers import create_topic
    topics = [f"{base}.{region}" for region in regions]
    for topic in topics:
        create_topic(bootstrap, topic, partitions=partitions)
    return topics


async def produce_transactionally(bootstrap: str, topic: str, batches: list[list[tuple[bytes, bytes]]],
                                  *, abort: list[list[tuple[bytes, bytes]]] = (),
                                  txn_id: str, exact_topic: bool = False) -> None:
    """Each batch in one committed transaction; each ``abort`` batch in an aborted one.

    ``topic`` is the central topic's base name: each record goes to the topic of the region
    it names (:func:`region_topic`), as the sidecars do; ``exact_topic`` sends every record
    to ``topic`` itself (a forger writing another region's topic)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=txn_id,
                                enable_idempotence=True)
    await producer.start()
    try:
        for batch in abort:
            await producer.begin_transaction()
            for key, value in batch:
                await producer.send(topic if exact_topic else region_topic(topic, value),
                                    key=key, value=value)
            await producer.abort_transaction()
        for batch in batches:
            async with producer.transaction():
                for key, value in batch:
                    await producer.send(topic if exact_topic else region_topic(topic, value),
                                        key=key, value=value)
    finally:
        await producer.stop()


def produce(bootstrap: str, topic: str, batches, *, abort=(), txn_id: str,
            exact_topic: bool = False) -> None:
    asyncio.run(produce_transactionally(bootstrap, topic, batches, abort=abort, txn_id=txn_id,
                                        exact_topic=exact_topic))


# ---------------------------------------------------------------------------- the collector


@dataclass
class CentralProcess(ServiceProcess):
    """``deidentify central`` as a real subprocess (``start_central``), output to a log file."""

    proc: subprocess.Popen
    port: int
    topic: str
    group: str
    log_path: Path
    env: dict = field(default_factory=dict)
    web: WebTls | None = None          # TLS + basic auth when set
    name = "collector"

    @property
    def url(self) -> str:
        return f"{'https' if self.web else 'http'}://127.0.0.1:{self.port}"

    def get(self, path: str, timeout_s: float = 5.0, *, auth: bool = True) -> tuple[int, bytes]:
        """GET ``path`` over TLS with the basic-auth user when the collector has a web config."""
        if self.web is None:
            return http_get(self.url + path, timeout_s)
        token = base64.b64encode(f"{self.web.user}:{self.web.password}".encode()).decode()
        return http_get(self.url + path, timeout_s, context=self.web.client_context(),
                        headers={"Authorization": f"Basic {token}"} if auth else None)

    def ready_status(self) -> int:
        return self.get("/readyz", 2.0, auth=False)[0]

    def metrics(self) -> str:
        return self.metrics_text()

    def wait_for_metric(self, name: str, expected: float, timeout_s: float = 60.0,
                        **labels: str) -> float:
        seen: list[float] = []

        def reached() -> bool:
            seen.append(metric_samples(self.metrics(), name, **labels))
            return seen[-1] == expected
        try:
            self.wait_until(f"{name}{labels} == {expected}", reached, timeout_s, interval_s=0.5)
        except AssertionError as exc:
            last = seen[-1] if seen else None
            raise AssertionError(f"{name}{labels} is {last}, expected {expected}: {exc}") from None
        return expected

    def log(self) -> str:
        return self.log_text()

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        try:
            super().wait_ready(timeout_s)
        except AssertionError:
            self.ensure_stopped()
            raise


def start_central(bootstrap: str, topic: str, tmp_path: Path, *, extra_env: dict | None = None,
                  ready_timeout_s: float = 60.0, wait_ready: bool = True,
                  schemas_dir: Path = SCHEMAS_DIR,
                  web: WebTls | None = None, regions=("eu", "us")) -> CentralProcess:
    port = free_port()
    group = f"g-{topic}"
    env = dict(os.environ, DEIDENTIFY_CENTRAL_GROUP=group, DEIDENTIFY_BIND="127.0.0.1",
               DEIDENTIFY_LOG_LEVEL="INFO")
    if web is not None:
        env["DEIDENTIFY_WEB_CONFIG"] = str(web.config)
    env.update(extra_env or {})
    log_path = tmp_path / f"central-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([DEIDENTIFY, "central", "--bootstrap", bootstrap, "--topic", topic,
                                 "--regions", ",".join(regions), "--schemas", str(schemas_dir),
                                 "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env)
    central = CentralProcess(proc, port, topic, group, log_path, env, web)
    if wait_ready:
        central.wait_ready(ready_timeout_s)
    return central


def as_records(aggs: Iterable[Aggregate]) -> list[tuple[bytes, bytes]]:
    return [(a.key, a.to_json()) for a in aggs]


def dumps(obj) -> bytes:
    return orjson.dumps(obj)

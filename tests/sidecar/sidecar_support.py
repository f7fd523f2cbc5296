"""Helpers for the sidecar's integration tests: raw events with known totals, the sidecar as
a real subprocess, and a read_committed reader of the central topic.

Events have fixed event times in the past (``T0``) and every raw partition ends with a
*closer*: one event an hour later, which moves that partition's stream time past every test
window, so all test windows close by event time, deterministically (the closers' own window
stays open: it never reaches the watermark). Each event carries PII-looking noise with a
per-run marker (:data:`PII_MARKER`), which must never show up in the sidecar's output.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.helpers import ServiceProcess, free_port, parse_metrics
from tests.kafka_helpers import KAFKA_SH, create_topic_async, state_dir

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_SCHEMAS = ROOT / "schemas"
T0 = 1_763_632_800_000                      # 2025-11-20T10:00:00Z
MINUTE = 60_000
CLOSER_TS = T0 + 3_600_000                  # one hour later: closes every test window
PII_MARKER = f"pii{uuid.uuid4().hex[:12]}"  # in every event's noise; never in any output
RAW = {"http": "telemetry.raw.http_requests",
       "billing": "telemetry.raw.billing_charges",
       "webhook": "telemetry.raw.webhook_deliveries"}
PARTITIONS = 3


def schemas_with(tmp_dir: Path, *, grace: str | None = "5m", k: int | None = None,
                 version: int | None = None) -> Path:
    """A copy of the shipped schemas with another window grace / k / version.

    A long grace lets the tests produce minutes of event time in milliseconds without a
    fast partition closing windows that a slower one still feeds (event time in the tests
    runs ~10,000 times faster than the wall clock).
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    for src in SHIPPED_SCHEMAS.glob("*.yaml"):
        text = src.read_text()
        if grace is not None:
            text = text.replace("grace: 10s", f"grace: {grace}")
        if k is not None:
            text = text.replace("k: 5", f"k: {k}")
        if version is not None:
            text = text.replace("version: 1", f"version: {version}")
        (tmp_dir / src.name).write_text(text)
    return tmp_dir


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


# --------------------------------------------------------------------------- raw events


def http_event(ts: int, *, user: str, route: str = "/v1/orders/{id}", status: int = 200,
               latency_ms: int = 12, method: str = "GET") -> dict:
    path = route.replace("{id}", "12345")
    return {"type": "http_request", "ts": ts, "tenant_id": "acme", "method": method,
            "url": f"https://api.example.com{path}?token={PII_MARKER}", "route": route,
            "status": status, "latency_ms": latency_ms,
            "client_ip": "192.0.2.77", "user_agent": f"Mozilla/5.0 {PII_MARKER}",
            "user": {"id": user, "email": f"{user}.{PII_MARKER}@example.com",
                     "name": f"Alice {PII_MARKER}"},
            "headers": {"authorization": f"Bearer {PII_MARKER}"}}


def billing_event(ts: int, *, customer: str, tenant: str = "acme", currency: str = "EUR",
                  amount: int = 100) -> dict:
    return {"type": "billing_charge", "ts": ts, "tenant_id": tenant, "customer_id": customer,
            "currency": currency, "amount_minor": amount,
            "customer_email": f"{customer}.{PII_MARKER}@example.com",
            "card_number": "4242424242424242", "payment_token": f"tok_{PII_MARKER}"}


def webhook_event(ts: int, *, tenant: str, host: str = "github.io", success: bool = True,
                  duration_ms: int = 80) -> dict:
    return {"type": "webhook_delivery", "ts": ts, "tenant_id": tenant,
            "endpoint_url": f"https://{tenant}.{host}/hooks/{PII_MARKER}",
            "event_type": "invoice.paid", "attempt": 1,
            "response_status": 200 if success else 500, "success": success,
            "duration_ms": duration_ms, "error": None if success else f"boom {PII_MARKER}"}


@dataclass
class Expected:
    """Expected aggregates by ``(schema, window start, dims as JSON)``."""

    cells: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def add(self, schema: str, ts: int, dims: dict, **measures: int) -> None:
        start = ts - ts % MINUTE
        cell = self.cells[(schema, iso(start), orjson.dumps(dims, option=orjson.OPT_SORT_KEYS))]
        cell["count"] += 1
        for name, value in measures.items():
            cell[name] += value

    def as_dict(self) -> dict:
        return {k: dict(v) for k, v in self.cells.items()}

    def total(self) -> int:
        return sum(c["count"] for c in self.cells.values())


@dataclass
class RawMix:
    """Raw records ``(topic key, partition, value bytes)`` in production order per partition."""

    records: list[tuple[str, int, bytes | None]]
    expected: Expected
    valid: int

    def closers(self) -> list[tuple[str, int, bytes]]:
        out = []
        for key in RAW:
            for p in range(PARTITIONS):
                if key == "http":
                    event = http_event(CLOSER_TS, user="closer", route="/closer")
                elif key == "billing":
                    event = billing_event(CLOSER_TS, customer="closer")
                else:
                    event = webhook_event(CLOSER_TS, tenant="closer")
                out.append((key, p, orjson.dumps(event)))
        return out


def make_mix(windows: int = 3, *, first_window: int = 0, repeat: int = 6,
             jitter_ms: int = 0) -> RawMix:
    """A known mix over ``windows`` minutes, all raw topics and partitions.

    Per partition and window: http 4 cells (2 routes x 2 statuses), billing 4 cells
    (2 tenants x 2 currencies), webhook 2 cells (2 hosts); each cell gets ``repeat`` events
    from ``repeat`` distinct subjects (>= k = 5), so every cell is published.
    """
    expected = Expected()
    per_partition: dict[tuple[str, int], list[tuple[int, bytes]]] = defaultdict(list)
    http_cells = [(r, s) for r in ("/v1/orders/{id}", "/v1/users/{id}") for s in (200, 503)]
    billing_cells = [(t, c) for t in ("acme", "globex") for c in ("EUR", "USD")]
    webhook_cells = ["github.io", "example.com"]
    for p in range(PARTITIONS):
        for w in range(first_window, first_window + windows):
            base = T0 + w * MINUTE
            step = 50_000 // (repeat * 4)
            for j in range(repeat):
                for c, (route, status) in enumerate(http_cells):
                    ts = base + (j * 4 + c) * step + p
                    latency = 5 + 7 * j + c
                    event = http_event(ts, user=f"u{j}", route=route, status=status,
                                       latency_ms=latency)
                    per_partition[("http", p)].append((ts, orjson.dumps(event)))
                    expected.add("http_requests", ts,
                                 {"method": "GET", "route": route, "status": status},
                                 latency_sum=latency, errors=int(status >= 500))
                for c, (tenant, currency) in enumerate(billing_cells):
                    ts = base + (j * 4 + c) * step + p
                    amount = 100 * (j + 1) + c
                    event = billing_event(ts, customer=f"cus_{j}", tenant=tenant,
                                          currency=currency, amount=amount)
                    per_partition[("billing", p)].append((ts, orjson.dumps(event)))
                    expected.add("billing_totals", ts, {"tenant": tenant, "currency": currency},
                                 amount_minor=amount)
                for c, host in enumerate(webhook_cells):
                    ts = base + (j * 4 + c) * step + p
                    success = (j + c) % 3 != 0
                    event = webhook_event(ts, tenant=f"t{j}", host=host, success=success)
                    per_partition[("webhook", p)].append((ts, orjson.dumps(event)))
                    expected.add("webhook_deliveries", ts,
                                 {"host": host, "event_type": "invoice.paid"},
                                 successes=int(success))
    # production follows event time across all partitions, as live services would
    rng = random.Random(7)
    timed = sorted((ts + (rng.randrange(jitter_ms) if jitter_ms else 0), key, p, value)
                   for (key, p), events in per_partition.items() for ts, value in events)
    records = [(key, p, value) for _, key, p, value in timed]
    return RawMix(records, expected, len(records))


def interleave(records: list[tuple[str, int, bytes | None]], chunks: int) -> list[list]:
    """Split per-partition sequences into ``chunks`` rounds that keep per-partition order."""
    by_part: dict[tuple[str, int], list] = defaultdict(list)
    for rec in records:
        by_part[(rec[0], rec[1])].append(rec)
    rounds: list[list] = [[] for _ in range(chunks)]
    for seq in by_part.values():
        size = -(-len(seq) // chunks)
        for i in range(chunks):
            rounds[i].extend(seq[i * size:(i + 1) * size])
    return rounds


# --------------------------------------------------------------------------- Kafka I/O


@dataclass
class Topics:
    prefix: str
    central: str            # what the eu sidecar publishes to: <central_base>.eu
    group: str
    central_base: str = ""  # what --central-topic gets

    def raw(self, key: str) -> str:
        return self.prefix + RAW[key]


def new_topics(tag: str) -> Topics:
    prefix = unique(f"sc-{tag}-") + "."
    return Topics(prefix=prefix, central=prefix + "central.eu", group=prefix + "group",
                  central_base=prefix + "central")


async def create_raw_topics(bootstrap: str, topics: Topics, **config: str) -> None:
    for key in RAW:
        await create_topic_async(bootstrap, topics.raw(key), PARTITIONS,
                                 config={"max.message.bytes": "3145728", **config})


async def produce_async(bootstrap: str, topics: Topics,
                        records: Iterable[tuple[str, int, bytes | None]]) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=3 * 1024 * 1024,
                                linger_ms=5, acks="all")
    await producer.start()
    n = 0
    try:
        futures = []
        for key, partition, value in records:
            # a tombstone (value None) needs a key; raw producers send no keys otherwise
            futures.append(await producer.send(topics.raw(key), value, partition=partition,
                                               key=b"tombstone" if value is None else None))
            n += 1
        await producer.flush()
        for fut in futures:
            await fut
    finally:
        await producer.stop()
    return n


def produce(bootstrap: str, topics: Topics, records) -> int:
    return asyncio.run(produce_async(bootstrap, topics, records))


class PacedProducer(threading.Thread):
    """Produces ``rounds`` with a pause between them, in a background thread.

    With ``hold_after=n`` it stops after the first ``n`` rounds, sets :attr:`holding` and
    waits for :meth:`resume`: a test acts "while events flow" by construction (the stream is
    provably half-way), not by sleeping and hoping."""

    def __init__(self, bootstrap: str, topics: Topics, rounds: list[list], pause_s: float,
                 *, hold_after: int | None = None):
        super().__init__(daemon=True)
        self.args = (bootstrap, topics, rounds, pause_s)
        self.error: BaseException | None = None
        self.sent = 0
        self.hold_after = hold_after
        self.holding = threading.Event()
        self._resume = threading.Event()

    def run(self) -> None:
        bootstrap, topics, rounds, pause_s = self.args
        try:
            for i, chunk in enumerate(rounds):
                if i == self.hold_after:
                    self.holding.set()
                    if not self._resume.wait(300):
                        raise TimeoutError("the paced producer was never resumed")
                self.sent += produce(bootstrap, topics, chunk)
                time.sleep(pause_s)
        except BaseException as exc:
            self.error = exc

    def wait_holding(self, timeout_s: float = 120.0) -> None:
        """Block until the first ``hold_after`` rounds are produced (fails a hung producer)."""
        assert self.holding.wait(timeout_s), "the paced producer never reached its hold point"
        if self.error:
            raise self.error

    def resume(self) -> None:
        self._resume.set()

    def finish(self, timeout_s: float = 60.0) -> None:
        self._resume.set()
        self.join(timeout_s)
        assert not self.is_alive(), "the paced producer did not finish"
        if self.error:
            raise self.error


async def read_central_async(bootstrap: str, topic: str, *, until: Callable[[list], bool],
                             timeout_s: float = 60.0, settle_s: float = 2.0) -> list:
    """Every committed record of ``topic`` (read_committed), read until ``until(records)``
    holds and then ``settle_s`` more seconds without anything new (duplicates would show)."""
    deadline = time.monotonic() + timeout_s
    parts = await _partitions(bootstrap, topic, deadline)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list = []
        satisfied_at = None
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            got = False
            for msgs in batch.values():
                for m in msgs:
                    records.append((m.key, orjson.loads(m.value)))
                    got = True
            if got:
                satisfied_at = None
            if until(records):
                if satisfied_at is None:
                    satisfied_at = time.monotonic()
                elif time.monotonic() - satisfied_at >= settle_s:
                    break
        return records
    finally:
        await consumer.stop()


async def _partitions(bootstrap: str, topic: str, deadline: float) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        while True:
            (desc,) = await admin.describe_topics([topic])
            parts = sorted(p["partition"] for p in desc["partitions"])
            if not desc["error_code"] and parts:
                return parts
            assert time.monotonic() < deadline, f"central topic {topic} does not exist"
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


def read_central(bootstrap: str, topic: str, **kwargs) -> list:
    return asyncio.run(read_central_async(bootstrap, topic, **kwargs))


def summarize(records: list) -> tuple[dict, list]:
    """``({(schema, start, dims json): measures summary}, [duplicate keys])``."""
    out: dict = {}
    dups = []
    for _key, agg in records:
        k = (agg["schema"], agg["window"]["start"],
             orjson.dumps(agg["dims"], option=orjson.OPT_SORT_KEYS))
        m = agg["measures"]
        if agg["schema"] == "http_requests":
            summary = {"count": m["count"], "latency_sum": m["latency_ms"]["sum"],
                       "errors": m["errors"]}
        elif agg["schema"] == "billing_totals":
            summary = {"count": m["count"], "amount_minor": m["amount_minor"]}
        elif agg["schema"] == "webhook_deliveries":
            summary = {"count": m["count"], "successes": m["successes"]}
        else:
            summary = {"count": m["count"]}
        versioned = k + (agg["schema_version"],)
        if versioned in out:
            dups.append(versioned)
        out[versioned] = summary
    return out, dups


def merge_versions(summary: dict) -> dict:
    """Sum the cells of one window published under different schema versions."""
    merged: dict = {}
    for (schema, start, dims, _version), measures in summary.items():
        cell = merged.setdefault((schema, start, dims), defaultdict(int))
        for name, value in measures.items():
            cell[name] += value
    return {k: dict(v) for k, v in merged.items()}


def wait_for_totals(bootstrap: str, topic: str, expected: Expected, *,
                    timeout_s: float = 60.0, settle_s: float = 2.0) -> tuple[dict, list]:
    """Read the central topic until the expected number of cells is there (plus settle)."""
    want = len(expected.cells)

    def enough(records: list) -> bool:
        return len({(a["schema"], a["window"]["start"], str(a["dims"]))
                    for _, a in records}) >= want
    records = read_central(bootstrap, topic, until=enough, timeout_s=timeout_s,
                           settle_s=settle_s)
    summary, dups = summarize(records)
    return merge_versions(summary), dups


# --------------------------------------------------------------------------- a broker to kill


class DedicatedBroker:
    """A broker of its own (``scripts/kafka.sh`` with another state directory and ports), so
    that stopping or killing it cannot disturb the shared broker other tests use."""

    def __init__(self, directory: Path) -> None:
        port = free_port()
        controller = free_port()
        self.directory = directory
        self.bootstrap = f"127.0.0.1:{port}"
        self.env = dict(os.environ, KAFKA_STATE_DIR=str(directory), KAFKA_BOOTSTRAP=self.bootstrap,
                        KAFKA_SASL_SSL_PORT="none", KAFKA_CONTROLLER_PORT=str(controller),
                        KAFKA_HEAP_OPTS="-Xms64m -Xmx256m")
        directory.mkdir(parents=True, exist_ok=True)
        shared_libs = state_dir() / "libs"
        if shared_libs.is_dir() and not (directory / "libs").exists():
            (directory / "libs").symlink_to(shared_libs)    # reuse the shared broker's jars

    def run(self, command: str, timeout_s: float = 180) -> None:
        result = subprocess.run([str(KAFKA_SH), command], env=self.env, capture_output=True,
                                text=True, timeout=timeout_s, check=False)
        assert result.returncode == 0, f"kafka.sh {command}: {result.stdout}{result.stderr}"

    def kill9(self) -> None:
        """SIGKILL the broker this object started (no shutdown, no flush) and wait for it."""
        pid = int((self.directory / "kafka.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        assert str(self.directory).encode() in cmdline, "the pid file names another process"
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists():
            assert time.monotonic() < deadline, "the broker survived SIGKILL"
            time.sleep(0.05)


# --------------------------------------------------------------------------- the process


class SidecarProcess(ServiceProcess):
    """``python -m deidentify.cli run ...`` as a real subprocess, output to a log file."""

    name = "sidecar"

    def __init__(self, bootstrap: str, topics: Topics, log_path: Path, *,
                 schemas: Path = SHIPPED_SCHEMAS, idle: str = "60s", region: str = "eu",
                 extra_args: Iterable[str] = (), env: dict | None = None,
                 use_env_for_settings: bool = False) -> None:
        self.port = free_port()
        self.log_path = log_path
        settings = {"--region": region, "--bootstrap": bootstrap, "--schemas": str(schemas),
                    "--group": topics.group, "--central-topic": topics.central_base,
                    "--port": str(self.port), "--topic-prefix": topics.prefix,
                    "--idle": idle, "--commit-interval": "300ms"}
        env_names = {"--region": "DEIDENTIFY_REGION", "--bootstrap": "KAFKA_BOOTSTRAP",
                     "--schemas": "DEIDENTIFY_SCHEMAS", "--group": "DEIDENTIFY_GROUP",
                     "--central-topic": "DEIDENTIFY_CENTRAL_TOPIC", "--port": "DEIDENTIFY_PORT",
                     "--topic-prefix": "DEIDENTIFY_TOPIC_PREFIX", "--idle": "DEIDENTIFY_IDLE",
                     "--commit-interval": "DEIDENTIFY_COMMIT_INTERVAL"}
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("DEIDENTIFY_", "KAFKA_"))}
        self.env["PYTHONUNBUFFERED"] = "1"
        self.env["DEIDENTIFY_BIND"] = "127.0.0.1"
        self.args = [sys.executable, "-m", "deidentify.cli", "run"]
        for flag, value in settings.items():
            if use_env_for_settings:
                self.env[env_names[flag]] = value
            else:
                self.args += [flag, value]
        self.args += list(extra_args)
        self.env.update(env or {})
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> SidecarProcess:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env, cwd=ROOT)
        return self

    # --- HTTP (get, metrics_text, wait_until, wait_ready: ServiceProcess)

    def metrics(self) -> dict:
        return parse_metrics(self.metrics_text())

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics().get((name, tuple(sorted(labels.items()))), 0.0)

    def wait_consumed(self, n: int, timeout_s: float = 30.0) -> None:
        def done() -> bool:
            total = sum(v for (name, _), v in self.metrics().items()
                        if name == "deid_sidecar_events_consumed_total")
            return total >= n
        self.wait_until(f"{n} events consumed", done, timeout_s)

    # --- process control (sigterm, kill9, alive, log_tail: ServiceProcess)

    def wait(self, timeout_s: float) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout_s)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None


def assert_no_pii(text: str) -> None:
    assert PII_MARKER not in text, "an event value reached the sidecar's output"
    for needle in ("4242424242424242", "192.0.2.77", "Mozilla", "Bearer", "tok_"):
        assert needle not in text, f"{needle!r} (from an event) reached the sidecar's output"

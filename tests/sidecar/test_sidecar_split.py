"""``deidentify run --stages split`` on the real broker: one process, and three of one region.

The expected result is what ``deidentify preview`` computes for the same lines: one
:class:`~deidentify.pipeline.Pipeline`, every window closed. The data stays under every cap
(caps are decided differently by design in split mode; see ``deidentify/partials.py``) and
uses integer measures, and it is built so that ``k`` can only be decided on the merged
cells: in most cells every raw partition sees only two of the cell's subjects (k = 5), so no
partition alone could publish them; other cells have the same two subjects in every
partition, so merged they stay under ``k`` and roll into ``__other__``.

Every raw partition ends with a *closer* an hour later, so every test window closes by event
time; ``--idle 10m`` keeps the closers' own windows open until the test ends.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from deidentify.pipeline import Pipeline
from deidentify.schema import load_schemas
from tests.kafka_helpers import delete_topics_async, list_topics_async
from tests.sidecar.sidecar_support import (
    MINUTE,
    PARTITIONS,
    T0,
    SidecarProcess,
    Topics,
    assert_no_pii,
    billing_event,
    create_raw_topics,
    http_event,
    new_topics,
    produce,
    read_central,
    schemas_with,
    webhook_event,
)

pytestmark = pytest.mark.kafka   # the pure data check below needs no broker, but is cheap

WINDOWS = 4
DEADLINE_S = 300.0        # only a hung test waits this long


@pytest.fixture
def topics(kafka_bootstrap: str, request: pytest.FixtureRequest):
    t = new_topics(request.node.name.replace("test_", "")[:16].replace("_", "-"))
    asyncio.run(create_raw_topics(kafka_bootstrap, t))
    yield t
    # the session's janitor leaves topics alone while other runs share the broker: ours go
    mine = [name for name in asyncio.run(list_topics_async(kafka_bootstrap))
            if name.startswith(t.prefix)]
    if mine:
        asyncio.run(delete_topics_async(kafka_bootstrap, mine))


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "subject.key"
    path.write_bytes(base64.b64encode(os.urandom(48)))
    path.chmod(0o600)
    return path


@pytest.fixture
def split_sidecars(tmp_path: Path, kafka_bootstrap: str, key_file: Path):
    """``make(name)`` -> a split-mode SidecarProcess (not started); all killed at the end."""
    made: list[SidecarProcess] = []
    schemas = schemas_with(tmp_path / "schemas")

    def make(topics: Topics, name: str) -> SidecarProcess:
        sc = SidecarProcess(kafka_bootstrap, topics, tmp_path / f"{name}.log",
                            schemas=schemas, idle="10m",
                            extra_args=["--stages", "split",
                                        "--subject-key-file", str(key_file)])
        made.append(sc)
        return sc
    make.schemas = schemas
    yield make
    for sc in made:
        sc.ensure_stopped()
    for sc in made:
        assert_no_pii(sc.log_text())


def spread_records(windows: int = WINDOWS) -> list[tuple[str, int, bytes]]:
    """``(topic key, partition, value)``: subjects of one cell spread over partitions."""
    per_partition: dict = defaultdict(list)
    for p in range(PARTITIONS):
        for w in range(windows):
            base = T0 + w * MINUTE
            for j in range(6):
                ts = base + j * 7_000 + p
                spread = f"p{p}s{j % 2}"              # two subjects per partition and cell
                shared = f"shared{j % 2}"             # the same two in every partition
                per_partition[("http", p)] += [
                    (ts, http_event(ts, user=spread, route="/v1/orders/{id}", status=200,
                                    latency_ms=5 + j + w)),
                    (ts + 1, http_event(ts + 1, user=shared, route="/v1/users/{id}",
                                        status=503, latency_ms=50 + j))]
                per_partition[("billing", p)] += [
                    (ts, billing_event(ts, customer=spread, tenant="acme", currency="EUR",
                                       amount=100 + j)),
                    (ts + 1, billing_event(ts + 1, customer=shared, tenant="globex",
                                           currency="USD", amount=7))]
                per_partition[("webhook", p)] += [
                    (ts, webhook_event(ts, tenant=f"t{spread}", host="github.io",
                                       success=j % 3 != 0))]
    records = []
    for (key, p), events in sorted(per_partition.items()):
        records += [(key, p, orjson.dumps(e)) for _, e in sorted(events, key=lambda x: x[0])]
    return records


def closers() -> list[tuple[str, int, bytes]]:
    ts = T0 + 3_600_000
    out = []
    for p in range(PARTITIONS):
        out.append(("http", p, orjson.dumps(http_event(ts, user="closer", route="/closer"))))
        out.append(("billing", p, orjson.dumps(billing_event(ts, customer="closer"))))
        out.append(("webhook", p, orjson.dumps(webhook_event(ts, tenant="closer"))))
    return out


def preview_of(schemas: Path, records) -> list[tuple[bytes, bytes]]:
    """What ``preview`` publishes for these lines (one pipeline, every window closed)."""
    pipeline = Pipeline(load_schemas(schemas), region="eu")
    by_partition: dict = defaultdict(list)
    for key, partition, value in records:
        by_partition[(key, partition)].append(value)
    for source, values in by_partition.items():
        pipeline.process_batch(enumerate(values), source)
    return sorted(_canonical(a.key, a.value) for a in pipeline.close_all())


def _canonical(key: bytes, value: dict) -> tuple[bytes, bytes]:
    return key, orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def read_all(bootstrap: str, topic: str, expected: list) -> list[tuple[bytes, bytes]]:
    want = {key for key, _ in expected}

    def complete(records: list) -> bool:
        return want <= {key for key, _ in records}
    records = read_central(bootstrap, topic, until=complete, timeout_s=DEADLINE_S,
                           settle_s=5.0)
    return sorted(_canonical(key, value) for key, value in records)


def assert_same(got: list, expected: list) -> None:
    keys = [key for key, _ in got]
    dups = {key for key in keys if keys.count(key) > 1}
    assert not dups, f"{len(dups)} aggregates published more than once"
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    assert not missing and not extra, (f"{len(missing)} missing, {len(extra)} unexpected, "
                                       f"e.g. {(missing + extra)[:2]}")


def test_the_expected_result_needs_the_merge(tmp_path):
    """The data is what the tests claim: the spread cells pass k only when merged."""
    records = spread_records()
    schemas = schemas_with(tmp_path / "schemas")
    merged = preview_of(schemas, records)
    routes = {orjson.loads(v)["dims"].get("route") for _, v in merged}
    assert "/v1/orders/{id}" in routes           # 6 subjects merged: published
    assert "/v1/users/{id}" not in routes        # 2 subjects in every partition: rolled up
    alone = preview_of(schemas, [r for r in records if r[1] == 0])
    assert not any(orjson.loads(v)["dims"].get("route") == "/v1/orders/{id}"
                   for _, v in alone)            # one partition alone: under k


def test_one_split_process_publishes_what_preview_publishes(kafka_bootstrap, topics,
                                                             split_sidecars):
    records = spread_records()
    expected = preview_of(split_sidecars.schemas, records)
    assert len(expected) >= WINDOWS * 3
    produce(kafka_bootstrap, topics, records + closers())
    sc = split_sidecars(topics, "one").start()
    got = read_all(kafka_bootstrap, topics.central, expected)
    assert_same(got, expected)
    assert sc.alive()
    assert "split session started" in sc.log_text()


def test_three_processes_with_a_sigkill_publish_what_one_process_publishes(
        kafka_bootstrap, topics, split_sidecars):
    """Three processes of one group (9 raw, 6 internal partitions). The first 8 of 12
    minutes are produced; once windows have closed in stage one *and* been published by
    stage two (others still open), one process is SIGKILLed; the rest is produced while it
    is down, and it is restarted (two rebalances with open windows)."""
    records = spread_records(12)
    expected = preview_of(split_sidecars.schemas, records)
    cut = T0 + 8 * MINUTE
    first = [r for r in records if orjson.loads(r[2])["ts"] < cut]
    rest = [r for r in records if orjson.loads(r[2])["ts"] >= cut]
    assert first and rest
    procs = [split_sidecars(topics, f"p{i}").start() for i in range(3)]
    for sc in procs:
        sc.wait_until("stage one partitions assigned",
                      lambda sc=sc: "stage one partitions assigned" in sc.log_text(),
                      DEADLINE_S)
    produce(kafka_bootstrap, topics, first)
    victim = procs[1]
    victim.wait_until("the victim sent partials of closed windows",
                      lambda: "stage one committed" in victim.log_text(), DEADLINE_S)
    victim.wait_until("some windows published by stage two", lambda: any(
        "stage two committed" in sc.log_text() for sc in procs), DEADLINE_S)
    assert victim.alive()
    victim.kill9()
    produce(kafka_bootstrap, topics, rest + closers())
    deadline = time.monotonic() + DEADLINE_S
    while victim.alive():
        assert time.monotonic() < deadline, "SIGKILL did not stop the victim"
        time.sleep(0.1)
    restarted = split_sidecars(topics, "p1-again").start()
    got = read_all(kafka_bootstrap, topics.central, expected)
    assert_same(got, expected)
    assert all(sc.alive() for sc in (procs[0], procs[2], restarted))


def test_rebalances_with_open_windows_publish_what_one_process_publishes(
        kafka_bootstrap, topics, split_sidecars):
    """No kill. Two processes run (14 minutes of data, the first 7 produced: one window
    closed, six open); a third joins (both groups rebalance while windows are open); 3 more
    minutes are produced and stage two publishes; one of the first two stops on SIGTERM
    (another rebalance, windows open); the rest is produced. The ``shared`` subjects have
    events in every raw partition, so their cells are built from partitions owned by
    different processes in every phase. The central topic, read with read_committed,
    equals the one-process result."""
    records = spread_records(14)
    expected = preview_of(split_sidecars.schemas, records)
    # grace 5m: after 7 minutes the first window closes and the others stay open
    bounds = (0, T0 + 7 * MINUTE, T0 + 10 * MINUTE, 2**62)
    phase = [[r for r in records if lo <= orjson.loads(r[2])["ts"] < hi]
             for lo, hi in zip(bounds, bounds[1:], strict=False)]
    assert all(phase)
    first, second = (split_sidecars(topics, f"p{i}").start() for i in range(2))
    for sc in (first, second):
        sc.wait_until("stage one partitions assigned",
                      lambda sc=sc: "stage one partitions assigned" in sc.log_text(),
                      DEADLINE_S)
    produce(kafka_bootstrap, topics, phase[0])
    first.wait_until("windows closed in stage one", lambda: any(
        "stage one committed" in sc.log_text() for sc in (first, second)), DEADLINE_S)

    third = split_sidecars(topics, "p2").start()          # joins: rebalance, windows open
    for stage in ("stage one", "stage two"):
        third.wait_until(f"{stage} partitions assigned to the new process",
                         lambda stage=stage: f"{stage} partitions assigned" in
                         third.log_text(), DEADLINE_S)
    produce(kafka_bootstrap, topics, phase[1])
    third.wait_until("some windows published by stage two", lambda: any(
        "stage two committed" in sc.log_text() for sc in (first, second, third)),
        DEADLINE_S)

    assert first.sigterm(DEADLINE_S) == 0                  # leaves: rebalance, windows open
    produce(kafka_bootstrap, topics, phase[2] + closers())
    got = read_all(kafka_bootstrap, topics.central, expected)
    assert_same(got, expected)
    assert second.alive() and third.alive()

"""The sidecar as a real process against the real local broker.

Every test runs ``python -m deidentify.cli run`` on its own raw topics (a unique
``--topic-prefix``), group and central topic, produces raw events with known totals, and
reads the central topic with ``isolation_level=read_committed``.
"""

from __future__ import annotations

import asyncio
import signal
import time

import orjson
import pytest

from tests.kafka_helpers import committed_offsets
from tests.sidecar.sidecar_support import (
    PARTITIONS,
    RAW,
    SHIPPED_SCHEMAS,
    T0,
    PacedProducer,
    SidecarProcess,
    Topics,
    assert_no_pii,
    create_raw_topics,
    http_event,
    interleave,
    iso,
    make_mix,
    new_topics,
    produce,
    read_central,
    schemas_with,
    wait_for_totals,
)

pytestmark = pytest.mark.kafka


@pytest.fixture
def topics(kafka_bootstrap: str, request: pytest.FixtureRequest) -> Topics:
    t = new_topics(request.node.name.replace("test_", "")[:20].replace("_", "-"))
    asyncio.run(create_raw_topics(kafka_bootstrap, t))
    return t


@pytest.fixture
def sidecars(tmp_path):
    """``sidecars(bootstrap, topics, log_path, **options)`` -> SidecarProcess (not started).

    Default schemas: the shipped ones with a 5 minute grace (see ``schemas_with``). Every
    process made here is killed at the end of the test, and its output checked for PII.
    """
    made: list[SidecarProcess] = []
    default_schemas = schemas_with(tmp_path / "schemas")

    def make(*args, **kwargs) -> SidecarProcess:
        kwargs.setdefault("schemas", default_schemas)
        sc = SidecarProcess(*args, **kwargs)
        made.append(sc)
        return sc
    yield make
    for sc in made:
        sc.ensure_stopped()
    for sc in made:
        assert_no_pii(sc.log_text())


def _assert_totals(got: dict, dups: list, expected) -> None:
    assert not dups, f"windows published more than once: {dups[:5]}"
    want = expected.as_dict()
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    assert not missing, f"{len(missing)} expected cells missing, e.g. {missing[:3]}"
    assert not extra, f"{len(extra)} unexpected cells, e.g. {extra[:3]}"
    wrong = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert not wrong, f"{len(wrong)} cells with wrong measures, e.g. {list(wrong.items())[:3]}"


# --------------------------------------------------------------------------- (1)


def test_known_mix_reaches_central_topic_exactly_once(kafka_bootstrap, topics, sidecars,
                                                      tmp_path):
    # the shipped schemas as they are; the events are in the topics before the sidecar
    # starts, so its first fetches see every partition at a different pace
    mix = make_mix(windows=3)
    produce(kafka_bootstrap, topics, mix.records)
    produce(kafka_bootstrap, topics, mix.closers())
    sc = sidecars(kafka_bootstrap, topics, tmp_path / "sidecar.log",
                  schemas=SHIPPED_SCHEMAS).start()
    got, dups = wait_for_totals(kafka_bootstrap, topics.central, mix.expected)
    _assert_totals(got, dups, mix.expected)
    assert sum(c["count"] for c in got.values()) == mix.valid
    # 3 schemas x 3 windows; each aggregate carries the region and the schema version
    records = read_central(kafka_bootstrap, topics.central, until=lambda r: True, settle_s=0.5)
    assert {a["region"] for _, a in records} == {"eu"}
    assert {a["schema_version"] for _, a in records} == {1}
    assert len({k for k, _ in records}) == len(records) == len(mix.expected.cells)
    assert sc.alive()
    assert sc.sigterm() == 0


def test_at_least_once_mode_publishes_the_same_totals(kafka_bootstrap, topics, sidecars,
                                                     tmp_path):
    """The benchmark baseline (--at-least-once): no transactions, same aggregates."""
    mix = make_mix(windows=2)
    produce(kafka_bootstrap, topics, mix.records)
    produce(kafka_bootstrap, topics, mix.closers())
    sc = sidecars(kafka_bootstrap, topics, tmp_path / "sidecar.log",
                  schemas=SHIPPED_SCHEMAS, extra_args=["--at-least-once"]).start()
    got, dups = wait_for_totals(kafka_bootstrap, topics.central, mix.expected)
    _assert_totals(got, dups, mix.expected)
    assert "guarantee=at_least_once" in sc.log_text()
    assert sc.sigterm() == 0


# --------------------------------------------------------------------------- (2)

BAD_MESSAGES = [
    (b"not json {", ("-", "invalid_json")),
    (b"\xff\xfe\x00 invalid utf-8", ("-", "invalid_json")),
    (b"", ("-", "invalid_json")),
    (None, ("-", "invalid_json")),
    (b"[1, 2, 3]", ("-", "not_an_object")),
    (b'{"type": "http_request", "pad": "' + b"x" * (1100 * 1024) + b'"}', ("-", "too_large")),
    (orjson.dumps({"type": "coffee_order", "ts": 1, "tenant_id": "acme"}),
     ("-", "unknown_type")),
    (orjson.dumps({**http_event(T0, user="u1"), "status": "abc"}),
     ("http_requests", "invalid_field")),
    (orjson.dumps({**http_event(T0, user="u1"), "tenant_id": "bad id!"}),
     ("http_requests", "rejected_id")),
    (orjson.dumps({**http_event(T0, user="u1"), "ts": "yesterday"}),
     ("http_requests", "invalid_timestamp")),
]


def test_bad_messages_are_counted_and_valid_totals_stay_exact(kafka_bootstrap, topics,
                                                              sidecars, tmp_path):
    mix = make_mix(windows=2)
    # interleave every kind of bad message into the http partitions, between valid events
    records = []
    expected_drops: dict = {}
    n_bad = 0
    for rec in mix.records:
        records.append(rec)
        if rec[0] == "http" and len(records) % 5 == 0:
            value, reason = BAD_MESSAGES[n_bad % len(BAD_MESSAGES)]
            records.append(("http", n_bad % PARTITIONS, value))
            expected_drops[reason] = expected_drops.get(reason, 0) + 1
            n_bad += 1
    assert len(expected_drops) == len({r for _, r in BAD_MESSAGES}), "every reason is used"

    sc = sidecars(kafka_bootstrap, topics, tmp_path / "sidecar.log").start()
    sc.wait_ready()
    produce(kafka_bootstrap, topics, records)
    produce(kafka_bootstrap, topics, mix.closers())
    got, dups = wait_for_totals(kafka_bootstrap, topics.central, mix.expected)
    _assert_totals(got, dups, mix.expected)

    sc.wait_consumed(len(records) + len(mix.closers()))
    metrics = sc.metrics()
    dropped = {(dict(labels)["schema"], dict(labels)["reason"]): v
               for (name, labels), v in metrics.items()
               if name == "deid_sidecar_events_dropped_total"}
    assert dropped == expected_drops
    assert sc.alive()
    assert sc.get("/readyz")[0] == 200
    assert "xxxxxxxxxx" not in sc.log_text()
    assert sc.sigterm() == 0


# --------------------------------------------------------------------------- (3)


def test_health_and_metrics_endpoints(kafka_bootstrap, topics, sidecars, tmp_path):
    mix = make_mix(windows=2)
    sc = sidecars(kafka_bootstrap, topics, tmp_path / "sidecar.log",
                  use_env_for_settings=True).start()       # every setting from env vars
    sc.wait_until("/livez 200", lambda: sc.get("/livez")[0] == 200)
    sc.wait_ready()
    status, body = sc.get("/readyz")
    ready = orjson.loads(body)
    assert status == 200 and ready["ready"] is True
    assert ready["assigned_partitions"] == len(RAW) * PARTITIONS
    produce(kafka_bootstrap, topics, mix.records + mix.closers())
    wait_for_totals(kafka_bootstrap, topics.central, mix.expected)
    n_events = len(mix.records) + len(mix.closers())
    sc.wait_consumed(n_events)

    def lag_zero() -> bool:
        m = sc.metrics()
        lags = [v for (name, _), v in m.items() if name == "deid_sidecar_consumer_lag"]
        return len(lags) == len(RAW) * PARTITIONS and all(v == 0 for v in lags)
    sc.wait_until("consumer lag 0 on every partition", lag_zero, timeout_s=10)

    m = sc.metrics()

    def total(name: str, **labels) -> float:
        return sum(v for (n, lab), v in m.items()
                   if n == name and all(dict(lab).get(k) == x for k, x in labels.items()))
    for key in RAW:
        per_topic = sum(1 for r in mix.records + mix.closers() if r[0] == key)
        assert total("deid_sidecar_events_consumed_total", topic=topics.raw(key)) == per_topic
    assert total("deid_sidecar_cells_published_total") == len(mix.expected.cells)
    assert total("deid_sidecar_cells_published_total", schema="http_requests") == 8
    assert total("deid_sidecar_windows_open") == 3           # the closers' windows
    assert total("deid_sidecar_transaction_commit_seconds_count") >= 1
    assert total("deid_sidecar_transactions_total", outcome="committed") >= 1
    assert total("deid_sidecar_batch_size_count") >= 1
    assert total("deid_sidecar_batch_size_sum") == n_events
    assert total("deid_sidecar_assigned_partitions") == 9
    assert total("deid_sidecar_schema_version", schema="http_requests") == 1
    assert total("deid_sidecar_events_dropped_total") == 0
    assert total("deid_sidecar_last_commit_timestamp_seconds") > time.time() - 60
    # no label value comes from an event
    for (_name, labels), _v in m.items():
        for _k, value in labels:
            assert "@" not in value and "acme" not in value and "/v1/" not in value
    status, body = sc.get("/livez")
    assert status == 200 and orjson.loads(body)["alive"] is True
    assert sc.get("/nope")[0] == 404
    assert sc.sigterm() == 0


def test_readyz_reports_why_without_a_broker(tmp_path, sidecars):
    # nothing listens on port 1: the sidecar keeps retrying, live but not ready
    topics = new_topics("nobroker")
    sc = sidecars("127.0.0.1:1", topics, tmp_path / "sidecar.log").start()
    sc.wait_until("/livez 200", lambda: sc.get("/livez")[0] == 200)
    status, body = sc.get("/readyz")
    assert status == 503
    reply = orjson.loads(body)
    assert reply["ready"] is False and "not connected to Kafka" in reply["reason"]
    # the timeout only fails a hung shutdown; how long it took is not asserted
    assert sc.sigterm(timeout_s=60) == 0
    assert "BrokerUnavailable" in sc.log_text()


# --------------------------------------------------------------------------- (4)


def test_sigterm_commits_everything_due_and_exits_zero(kafka_bootstrap, topics, sidecars,
                                                       tmp_path):
    mix = make_mix(windows=3)
    # long commit interval: offsets reach the broker only through the shutdown commit
    sc = sidecars(kafka_bootstrap, topics, tmp_path / "sidecar.log",
                  extra_args=["--commit-interval", "60s"]).start()
    sc.wait_ready()
    produce(kafka_bootstrap, topics, mix.records)
    n = len(mix.records)
    sc.wait_consumed(n)
    # the windows are not due yet (no closer): nothing published, nothing committed
    assert sc.sigterm() == 0
    assert "final commit done" in sc.log_text()
    # every event of every partition still feeds an open window: committed offsets stay 0
    offsets = asyncio.run(committed_offsets(kafka_bootstrap, topics.group))
    assert all(v <= 0 for v in offsets.values()), offsets

    # second run: closers make every window due; SIGTERM right after they are consumed
    sc2 = sidecars(kafka_bootstrap, topics, tmp_path / "sidecar2.log",
                   extra_args=["--commit-interval", "60s"]).start()
    sc2.wait_ready()
    produce(kafka_bootstrap, topics, mix.closers())
    sc2.wait_consumed(n + len(mix.closers()))
    assert sc2.sigterm() == 0
    got, dups = wait_for_totals(kafka_bootstrap, topics.central, mix.expected, settle_s=1.0)
    _assert_totals(got, dups, mix.expected)
    # committed offsets = the closer's offset on each partition (its window is still open)
    per_partition = {}
    for key, p, _ in mix.records:
        per_partition[(topics.raw(key), p)] = per_partition.get((topics.raw(key), p), 0) + 1
    offsets = asyncio.run(committed_offsets(kafka_bootstrap, topics.group))
    assert {(tp.topic, tp.partition): off for tp, off in offsets.items()} == per_partition

    # a third run replays only the closers and publishes nothing again
    sc3 = sidecars(kafka_bootstrap, topics, tmp_path / "sidecar3.log").start()
    sc3.wait_ready()
    sc3.wait_consumed(len(mix.closers()))
    # SIGTERM publishes and commits everything due first: a window published again would
    # show as a duplicate below
    assert sc3.sigterm() == 0
    got, dups = wait_for_totals(kafka_bootstrap, topics.central, mix.expected, settle_s=1.0)
    _assert_totals(got, dups, mix.expected)


# --------------------------------------------------------------------------- (5)


@pytest.mark.parametrize("failpoint", ["after_send:2", "before_commit:1", "after_commit:2"])
def test_crash_at_a_transaction_boundary_loses_and_doubles_nothing(
        kafka_bootstrap, topics, sidecars, tmp_path, failpoint):
    # grace 2m: one round of production spans one window per partition, so windows close
    # while events still flow and several transactions publish; k=5 (the floor) and six
    # subjects per cell in every partition: a window published twice, even only one
    # partition's share of it, shows as a duplicate; jitter: replay meets published windows
    schemas = schemas_with(tmp_path / "grace2m", grace="2m")
    mix = make_mix(windows=8, jitter_ms=25_000)
    sc = sidecars(kafka_bootstrap, topics, tmp_path / "crash.log", schemas=schemas,
                  env={"DEIDENTIFY_FAILPOINT": failpoint}).start()
    sc.wait_ready()
    for chunk in interleave(mix.records, 8):
        produce(kafka_bootstrap, topics, chunk)
        time.sleep(0.2)
    produce(kafka_bootstrap, topics, mix.closers())
    assert sc.wait(30) == -9, "the failpoint did not kill the sidecar"
    assert "failpoint hit" in sc.log_text()
    sc2 = sidecars(kafka_bootstrap, topics, tmp_path / "restart.log", schemas=schemas).start()
    got, dups = wait_for_totals(kafka_bootstrap, topics.central, mix.expected)
    _assert_totals(got, dups, mix.expected)
    assert sc2.sigterm() == 0


def test_kill_9_mid_stream_then_restart_loses_and_doubles_nothing(kafka_bootstrap, topics,
                                                                  sidecars, tmp_path):
    schemas = schemas_with(tmp_path / "grace2m", grace="2m")
    mix = make_mix(windows=12, jitter_ms=25_000)
    rounds = interleave(mix.records, 12)
    sc = sidecars(kafka_bootstrap, topics, tmp_path / "run0.log", schemas=schemas).start()
    sc.wait_ready()
    # the sidecar is killed at different moments after a burst of events: right away
    # (fetching, aggregating), a little later (around a transaction), later still (idle)
    for i, (burst, delay) in enumerate(((rounds[0:3], 0.6), (rounds[3:6], 0.25),
                                        (rounds[6:9], 0.02), (rounds[9:12], None))):
        for chunk in burst:
            produce(kafka_bootstrap, topics, chunk)
            time.sleep(0.15)
        if delay is None:
            break
        time.sleep(delay)
        sc.kill9()
        sc = sidecars(kafka_bootstrap, topics, tmp_path / f"run{i + 1}.log",
                      schemas=schemas).start()
        sc.wait_ready()
    produce(kafka_bootstrap, topics, mix.closers())
    got, dups = wait_for_totals(kafka_bootstrap, topics.central, mix.expected)
    _assert_totals(got, dups, mix.expected)
    assert sc.sigterm() == 0


# --------------------------------------------------------------------------- (6)


def test_schema_hot_reload_with_events_flowing(kafka_bootstrap, topics, sidecars, tmp_path):
    schemas = schemas_with(tmp_path / "live", grace="2m")
    http_file = schemas / "http_requests.yaml"
    billing_file = schemas / "billing_totals.yaml"
    billing_ok = billing_file.read_text()
    mix = make_mix(windows=12)
    paced = PacedProducer(kafka_bootstrap, topics, interleave(mix.records, 12), pause_s=0.5,
                          hold_after=3)
    # DEBUG logging: the no-PII check of the fixture covers the most verbose level too
    sc = sidecars(kafka_bootstrap, topics, tmp_path / "sidecar.log", schemas=schemas,
                  env={"DEIDENTIFY_LOG_LEVEL": "DEBUG"}).start()
    sc.wait_ready()
    paced.start()
    paced.wait_holding()

    # a valid new version, swapped in while events flow (the producer holds half-way)
    http_file.write_text(http_file.read_text().replace("version: 1", "version: 2"))
    sc.wait_until("http_requests v2 loaded",
                  lambda: sc.metric("deid_sidecar_schema_version", schema="http_requests") == 2,
                  timeout_s=10)
    assert "schema reload ok: billing_totals v1, http_requests v2, webhook_deliveries v1" \
        in sc.log_text()

    # an invalid schema is refused; the running set stays
    billing_file.write_text(billing_ok.replace("k: 5", "k: -3"))
    sc.wait_until("the invalid schema refused",
                  lambda: sc.metric("deid_sidecar_schema_reloads_total", outcome="refused") == 1,
                  timeout_s=10)
    log = sc.log_text()
    assert "schema reload refused" in log
    assert f"{billing_file}:22: privacy 'k' is out of range (fix: " in log
    # SIGHUP reloads at once: still invalid, still refused
    sc.proc.send_signal(signal.SIGHUP)
    sc.wait_until("SIGHUP reload refused",
                  lambda: sc.metric("deid_sidecar_schema_reloads_total", outcome="refused") == 2,
                  timeout_s=5)
    billing_file.write_text(billing_ok)
    sc.wait_until("the fixed schema loaded",
                  lambda: sc.metric("deid_sidecar_schema_reloads_total", outcome="ok") == 2,
                  timeout_s=10)
    assert sc.alive()

    paced.finish()
    produce(kafka_bootstrap, topics, mix.closers())
    got, dups = wait_for_totals(kafka_bootstrap, topics.central, mix.expected)
    _assert_totals(got, dups, mix.expected)
    records = read_central(kafka_bootstrap, topics.central, until=lambda r: True, settle_s=0.5)
    http_versions = {}
    for _, agg in records:
        if agg["schema"] == "http_requests":
            http_versions.setdefault(agg["window"]["start"], set()).add(agg["schema_version"])
    starts = sorted(http_versions)
    assert http_versions[starts[0]] == {1}, "the first window came before the reload"
    assert http_versions[starts[-1]] == {2}, "the last window came after the reload"
    assert all(a["schema_version"] == 1 for _, a in records if a["schema"] != "http_requests")
    assert sc.sigterm() == 0


@pytest.mark.parametrize("failpoint", ["before_commit:2:raise", "after_commit:1:raise"])
def test_a_failed_transaction_restarts_the_session_in_process(kafka_bootstrap, topics,
                                                              sidecars, tmp_path, failpoint):
    schemas = schemas_with(tmp_path / "grace2m", grace="2m")
    mix = make_mix(windows=8, jitter_ms=25_000)
    sc = sidecars(kafka_bootstrap, topics, tmp_path / "sidecar.log", schemas=schemas,
                  env={"DEIDENTIFY_FAILPOINT": failpoint}).start()
    sc.wait_ready()
    for chunk in interleave(mix.records, 8):
        produce(kafka_bootstrap, topics, chunk)
        time.sleep(0.2)
    produce(kafka_bootstrap, topics, mix.closers())
    got, dups = wait_for_totals(kafka_bootstrap, topics.central, mix.expected)
    _assert_totals(got, dups, mix.expected)
    log = sc.log_text()
    assert "failpoint hit" in log
    assert "session failed, starting a new one" in log and "error=BrokerUnavailable" in log
    assert sc.metric("deid_sidecar_transactions_total", outcome="session_restart") == 1
    assert sc.alive()
    assert sc.sigterm() == 0


PAGE_VIEWS_SCHEMA = """\
name: page_views
version: 1
description: Page views per method, a schema added while the sidecar runs.
source: {type: page_view, topic: telemetry.raw.page_views}
window: {size: 60s, grace: 2m}
dimensions:
  method: {type: enum, field: method, values: http_methods}
measures:
  latency_ms: {type: sum, field: latency_ms, integer: true, min: 0, max: 100000}
privacy: {subjects: [user.id], k: 5, caps: {}, max_cells: 100}
"""


def test_a_schema_on_a_new_topic_resubscribes_without_loss(kafka_bootstrap, topics, sidecars,
                                                           tmp_path):
    """Hot reload adds a raw topic: the consumer resubscribes (a rebalance with events
    flowing): partitions it keeps continue from the sidecar's own positions, nothing is
    counted twice, and the new topic's events are aggregated."""
    schemas = schemas_with(tmp_path / "live", grace="2m")
    mix = make_mix(windows=10, jitter_ms=25_000)
    paced = PacedProducer(kafka_bootstrap, topics, interleave(mix.records, 10), pause_s=0.5,
                          hold_after=3)
    sc = sidecars(kafka_bootstrap, topics, tmp_path / "sidecar.log", schemas=schemas).start()
    sc.wait_ready()
    paced.start()
    paced.wait_holding()
    (schemas / "page_views.yaml").write_text(PAGE_VIEWS_SCHEMA)
    sc.wait_until("page_views loaded",
                  lambda: sc.metric("deid_sidecar_schema_version", schema="page_views") == 1,
                  timeout_s=10)
    sc.wait_until("the new topic's partitions assigned",
                  lambda: sc.metric("deid_sidecar_assigned_partitions") == 12, timeout_s=30)
    log = sc.log_text()
    assert "resubscribed: topics=" in log and "partitions revoked: " in log
    page_topic = topics.prefix + "telemetry.raw.page_views"
    views = [(p, orjson.dumps({"type": "page_view", "ts": T0 + 5 * 60_000 + i * 1000,
                               "tenant_id": "acme", "method": "GET", "latency_ms": 3,
                               "user": {"id": f"u{i}"}}))
             for i in range(9) for p in [i % 3]]
    paced.finish()

    async def produce_views():
        from aiokafka import AIOKafkaProducer
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            for p, value in views:
                await producer.send_and_wait(page_topic, value, partition=p)
            for p in range(3):
                closer = {"type": "page_view", "ts": T0 + 3_600_000, "tenant_id": "acme",
                          "method": "GET", "latency_ms": 1, "user": {"id": "closer"}}
                await producer.send_and_wait(page_topic, orjson.dumps(closer), partition=p)
        finally:
            await producer.stop()
    asyncio.run(produce_views())
    produce(kafka_bootstrap, topics, mix.closers())
    window = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((T0 + 5 * 60_000) / 1000))
    mix.expected.cells[("page_views", window, b'{"method":"GET"}')]["count"] = 9
    got, dups = wait_for_totals(kafka_bootstrap, topics.central, mix.expected)
    _assert_totals(got, dups, mix.expected)
    assert sc.sigterm() == 0


def test_a_second_instance_fences_the_first_which_exits_1(kafka_bootstrap, topics, sidecars,
                                                          tmp_path):
    """Two sidecars with the same group by mistake: the newer one's producer fences the
    older one, which exits 1 at its next transaction; totals stay exact."""
    schemas = schemas_with(tmp_path / "grace2m", grace="2m")
    mix = make_mix(windows=6, jitter_ms=25_000)
    rounds = interleave(mix.records, 6)
    first = sidecars(kafka_bootstrap, topics, tmp_path / "first.log", schemas=schemas).start()
    first.wait_ready()
    for chunk in rounds[:3]:
        produce(kafka_bootstrap, topics, chunk)
        time.sleep(0.2)
    first.wait_consumed(sum(len(c) for c in rounds[:3]))
    second = sidecars(kafka_bootstrap, topics, tmp_path / "second.log", schemas=schemas).start()
    assert first.wait(30) == 1
    assert "error=ProducerFenced" in first.log_text()
    for chunk in rounds[3:]:
        produce(kafka_bootstrap, topics, chunk)
    produce(kafka_bootstrap, topics, mix.closers())
    got, dups = wait_for_totals(kafka_bootstrap, topics.central, mix.expected)
    _assert_totals(got, dups, mix.expected)
    assert second.alive()
    assert second.sigterm() == 0


def test_an_idle_partition_closes_its_windows_by_wall_clock(kafka_bootstrap, topics, sidecars,
                                                            tmp_path):
    """No later event ever comes: after --idle, stream time follows the wall clock and the
    window is published anyway (a quiet region still reports)."""
    schemas = schemas_with(tmp_path / "s", grace=None)
    http = schemas / "http_requests.yaml"
    http.write_text(http.read_text().replace("size: 60s", "size: 1s")
                    .replace("grace: 10s", "grace: 0s"))
    sc = sidecars(kafka_bootstrap, topics, tmp_path / "sidecar.log", schemas=schemas,
                  idle="1s").start()
    sc.wait_ready()
    now = int(time.time() * 1000)
    ts = now - now % 1000 + 100
    produce(kafka_bootstrap, topics,
            [("http", 0, orjson.dumps(http_event(ts + i, user=f"u{i}"))) for i in range(5)])
    records = read_central(kafka_bootstrap, topics.central, until=lambda r: len(r) >= 1,
                           timeout_s=20, settle_s=0.5)
    assert len(records) == 1
    agg = records[0][1]
    assert agg["schema"] == "http_requests" and agg["measures"]["count"] == 5
    assert sc.sigterm() == 0


# --------------------------------------------------------------------------- event time

YEAR_2286 = 9_999_999_999_000


async def _poison_commit_metadata(bootstrap: str, topic: str, group: str) -> None:
    """What a sidecar without the future bound would have committed after a 2286 event."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.structs import OffsetAndMetadata
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        metadata = orjson.dumps({"v": 1, "closed_through": {"http_requests": YEAR_2286}})
        await consumer.commit({tp: OffsetAndMetadata(0, metadata.decode())})
    finally:
        await consumer.stop()


def test_a_far_future_burst_does_not_stop_later_windows(kafka_bootstrap, topics, sidecars,
                                                        tmp_path):
    """A burst from the year 2286 spread over many windows of one partition, and a commit
    metadata mark in 2286 left by an older run: the events are rejected as
    ``future_timestamp``, the mark is ignored, and later windows still close and publish."""
    schemas = schemas_with(tmp_path / "s", grace=None)
    http = schemas / "http_requests.yaml"
    http.write_text(http.read_text().replace("size: 60s", "size: 1s")
                    .replace("grace: 10s", "grace: 0s"))
    asyncio.run(_poison_commit_metadata(kafka_bootstrap, topics.raw("http"), topics.group))
    sc = sidecars(kafka_bootstrap, topics, tmp_path / "sidecar.log", schemas=schemas,
                  idle="1s").start()
    sc.wait_ready()

    def five_users(second_ms: int) -> list:
        return [("http", 0, orjson.dumps(http_event(second_ms + 100 + i, user=f"u{i}")))
                for i in range(5)]
    now = int(time.time() * 1000)
    first = now - now % 1000
    produce(kafka_bootstrap, topics, five_users(first))
    burst = [("http", 0, orjson.dumps(http_event(YEAR_2286 - i * 1000, user=f"f{i % 7}")))
             for i in range(60)]
    produce(kafka_bootstrap, topics, burst)
    sc.wait_until("the burst rejected", lambda: sc.metric(
        "deid_sidecar_events_dropped_total", schema="http_requests",
        reason="future_timestamp") == 60, timeout_s=30)
    while int(time.time() * 1000) < first + 1000:     # the next window of the wall clock
        time.sleep(0.05)
    now = int(time.time() * 1000)
    later = now - now % 1000
    produce(kafka_bootstrap, topics, five_users(later))
    records = read_central(kafka_bootstrap, topics.central, until=lambda r: len(r) >= 2,
                           timeout_s=60, settle_s=1.0)
    got = sorted((agg["window"]["start"], agg["measures"]["count"]) for _, agg in records)
    assert got == [(iso(first), 5), (iso(later), 5)]
    assert sc.metric("deid_sidecar_events_dropped_total", schema="http_requests",
                     reason="late") == 0
    assert sc.metric("deid_sidecar_watermarks_ignored_total") == 1
    assert "ignored 1 committed closed_through mark(s) beyond the wall clock" in sc.log_text()
    assert sc.sigterm() == 0

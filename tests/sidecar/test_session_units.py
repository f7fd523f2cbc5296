"""The units a sidecar session is wired from, each without a broker: offset bookkeeping,
the two publisher strategies, the window-close gate and the per-session metrics."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition
from aiokafka import errors as kerr
from aiokafka.structs import OffsetAndMetadata

from deidentify import cli
from deidentify.errors import BrokerUnavailable
from deidentify.metrics import sidecar_metrics
from deidentify.sidecar import kafka
from deidentify.sidecar.failpoints import Failpoint
from deidentify.sidecar.gate import STALE_FETCH_MIN_MS, is_caught_up, stale_after_ms
from deidentify.sidecar.offsets import (
    KEEPALIVE_TRANSACTION_S,
    OffsetBook,
    commit_metadata,
    parse_commit_metadata,
)
from deidentify.sidecar.publish import (
    AtLeastOncePublisher,
    TransactionalPublisher,
    make_publisher,
)
from deidentify.sidecar.session_metrics import SessionMetrics
from deidentify.sidecar.settings import load_settings

P0 = TopicPartition("telemetry.raw.http_requests", 0)
P1 = TopicPartition("telemetry.raw.http_requests", 1)
P2 = TopicPartition("telemetry.raw.billing", 0)

# --------------------------------------------------------------------------- offsets


def test_only_held_partitions_are_committed():
    book = OffsetBook()
    assert book.safe({P0: 10, P1: 4, P2: 7}, {P0, P2}) == {P0: 10, P2: 7}
    assert book.safe({P0: 10}, set()) == {}


@pytest.mark.parametrize("offsets, committed, aggregates, since_s, needed", [
    ({P0: 5}, {P0: 5}, False, 0.0, False),                 # nothing new
    ({P0: 5}, {P0: 5}, True, 0.0, True),                   # something to publish
    ({P0: 6}, {P0: 5}, False, 0.0, True),                  # an offset moved
    ({P0: 5, P1: 0}, {P0: 5}, False, 0.0, True),           # a partition more
    ({P0: 5}, {P0: 5}, False, KEEPALIVE_TRANSACTION_S, True),    # keep-alive (fencing)
    ({}, {}, False, 10 * KEEPALIVE_TRANSACTION_S, False),   # nothing held: no keep-alive
])
def test_when_a_transaction_is_needed(offsets, committed, aggregates, since_s, needed):
    book = OffsetBook()
    book.mark_committed(committed)
    assert book.transaction_needed(offsets, aggregates, since_s) is needed


def test_commit_request_carries_the_marks_on_every_partition():
    marks = {"http_requests": 1_700_000_060_000, "billing_totals": 1_700_000_000_000}
    request = OffsetBook.commit_request({P0: 3, P1: 9}, marks)
    assert {tp: om.offset for tp, om in request.items()} == {P0: 3, P1: 9}
    for om in request.values():
        assert parse_commit_metadata(om.metadata) == marks


def test_read_back_merges_marks_by_maximum_and_counts_foreign_metadata():
    book = OffsetBook()
    book.mark_committed({P1: 99})
    read = book.read_back({
        P0: OffsetAndMetadata(12, commit_metadata({"a": 100, "b": 50})),
        P1: OffsetAndMetadata(40, commit_metadata({"a": 80, "b": 70})),
        P2: OffsetAndMetadata(5, "committed by another tool"),
        TopicPartition("t", 9): None,                      # never committed
        TopicPartition("t", 8): OffsetAndMetadata(-1, ""),
    })
    assert read.marks == {"a": 100, "b": 70}
    assert read.foreign == 1
    # a read-back offset fills a gap, never overwrites what this session committed
    assert book.committed == {P1: 99, P0: 12}


def test_a_partition_is_new_until_this_session_consumed_from_it():
    book = OffsetBook()
    book.consumed(P0, 17)
    assert book.new_to_session({P0, P1}) == {P1}
    assert book.positions[P0] == 17


# --------------------------------------------------------------------------- window-close gate


def test_staleness_bound_follows_the_fetch_wait():
    assert stale_after_ms(100) == STALE_FETCH_MIN_MS
    assert stale_after_ms(1_000) == 5_000


@pytest.mark.parametrize("progress, wall, caught_up", [
    (None, 10_000, False),                                       # no response yet
    (kafka.FetchProgress(4, 5, 10_000), 10_000, False),          # one record unread
    (kafka.FetchProgress(5, 5, 10_000), 10_000, True),           # at the end, fresh
    (kafka.FetchProgress(5, 5, 10_000), 12_000, True),           # exactly the bound
    (kafka.FetchProgress(5, 5, 10_000), 12_001, False),          # stale: broker silent
    (kafka.FetchProgress(6, 5, 10_000), 10_000, True),           # past end (control record)
])
def test_caught_up_needs_a_fresh_response_at_the_end(progress, wall, caught_up):
    assert is_caught_up(progress, wall, stale_ms=2_000) is caught_up


# --------------------------------------------------------------------------- publishers


class Agg:
    def __init__(self, key: bytes, schema: str = "http_requests") -> None:
        self.key = key
        self.value = {"schema": schema}

    def to_json(self) -> bytes:
        return b'{"cell": "' + self.key + b'"}'


class FakeProducer:
    """Records the calls a publisher makes, in order; ``fail_on`` raises an aiokafka error."""

    def __init__(self, fail_on: str | None = None, hang_on: str | None = None) -> None:
        self.calls: list[tuple] = []
        self.fail_on = fail_on
        self.hang_on = hang_on

    async def _call(self, name: str, *args) -> None:
        self.calls.append((name, *args))
        if name == self.fail_on:
            raise kerr.KafkaConnectionError()
        if name == self.hang_on:
            await asyncio.Event().wait()

    async def begin_transaction(self) -> None:
        await self._call("begin")

    async def send(self, topic, value, key=None):
        await self._call("send", topic, key)
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    async def send_offsets_to_transaction(self, offsets, group_id) -> None:
        await self._call("offsets", tuple(sorted(o.offset for o in offsets.values())), group_id)

    async def commit_transaction(self) -> None:
        await self._call("commit")


class FakeConsumer:
    def __init__(self) -> None:
        self.commits: list[dict] = []

    async def commit(self, offsets) -> None:
        self.commits.append(offsets)


COMMIT = OffsetBook.commit_request({P0: 3, P1: 9}, {"http_requests": 60_000})


def publish(publisher, aggregates, commit=COMMIT, n=1) -> None:
    asyncio.run(publisher.publish(aggregates, commit, n))


def test_transactional_publisher_sends_and_commits_in_one_transaction():
    producer = FakeProducer()
    p = TransactionalPublisher(producer, "central.eu", "g", 60_000, Failpoint(None))
    publish(p, [Agg(b"a"), Agg(b"b")])
    assert producer.calls == [("begin",), ("send", "central.eu", b"a"),
                              ("send", "central.eu", b"b"), ("offsets", (3, 9), "g"),
                              ("commit",)]
    producer.calls.clear()
    publish(p, [], commit={})          # a keep-alive with nothing held: still a transaction
    assert producer.calls == [("begin",), ("commit",)]


def test_at_least_once_publisher_commits_offsets_after_the_acknowledgements():
    producer, consumer = FakeProducer(), FakeConsumer()
    p = AtLeastOncePublisher(producer, consumer, "central.eu", "g", 60_000, Failpoint(None))
    publish(p, [Agg(b"a")])
    assert producer.calls == [("send", "central.eu", b"a")]     # no transaction
    assert consumer.commits == [COMMIT]
    publish(p, [], commit={})
    assert consumer.commits == [COMMIT]                         # nothing to commit


@pytest.mark.parametrize("strategy", ["transactional", "at_least_once"])
def test_a_failpoint_between_send_and_commit_stops_the_commit(strategy):
    producer, consumer = FakeProducer(), FakeConsumer()
    fp = Failpoint("after_send:2:raise")
    if strategy == "transactional":
        p = TransactionalPublisher(producer, "c", "g", 60_000, fp)
    else:
        p = AtLeastOncePublisher(producer, consumer, "c", "g", 60_000, fp)
    publish(p, [Agg(b"a")], n=1)                  # the 1st publishing transaction passes
    producer.calls.clear()
    consumer.commits.clear()
    with pytest.raises(BrokerUnavailable, match="failpoint after_send at 2"):
        publish(p, [Agg(b"b")], n=2)
    assert ("commit",) not in producer.calls and consumer.commits == []


def test_kafka_errors_leave_a_publisher_translated():
    p = TransactionalPublisher(FakeProducer(fail_on="offsets"), "c", "g", 60_000,
                               Failpoint(None))
    with pytest.raises(BrokerUnavailable, match="transaction: no broker answered"):
        publish(p, [Agg(b"a")])


def test_a_transaction_that_never_completes_becomes_broker_unavailable():
    p = TransactionalPublisher(FakeProducer(hang_on="commit"), "c", "g", 50, Failpoint(None))
    with pytest.raises(BrokerUnavailable, match="not committed within 50 ms"):
        publish(p, [Agg(b"a")])


def test_settings_choose_the_strategy():
    parse = cli.build_parser().parse_args
    exactly_once = load_settings(parse(["run", "--region", "eu"]), env={})
    at_least_once = load_settings(parse(["run", "--region", "eu", "--at-least-once"]), env={})
    assert type(make_publisher(exactly_once, FakeProducer(), FakeConsumer(),
                               Failpoint(None))) is TransactionalPublisher
    p = make_publisher(at_least_once, FakeProducer(), FakeConsumer(), Failpoint(None))
    assert type(p) is AtLeastOncePublisher and p.topic == at_least_once.publish_topic


# --------------------------------------------------------------------------- session metrics


def test_cumulative_pipeline_counters_are_exported_by_delta():
    metrics = sidecar_metrics()
    sm = SessionMetrics(metrics)

    class Pipe:
        drops = {("http_requests", "bad_json"): 3}
        rolled_up: dict = {}
        guard_hits: dict = {}
        suppressed_cells: dict = {}

        class windows:
            open_window_count = 2

            @staticmethod
            def oldest_open_end():
                return None

    sm.export(Pipe, None, (), 0.5, 0)
    Pipe.drops = {("http_requests", "bad_json"): 5}
    sm.export(Pipe, None, (), 0.6, 0)
    value = metrics.registry.get_sample_value(
        "deid_sidecar_events_dropped_total", {"schema": "http_requests", "reason": "bad_json"})
    assert value == 5                      # 3 then +2, not 3 + 5
    sm.transaction_committed([Agg(b"a"), Agg(b"b"), Agg(b"c", "billing_totals")], 0.01)
    assert metrics.registry.get_sample_value("deid_sidecar_cells_published_total",
                                             {"schema": "http_requests"}) == 2

"""The pure pipeline: bad input is rejected line by line and counted; nothing valid is lost."""

from __future__ import annotations

import random

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deidentify.errors import SettingsError
from deidentify.pipeline import DROP_REASONS, Pipeline
from deidentify.schema import default_schema_dir, load_schemas
from tests.helpers import MINUTE, T0, call, schema_set
from tests.strategies import hostile_event, raw_line

BAD_LINES = [
    ("broken-json", b'{"type": "call", ', "invalid_json"),
    ("invalid-utf8", b'{"type": "call", "method": "\xff\xfe"}', "invalid_json"),
    ("not-an-object", b"[1, 2, 3]", "not_an_object"),
    ("string-json", b'"hello"', "not_an_object"),
    ("unknown-type", b'{"type": "page_view", "ts": 1}', "unknown_type"),
    ("type-not-string", b'{"type": ["call"], "ts": 1}', "unknown_type"),
    ("deep-nesting", b"[" * 100_000 + b"]" * 100_000, "invalid_json"),
    ("deep-object", b'{"type":"call","x":' + b'{"a":' * 5000 + b"1" + b"}" * 5001,
     "invalid_json"),
    ("huge", b'{"type": "call", "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}', "too_large"),
    ("bad-tenant", call(T0, tenant_id="alice@example.com"), "rejected_id"),
    ("tenant-int", call(T0, tenant_id=42), "rejected_id"),
    ("bad-ts", call(T0, ts="yesterday"), "invalid_timestamp"),
    ("ts-no-zone", call(T0, ts="2026-11-20T10:00:00"), "invalid_timestamp"),
    ("ts-bool", call(T0, ts=True), "invalid_timestamp"),
    ("method-wrong-type", call(T0, method=["GET"]), "invalid_field"),
    ("sum-wrong-type", call(T0, bytes="12"), "invalid_field"),
    ("year-2286", call(9_999_999_999_000), "future_timestamp"),
    ("year-2286-rfc3339", call(T0, ts="2286-11-20T17:46:39Z"), "future_timestamp"),
]


@pytest.mark.parametrize("case,line,reason", BAD_LINES, ids=[c[0] for c in BAD_LINES])
def test_bad_line_is_rejected_with_reason_and_neighbours_survive(case, line, reason):
    p = Pipeline(schema_set(), region="eu")
    p.process_batch([(0, call(T0, user="a")), (1, line), (2, call(T0, user="b"))])
    schema = "-" if reason in ("invalid_json", "not_an_object", "unknown_type", "too_large") \
        else "calls"
    assert p.drops == {(schema, reason): 1}
    (agg,) = p.close_all()
    assert agg.value["measures"]["count"] == 2


def test_aggregate_matches_contract():
    p = Pipeline(schema_set(), region="eu")
    p.process(call(T0 + 5))
    (agg,) = p.close_all()
    assert set(agg.value) == {"schema", "schema_version", "region", "window", "dims",
                              "measures"}
    assert agg.value["schema"] == "calls" and agg.value["schema_version"] == 1
    assert agg.value["region"] == "eu"
    assert agg.value["window"] == {"start": "2026-11-20T10:00:00Z",
                                   "end": "2026-11-20T10:01:00Z"}
    assert agg.value["dims"] == {"method": "GET"}
    assert orjson.loads(agg.key) == ["calls", 1, "eu", "2026-11-20T10:00:00Z", ["GET"]]
    assert orjson.loads(agg.to_json()) == agg.value


def test_region_is_validated():
    with pytest.raises(SettingsError):
        Pipeline(schema_set(), region="EU west")


def test_conservation_and_order_independence():
    rng = random.Random(7)
    events = []
    for _ in range(3000):
        ts = T0 + rng.randrange(0, 5 * MINUTE)
        events.append(call(ts, method=rng.choice(["GET", "POST", "PUT", "DELETE"]),
                           user=f"u{rng.randrange(40)}"))
    # grace larger than the whole span: any order gives the same result
    results = []
    for seed in (1, 2):
        shuffled = events[:]
        random.Random(seed).shuffle(shuffled)
        p = Pipeline(schema_set(k=5, grace="10m"), region="eu")
        for start in range(0, len(shuffled), 500):
            p.process_batch(list(enumerate(shuffled[start:start + 500], start)))
            p.close_due()
        aggs = p.close_all()
        published = sum(a.value["measures"]["count"] for a in aggs)
        dropped = sum(n for (s, r), n in p.drops.items() if s == "calls")
        assert published + dropped == p.valid["calls"] == 3000
        results.append(sorted(orjson.dumps(a.value, option=orjson.OPT_SORT_KEYS) for a in aggs))
    assert results[0] == results[1]


def test_windows_close_exactly_once():
    p = Pipeline(schema_set(grace="0s"), region="eu")
    seen = []
    for minute in range(10):
        p.process_batch([(minute, call(T0 + minute * MINUTE + 1))])
        seen += [a.value["window"]["start"] for a in p.close_due()]
    seen += [a.value["window"]["start"] for a in p.close_all()]
    assert len(seen) == len(set(seen)) == 10


def test_batches_of_other_partitions_record_their_offsets_and_stream_time():
    """Consecutive batches of different partitions that write to one open window: each
    partition's first offset there holds its commit back (nothing still open is lost on a
    replay), and each partition keeps its own stream time."""
    p = Pipeline(schema_set(), region="eu", now_ms=lambda: T0 + 10 * MINUTE)
    assert p.process_batch([(5, call(T0 + 1)), (6, call(T0 + 2))], partition="a") == 2
    assert p.process_batch([(70, call(T0 + 3))], partition="b") == 1
    assert p.process_batch([(7, call(T0 + 4))], partition="a") == 1
    assert p.safe_offsets() == {"a": 5, "b": 70}
    assert p.windows.watermark() == T0 + 3        # b's stream time holds it
    p.process_batch([(71, call(T0 + 2 * MINUTE))], partition="b")
    assert p.safe_offsets() == {"a": 5, "b": 70}
    assert p.windows.watermark() == T0 + 4        # now a's


def test_drop_reasons_are_a_closed_set():
    assert len(DROP_REASONS) == len(set(DROP_REASONS))
    for reason in DROP_REASONS:
        assert reason.replace("_", "").isalpha()


def test_shipped_schemas_publish_nothing_not_declared():
    schemas = load_schemas(default_schema_dir())
    p = Pipeline(schemas, region="eu")
    for i in range(10):
        p.process(orjson.dumps({
            "type": "billing_charge", "ts": T0 + i, "tenant_id": "acme",
            "customer_id": f"cus_{i}", "currency": "EUR", "amount_minor": 100,
            "customer_email": "x@example.com", "card_number": "4242424242424242",
            "line_items": [{"sku": "s", "description": "d", "quantity": 1}]}))
    (agg,) = p.close_all()
    assert set(agg.value["dims"]) == {"tenant", "currency"}
    assert set(agg.value["measures"]) == {"count", "amount_minor"}


def test_future_bound_is_the_wall_clock_plus_max_future():
    p = Pipeline(schema_set(), region="eu", max_future_ms=5 * MINUTE, now_ms=lambda: T0)
    p.process_batch([(0, call(T0 + 5 * MINUTE)), (1, call(T0 + 5 * MINUTE + 1))])
    assert p.drops == {("calls", "future_timestamp"): 1}
    assert p.valid == {"calls": 1}
    # the batch's own wall clock wins over the pipeline's clock
    p.process_batch([(2, call(T0 + 9 * MINUTE))], wall_ms=T0 + 5 * MINUTE)
    assert p.drops == {("calls", "future_timestamp"): 1}


def test_a_measure_that_reads_as_a_card_number_is_a_guard_hit():
    from tests.helpers import COUNTS_SCHEMA
    text = COUNTS_SCHEMA.format(k=1, grace="10s", cap=500, max_cells=2000).replace(
        "max: 1000000}", "max: 10000000000000000}")
    p = Pipeline(schema_set(text), region="eu")
    p.process_batch([(0, call(T0, method="GET", bytes=4242424242424242)),
                     (1, call(T0, method="POST", bytes=4242424242424241))])
    (agg,) = p.close_all()
    assert agg.value["dims"] == {"method": "POST"}
    assert agg.value["measures"]["bytes"] == 4242424242424241
    assert p.guard_hits == {("calls", "card_number"): 1}
    assert p.drops == {("calls", "guard_hit"): 1}


# ----------------------------------------------------------------- allowlist decoding


def _sorted_aggregates(p: Pipeline) -> list[bytes]:
    return sorted(a.key + orjson.dumps(a.value, option=orjson.OPT_SORT_KEYS)
                  for a in p.close_all())


def _reference_pipeline(schemas) -> Pipeline:
    """The executable specification: orjson of every whole line, the closure extractors."""
    from deidentify.schema.decoder import EventDecoder
    p = Pipeline(schemas, region="eu", now_ms=lambda: T0 + 10 * MINUTE)
    p._decoder = EventDecoder(schemas.compiled, reference=True)
    return p


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lines=st.lists(st.one_of(raw_line(), hostile_event().map(orjson.dumps)), max_size=30))
def test_decoded_pipeline_equals_the_reference_pipeline(lines):
    """Raw bytes through the pipeline as shipped and through the reference decode: the same
    drops by reason, the same valid counts, the same aggregates."""
    schemas = load_schemas(default_schema_dir(), k_floor=1)
    fast = Pipeline(schemas, region="eu", now_ms=lambda: T0 + 10 * MINUTE)
    ref = _reference_pipeline(schemas)
    batch = list(enumerate(lines))
    assert fast.process_batch(batch) == ref.process_batch(batch)
    assert fast.drops == ref.drops
    assert fast.valid == ref.valid
    assert _sorted_aggregates(fast) == _sorted_aggregates(ref)


def test_duplicate_keys_the_last_value_wins():
    """Documented rule (schemas/README.md): the same in the sidecar and preview (this
    pipeline) and the central collector (orjson: see tests/central)."""
    p = Pipeline(schema_set(), region="eu")
    line = call(T0)[:-1] + b',"method":"POST","user":"u9","type":"call"}'
    p.process_batch([(0, line), (1, call(T0)[:-1] + b',"type":"nope"}')])
    assert p.drops == {("-", "unknown_type"): 1}
    (agg,) = p.close_all()
    assert agg.value["dims"] == {"method": "POST"}

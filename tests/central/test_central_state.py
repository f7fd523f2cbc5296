"""Merged central state and the collector's metrics: pure, no broker."""

from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import generate_latest

from deidentify.central.collector import CentralCollector
from deidentify.central.state import CentralState, MergeOutcome, histogram_quantile, summary
from deidentify.central.validate import Accepted, AggregateValidator
from deidentify.dimensions.routewords import ROUTE_WORDS
from deidentify.schema import load_schemas
from tests.central.central_helpers import SCHEMAS_DIR, real_aggregates, total
from tests.helpers import metric_samples, parse_metrics

SCHEMAS = load_schemas(SCHEMAS_DIR)
MINUTE = 60_000
T0 = 1_795_168_800_000  # 2026-11-20T10:00:00Z
VALIDATOR = AggregateValidator(SCHEMAS, max_future_ms=10**15, now_ms=lambda: T0)


def iso(ms: int) -> str:
    from deidentify.contract import iso_utc
    return iso_utc(ms)


def http(start_ms: int = T0, route: str = "/v1/orders/{id}", status: int = 200, count: int = 10,
         errors: int = 0, region: str = "eu", buckets: dict | None = None):
    bounds = ["5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000", "+Inf"]
    b = dict.fromkeys(bounds, 0)
    b.update(buckets or {"10": count})
    obj = {"schema": "http_requests", "schema_version": 1, "region": region,
           "window": {"start": iso(start_ms), "end": iso(start_ms + MINUTE)},
           "dims": {"method": "GET", "route": route, "status": status},
           "measures": {"count": count, "errors": errors,
                        "latency_ms": {"sum": 8.0 * count, "buckets": b}}}
    result = VALIDATOR.validate(orjson.dumps(obj))
    assert isinstance(result, Accepted), result
    return result.aggregate


# ---------------------------------------------------------------------------- merging


def test_redelivered_aggregate_is_not_counted_twice() -> None:
    state = CentralState()
    assert state.merge(http()) is MergeOutcome.MERGED
    assert state.merge(http()) is MergeOutcome.DUPLICATE
    # a copy with different numbers is still the same cell: the first copy wins
    assert state.merge(http(count=99)) is MergeOutcome.DUPLICATE
    (_start, _end, cells), = state.windows("eu", "http_requests")
    assert [m["count"] for _d, m in cells] == [10]


def test_cells_regions_and_windows_are_kept_apart() -> None:
    state = CentralState()
    assert state.merge(http()) is MergeOutcome.MERGED
    assert state.merge(http(status=500, errors=10)) is MergeOutcome.MERGED
    assert state.merge(http(region="us")) is MergeOutcome.MERGED
    assert state.merge(http(start_ms=T0 + MINUTE)) is MergeOutcome.MERGED
    assert state.regions == ["eu", "us"]
    assert [len(c) for _s, _e, c in state.windows("eu", "http_requests")] == [2, 1]
    assert state.cell_count() == 4


def test_retention_evicts_oldest_and_expires_their_redelivery() -> None:
    state = CentralState(retention_windows=3)
    for i in range(5):
        assert state.merge(http(start_ms=T0 + i * MINUTE)) is MergeOutcome.MERGED
    starts = [s for s, _e, _c in state.windows("eu", "http_requests")]
    assert starts == [T0 + 2 * MINUTE, T0 + 3 * MINUTE, T0 + 4 * MINUTE]
    assert state.merge(http(start_ms=T0)) is MergeOutcome.EXPIRED          # evicted earlier
    assert state.merge(http(start_ms=T0 + MINUTE)) is MergeOutcome.EXPIRED
    assert state.merge(http(start_ms=T0 + 2 * MINUTE, route="/v1/new")) is MergeOutcome.MERGED


def test_old_window_while_full_is_expired() -> None:
    state = CentralState(retention_windows=2)
    state.merge(http(start_ms=T0 + 5 * MINUTE))
    state.merge(http(start_ms=T0 + 6 * MINUTE))
    assert state.merge(http(start_ms=T0)) is MergeOutcome.EXPIRED
    # not full yet: an older window is still welcome
    fresh = CentralState(retention_windows=3)
    fresh.merge(http(start_ms=T0 + 5 * MINUTE))
    assert fresh.merge(http(start_ms=T0)) is MergeOutcome.MERGED


def test_region_limit() -> None:
    state = CentralState(max_regions=2)
    assert state.merge(http(region="eu")) is MergeOutcome.MERGED
    assert state.merge(http(region="us")) is MergeOutcome.MERGED
    assert state.merge(http(region="ap")) is MergeOutcome.OVER_CAPACITY
    assert state.merge(http(region="eu", status=201)) is MergeOutcome.MERGED


def test_cells_per_window_are_bounded_by_max_cells() -> None:
    max_cells = SCHEMAS.by_name("http_requests").privacy.max_cells
    state = CentralState(max_values_per_dimension=max_cells * 2)   # only max_cells binds
    words = sorted(ROUTE_WORDS)   # route literals must be known words to pass re-validation
    outcomes = [state.merge(http(route=f"/v1/{words[i % len(words)]}/{words[i // len(words)]}",
                                 status=100 + i % 500))
                for i in range(max_cells + 5)]
    assert outcomes.count(MergeOutcome.MERGED) == max_cells + 1
    assert set(outcomes[max_cells + 1:]) == {MergeOutcome.OVER_CAPACITY}


def test_constructor_checks() -> None:
    with pytest.raises(ValueError, match="retention_windows cannot be smaller than 1"):
        CentralState(retention_windows=0)
    with pytest.raises(ValueError, match="max_regions cannot be smaller than 1"):
        CentralState(max_regions=0)


# ---------------------------------------------------------------------------- quantiles


def test_histogram_quantile_matches_prometheus() -> None:
    # Prometheus: rank 0.5*10=5 lands in (5, 10] holding 4 after 2 -> 5 + 5*(3/4)
    buckets = {"5": 2, "10": 4, "25": 4, "+Inf": 0}
    assert histogram_quantile(0.5, buckets) == pytest.approx(8.75)
    assert histogram_quantile(1.0, buckets) == 25
    assert histogram_quantile(0.1, {"5": 10, "+Inf": 0}) == pytest.approx(0.5)
    assert histogram_quantile(0.99, {"5": 1, "10": 0, "+Inf": 9}) == 10   # +Inf: top bound
    assert histogram_quantile(0.5, {"5": 0, "+Inf": 0}) is None
    with pytest.raises(ValueError):
        histogram_quantile(1.5, buckets)


@given(st.lists(st.integers(0, 50), min_size=4, max_size=4), st.floats(0, 1), st.floats(0, 1))
def test_histogram_quantile_is_monotonic_and_bounded(counts, q1, q2) -> None:
    buckets = dict(zip(["5", "10", "25", "+Inf"], counts, strict=True))
    a, b = histogram_quantile(min(q1, q2), buckets), histogram_quantile(max(q1, q2), buckets)
    if sum(counts) == 0:
        assert a is None and b is None
    else:
        assert 0 <= a <= b <= 25


# ---------------------------------------------------------------------------- summary


def test_summary_rates_errors_and_percentiles() -> None:
    state = CentralState()
    for i in range(3):
        state.merge(http(start_ms=T0 + i * MINUTE, count=60, buckets={"5": 30, "10": 30}))
        state.merge(http(start_ms=T0 + i * MINUTE, status=503, count=6, errors=6,
                         buckets={"1000": 6}))
    schemas = {s.name: s for s in SCHEMAS.schemas}
    doc = summary(state, now_ms=T0 + 10 * MINUTE, schema_names=["http_requests"],
                  schemas=schemas)
    view = doc["regions"]["eu"]["schemas"]["http_requests"]["view"]
    assert view["title"] == "HTTP requests" and view["chart_by"] == "route"
    assert view["rates"] == ["errors"] and view["histograms"] == ["latency_ms"]
    ok, failing = view["top"]                        # two cells: status 200 and 503
    assert ok["dims"] == {"method": "GET", "route": "/v1/orders/{id}", "status": 200}
    assert ok["events"] == 180 and ok["per_minute"] == 60.0     # 3 windows of one minute
    assert ok["rates"] == {"errors": 0.0}
    assert failing["events"] == 18 and failing["rates"] == {"errors": 1.0}
    assert failing["sums"] == {"errors": 18}
    assert ok["quantiles"]["latency_ms"]["p50"] == pytest.approx(5.0)     # rank 90 of 180
    assert 500 < failing["quantiles"]["latency_ms"]["p99"] <= 1000
    assert [w["events"] for w in view["windows"]] == [66, 66, 66]
    assert view["windows"][0]["per_minute"] == 66.0
    assert view["windows"][0]["rates"]["errors"] == pytest.approx(6 / 66, abs=1e-4)
    p50 = view["windows"][0]["quantiles"]["latency_ms"]["p50"]
    assert p50 == pytest.approx(5 + 5 * ((33 - 30) / 30), abs=0.01)
    assert [s["name"] for s in view["series"]] == ["/v1/orders/{id}"]
    assert [p["per_minute"] for p in view["series"][0]["points"]] == [66.0, 66.0, 66.0]
    assert doc["regions"]["eu"]["schemas"]["http_requests"]["events"] == 198
    # a schema that is no longer loaded keeps its counts but gets no view
    assert "view" not in summary(state, now_ms=T0)["regions"]["eu"]["schemas"]["http_requests"]
    orjson.dumps(doc)   # JSON-serialisable


# ---------------------------------------------------------------------------- the collector


@pytest.fixture(scope="module")
def aggregates():
    return real_aggregates("eu", events=8000) + real_aggregates("us", events=6000, seed=2)


def test_collector_exports_what_it_merged(aggregates) -> None:
    collector = CentralCollector(SCHEMAS)
    for agg in aggregates:
        assert isinstance(collector.handle(agg.to_json()), Accepted)
    for agg in aggregates[:40]:           # redelivery: not counted again
        collector.handle(agg.to_json())
    text = generate_latest(collector.metrics.registry).decode()
    for region in ("eu", "us"):
        assert metric_samples(text, "deidentify_http_requests_events_total", region=region) == total(
            aggregates, "http_requests", region=region)
        assert metric_samples(text, "deidentify_http_requests_errors_total", region=region) == total(
            aggregates, "http_requests", "errors", region=region)
        assert metric_samples(text, "deidentify_billing_totals_amount_minor_total", region=region) == total(
            aggregates, "billing_totals", "amount_minor", region=region)
        assert metric_samples(text, "deidentify_webhook_deliveries_successes_total",
                              region=region) == total(aggregates, "webhook_deliveries",
                                                          "successes", region=region)
        # the merged histogram: +Inf bucket == _count == observations
        observed = sum(sum(a.value["measures"]["latency_ms"]["buckets"].values())
                       for a in aggregates
                       if a.value["schema"] == "http_requests" and a.value["region"] == region)
        assert metric_samples(text, "deidentify_http_requests_latency_ms_bucket", region=region,
                              le="+Inf") == observed
        assert metric_samples(text, "deidentify_http_requests_latency_ms_count", region=region) == observed
    assert metric_samples(text, "deid_central_aggregates_accepted_total") == len(aggregates)
    assert metric_samples(text, "deid_central_aggregates_ignored_total",
                          reason="duplicate") == 40
    assert collector.accepted == len(aggregates)


def test_histogram_buckets_are_cumulative(aggregates) -> None:
    collector = CentralCollector(SCHEMAS)
    for agg in aggregates:
        collector.handle(agg.to_json())
    text = generate_latest(collector.metrics.registry).decode()
    series: dict[tuple, list[tuple[float, float]]] = {}
    for (name, pairs), value in parse_metrics(text).items():
        if name == "deidentify_http_requests_latency_ms_bucket":
            labels = dict(pairs)
            key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            series.setdefault(key, []).append((float(labels["le"]), value))
    assert series
    for points in series.values():
        points.sort()
        assert points[-1][0] == math.inf
        assert all(a[1] <= b[1] for a, b in zip(points, points[1:], strict=False))


def test_collector_counts_rejections_by_reason_only(caplog) -> None:
    collector = CentralCollector(SCHEMAS)
    collector.handle(b"not json")
    collector.handle(orjson.dumps({"schema": "http_requests", "x": "bob@example.com"}))
    text = generate_latest(collector.metrics.registry).decode()
    assert metric_samples(text, "deid_central_aggregates_rejected_total", reason="invalid_json") == 1
    assert metric_samples(text, "deid_central_aggregates_rejected_total", reason="guard_hit") == 1
    assert metric_samples(text, "deid_central_guard_hits_total", detector="email") == 1
    assert "bob@example.com" not in text and "bob@example.com" not in caplog.text
    # every reason is exported, zero or not, so alerts can be written against them
    assert 'reason="below_k"' in text


def test_readiness() -> None:
    collector = CentralCollector(SCHEMAS)
    assert collector.readiness() == (False, ["web_server", "consumer"])
    collector.web_started = True
    collector.consuming = True
    assert collector.readiness() == (False, ["partition_assignment"])
    collector.assigned_partitions = 3
    assert collector.readiness() == (True, [])

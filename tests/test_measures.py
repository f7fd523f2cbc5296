"""Measure kinds: a kind defined here, in the test, goes from YAML to a Prometheus series.

``MaxKind`` (the largest value of a numeric field, clamped to ``[min, max]``) is written
only against :mod:`deidentify.measures`; nothing else in the code base knows it. The test
registers it, loads a schema that uses it and follows it through the generated extractor
(against the reference reader), the window, the ``__other__`` roll-up, the published
aggregate, central re-validation and the exported metric.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from deidentify.central.export import CentralExport, series_names
from deidentify.central.validate import CENTRAL_REJECT_REASONS, Accepted, AggregateValidator
from deidentify.errors import SchemaError
from deidentify.measures import (
    INVALID_MEASURE,
    KINDS,
    MEASURE_REASONS,
    OUT_OF_BOUNDS,
    MeasureExport,
    MeasureKind,
    MeasureRejected,
    ReaderTools,
    clamped_number_lines,
    clamped_number_reader,
    is_number,
    parse_number_field,
    register,
    unregister,
)
from deidentify.pipeline import Pipeline
from deidentify.schema.codegen import generate_source
from deidentify.schema.model import Measure
from tests.central.central_helpers import metric_samples
from tests.helpers import MINUTE, T0, call, schema_set

# --------------------------------------------------------------------------- the new kind


class MaxKind(MeasureKind):
    """``max``: the largest value of a numeric field (``null`` when no event had it)."""

    type = "max"
    has_unit = True          # presentation.units may name it; not charted (role None)

    def parse(self, ctx, name: str, spec, line: int | None) -> Measure:
        what = f"measure '{name}'"
        ctx.keys(spec, what, ("type", "field", "min", "max"), ("integer",))
        field, minimum, maximum, integer = parse_number_field(ctx, spec, what)
        return Measure(name=name, type=self.type, field=field, minimum=minimum,
                       maximum=maximum, integer=integer, line=line)

    def extract_lines(self, measure, target, prefix, read):
        return clamped_number_lines(measure, target, prefix, read)

    def reader(self, measure, tools: ReaderTools):
        return clamped_number_reader(measure, tools)

    def initial(self, measure) -> Any:
        return None

    def update_lines(self, measure, slot, value, prefix):
        return [f"if {value} is not None and (cell[{slot}] is None or {value} > cell[{slot}]):",
                f"    cell[{slot}] = {value}"], {}

    def merge(self, measure) -> Callable[[Any, Any], Any]:
        def merge(into: Any, other: Any) -> Any:
            if other is None:
                return into
            return other if into is None or other > into else into
        return merge

    def central_check(self, measure):
        def check(value: Any, count: int) -> Any:
            if value is None:
                return None
            if not is_number(value):
                raise MeasureRejected(INVALID_MEASURE)
            if not measure.minimum <= value <= measure.maximum:
                raise MeasureRejected(OUT_OF_BOUNDS)
            return value
        return check

    def series(self, base: str) -> tuple[str, ...]:
        return (base,)

    def exporter(self, measure, base, schema_name, labelnames, registry) -> MeasureExport:
        from prometheus_client import Gauge

        gauge = Gauge(base, f"{schema_name} {measure.name} (largest value)", labelnames,
                      registry=registry)
        seen: dict[tuple[str, ...], float] = {}

        def add(labels: tuple[str, ...], value: Any) -> None:
            if value is not None and (labels not in seen or value > seen[labels]):
                seen[labels] = value
                gauge.labels(*labels).set(value)
        return MeasureExport((gauge,), add)


@pytest.fixture
def max_kind() -> Iterator[MaxKind]:
    kind = register(MaxKind())
    try:
        yield kind
    finally:
        unregister("max")


SCHEMA = """\
name: calls
version: 1
description: calls by method
source: {type: call, topic: raw.calls}
window: {size: 60s, grace: 0s}
dimensions:
  method: {type: enum, field: method, values: [GET, POST, PUT]}
measures:
  peak_ms: {type: max, field: latency_ms, min: 0, max: 1000}
  errors: {type: count_if, field: status, gte: 500}
privacy:
  subjects: [user]
  k: 2
"""


def event(ts: int, method: str, user: str, **fields: Any) -> bytes:
    return orjson.dumps({"type": "call", "ts": ts, "tenant_id": "acme", "method": method,
                         "user": user, "status": 200, **fields})


# --------------------------------------------------------------------------- tests


def test_a_kind_defined_in_the_test_runs_from_yaml_to_prometheus(max_kind) -> None:
    schemas = schema_set(SCHEMA)
    cs = schemas.compiled[0]
    source, _consts = generate_source(cs.schema)
    assert "M0_LO" in source          # the kind's lines are in the generated extractor

    pipeline = Pipeline(schemas, region="eu", now_ms=lambda: T0 + 10 * MINUTE)
    raw = [
        event(T0 + 1, "GET", "u1", latency_ms=30),
        event(T0 + 2, "GET", "u2", latency_ms=70, status=503),
        event(T0 + 3, "GET", "u2"),                        # no latency: count only
        event(T0 + 4, "POST", "u3", latency_ms=400),       # one subject: rolled up
        event(T0 + 5, "PUT", "u4", latency_ms=2500),       # clamped to 1000, rolled up
        event(T0 + 6, "DELETE", "u5", latency_ms=10.5),    # __other__ by the enum
        event(T0 + 7, "GET", "u6", latency_ms="slow"),     # wrong type: rejected
    ]
    for value in raw:
        decoded = orjson.loads(value)
        assert cs.extract(decoded) == cs.extract_reference(decoded)
    assert pipeline.process_batch(list(enumerate(raw)), wall_ms=T0 + 10 * MINUTE) == 6
    assert pipeline.drops == {("calls", "invalid_field"): 1}
    published = pipeline.close_all()

    assert [a.to_json() for a in published] == [
        b'{"schema":"calls","schema_version":1,"region":"eu","window":{"start":'
        b'"2026-11-20T10:00:00Z","end":"2026-11-20T10:01:00Z"},"dims":{"method":"GET"},'
        b'"measures":{"count":3,"peak_ms":70,"errors":1}}',
        b'{"schema":"calls","schema_version":1,"region":"eu","window":{"start":'
        b'"2026-11-20T10:00:00Z","end":"2026-11-20T10:01:00Z"},"dims":{"method":"__other__"},'
        b'"measures":{"count":3,"peak_ms":1000,"errors":0}}',
    ]

    validator = AggregateValidator(schemas, now_ms=lambda: T0 + 10 * MINUTE)
    accepted = [validator.validate(a.to_json()) for a in published]
    assert all(type(r) is Accepted for r in accepted), accepted
    assert [r.aggregate.measures["peak_ms"] for r in accepted] == [70, 1000]

    registry = CollectorRegistry()
    export = CentralExport(schemas.schemas, registry)
    assert series_names(cs.schema)["peak_ms"] == ("deidentify_calls_peak_ms",)
    for r in accepted:
        agg = r.aggregate
        export.export(agg.region, agg.schema.name, agg.dims, agg.measures)
    text = generate_latest(registry).decode()
    assert metric_samples(text, "deidentify_calls_peak_ms", region="eu", method="GET") == 70
    assert metric_samples(text, "deidentify_calls_peak_ms", region="eu",
                          method="__other__") == 1000
    assert metric_samples(text, "deidentify_calls_errors_total", region="eu",
                          method="GET") == 1


def test_central_validation_of_the_new_kind_refuses_what_no_sidecar_publishes(max_kind) -> None:
    schemas = schema_set(SCHEMA)
    pipeline = Pipeline(schemas, region="eu", now_ms=lambda: T0 + 10 * MINUTE)
    pipeline.process_batch(list(enumerate([event(T0 + 1, "GET", "u1", latency_ms=5),
                                           event(T0 + 2, "GET", "u2")])))
    (agg,) = pipeline.close_all()
    validator = AggregateValidator(schemas, now_ms=lambda: T0 + 10 * MINUTE)

    def with_peak(value: Any):
        forged = orjson.loads(agg.to_json())
        forged["measures"]["peak_ms"] = value
        return validator.validate(orjson.dumps(forged))

    assert type(with_peak(5)) is Accepted
    assert type(with_peak(None)) is Accepted          # no event had the field
    assert with_peak(1001).reason == OUT_OF_BOUNDS     # above the schema's max
    assert with_peak(True).reason == INVALID_MEASURE
    assert with_peak("5").reason == INVALID_MEASURE
    assert set(MEASURE_REASONS) <= set(CENTRAL_REJECT_REASONS)


def test_an_unregistered_type_is_refused_with_file_line_and_the_registered_types() -> None:
    assert "max" not in KINDS
    with pytest.raises(SchemaError) as err:
        schema_set(SCHEMA)
    text = str(err.value)
    assert "schema.yaml:9:" in text and "measure 'peak_ms' has unknown type 'max'" in text
    assert "one of: sum, histogram, count_if (count is implicit)" in text


def test_the_new_kind_is_named_in_schema_errors_and_presentation(max_kind) -> None:
    with pytest.raises(SchemaError) as err:
        schema_set(SCHEMA.replace("{type: max, field: latency_ms, min: 0, max: 1000}",
                                  "{type: max, field: latency_ms, min: 5, max: 1}"))
    assert "measure 'peak_ms' 'min' must be below 'max'" in str(err.value)
    schema = schema_set(SCHEMA + "presentation: {units: {peak_ms: ms}}\n").schemas[0]
    assert schema.presentation is not None and schema.presentation.unit_of("peak_ms") == "ms"


def test_a_kind_cannot_be_registered_twice_or_as_count() -> None:
    with pytest.raises(ValueError):
        register(KINDS["sum"])
    bad = MaxKind()
    bad.type = "count"
    with pytest.raises(ValueError):
        register(bad)


def test_the_shipped_kinds_update_in_one_generated_function() -> None:
    schemas = schema_set()        # tests.helpers: a histogram, a sum and a count_if
    from deidentify.window import make_updater

    update = make_updater(schemas.compiled[0])
    source = update.__source__
    assert "for " not in source and "KINDS" not in source     # straight-line, no dispatch
    cell = [0, set(), [0, [0, 0, 0]], 0, 0]
    update(cell, (50, 7, True))
    update(cell, (None, None, False))
    update(cell, (100, 3, False))
    assert cell[2:] == [[150, [0, 2, 0]], 10, 1]


def test_histogram_buckets_ints_and_floats_as_the_declared_bounds() -> None:
    """Values bisect float copies of the bounds (exact here): every value, int or float,
    lands in the bucket ``bisect_left`` over the declared bounds gives, bounds themselves
    included."""
    from bisect import bisect_left

    from deidentify.window import make_updater

    update = make_updater(schema_set().compiled[0])     # buckets [10, 100]
    for value in [0, -0.0, 9, 9.999, 10, 10.0, 10.000001, 99.5, 100, 100.0, 100.5, 1000,
                  1e300, -5, 2**62]:
        cell = [0, set(), [0, [0, 0, 0]], 0, 0]
        update(cell, (value, None, False))
        want = [0, 0, 0]
        want[bisect_left((10, 100), value)] += 1
        assert cell[2] == [value, want], value
        assert type(cell[2][0]) is type(value)


def test_bounds_are_compared_as_floats_only_when_exact() -> None:
    from deidentify.measures import _as_floats

    assert _as_floats((0, 600000)) == (0.0, 600000.0)
    assert _as_floats((5, 2.5)) == (5.0, 2.5)
    assert _as_floats((0, 2**60 + 1)) is None          # not a float exactly: ints kept
    assert _as_floats((None, 1)) is None


def test_clamped_floats_and_ints_equal_the_reference_at_the_bounds() -> None:
    """The clamp compares a float with float copies of the bounds: at, just inside and just
    outside each bound, the value and its type are the reference closure's."""
    cs = schema_set().compiled[0]                  # latency_ms: min 0, max 1000
    for value in [-1, 0, 1000, 1001, -0.5, -0.0, 0.0, 1e-300, 0.5, 999.5, 1000.0, 1000.5,
                  1e308, -1e308, float("inf"), float("-inf"), float("nan")]:
        event = {**orjson.loads(call(T0)), "latency_ms": value}
        got, want = cs.extract(event), cs.extract_reference(event)
        assert repr(got) == repr(want), value

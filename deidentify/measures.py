"""Measure kinds: everything one ``type:`` of a schema's ``measures:`` means, in one object.

A schema declares measures (``count`` is implicit); each measure's ``type`` names a
:class:`MeasureKind` in :data:`KINDS`. The kind owns every step of the measure's life::

    parse            the YAML mapping -> a Measure (or SchemaError with file:line and fix)
    extract_lines    the lines the generated extractor runs per event (schema/codegen.py)
    reader           the same extraction as a closure: the executable reference
                     (schema/compile.py; differential tests compare the two)
    initial          a new cell's value (window.py)
    update_lines     the lines the generated updater runs per event (window.py)
    merge            two cells' values into one: the ``__other__`` roll-up (privacy/threshold.py)
    format           the published JSON value (pipeline.py, the aggregate contract)
    central_check    the central collector's re-validation (central/validate.py)
    series, exporter the Prometheus series it exports (central/export.py)
    role, has_unit   how the dashboards and presentation hints treat it

Nothing here runs per event by itself: the extract and update steps are source lines that
are compiled once per schema into one straight-line function (no per-event dispatch through
these objects), and the other steps are looked up once per schema and called per cell or
per aggregate.

Adding a kind (e.g. ``max``): subclass :class:`MeasureKind`, implement its methods and call
:func:`register` — no other module names a measure type. ``tests/test_measures.py`` defines
one inside the test and follows it from YAML to a Prometheus series.

Invariants every kind keeps:

* Its extracted value is ``None`` when the event does not contribute (field absent); the
  generated code and the reference reader agree on every input, hostile ones included.
* A value of the wrong type rejects the whole event (``INVALID_FIELD``), never echoing it.
* Its published value is built from schema constants and numbers only (the output guard
  checks every 12+ digit number); central validation accepts exactly what a correct sidecar
  publishes and raises :class:`MeasureRejected` with a reason from :data:`MEASURE_REASONS`.

Generated source: a kind's lines may use the scratch names ``v`` and ``c``, the runtime
names ``MISSING`` (an absent field) and ``INVALID_FIELD`` (``return`` it to reject the
event), and only the constants it returns (named from the prefix it is given). Field paths
are read only through the ``read`` callback (codegen's ``_path_lines``), never spliced.
"""

from __future__ import annotations

import difflib
import math
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from deidentify.contract import INF, DropReason, RefusalReason, bucket_key
from deidentify.schema.model import (
    CONDITION_OPS,
    FIELD_RE,
    Condition,
    Measure,
    _Ctx,
)
from deidentify.schema.yamlsource import Located, LocatedList

__all__ = [
    "KINDS",
    "MEASURE_REASONS",
    "MeasureExport",
    "MeasureKind",
    "MeasureRejected",
    "ReaderTools",
    "build_updater",
    "kind_of",
    "kind_names",
    "register",
    "unregister",
    "update_body",
]

# The central collector's reasons for refusing a measure (the contract's RefusalReason).
INVALID_MEASURE = RefusalReason.INVALID_MEASURE
OUT_OF_BOUNDS = RefusalReason.OUT_OF_BOUNDS
INVALID_BUCKETS = RefusalReason.INVALID_BUCKETS
MEASURE_REASONS = (INVALID_MEASURE, OUT_OF_BOUNDS, INVALID_BUCKETS)

# Dashboard roles (central/state.py, grafana.py, the built-in page).
ROLE_TOTAL = "total"            # an additive amount, charted per minute
ROLE_RATE = "rate"              # an additive count of events, shown as a share of count
ROLE_DISTRIBUTION = "distribution"   # histogram buckets, shown as quantiles

_EPS = 1e-9
MAX_BUCKETS = 64

Read = Callable[[str, str], list[str]]     # (field path, variable) -> source lines


class MeasureRejected(Exception):
    """A measure value the central collector refuses; carries only the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ReaderTools:
    """What the reference extractor (schema/compile.py) lends a kind's reader."""

    field: Callable[[str], Callable[[dict], Any]]   # dotted path -> getter (missing if absent)
    missing: object                                 # the getter's "absent" value
    rejected: Callable[[DropReason], Exception]     # reason -> the exception to raise
    invalid_field: DropReason                       # the reason of a wrongly typed field


@dataclass(frozen=True, slots=True)
class MeasureExport:
    """A measure's Prometheus side for one schema: its metric objects and the per-aggregate
    ``add(labels, value)`` (value as central validation returned it)."""

    metrics: tuple[Any, ...]
    add: Callable[[tuple[str, ...], Any], None]


class MeasureKind:
    """One measure type. Subclasses set :attr:`type` and implement the methods below.

    ``role``: how the dashboards show it (:data:`ROLE_TOTAL`, :data:`ROLE_RATE`,
    :data:`ROLE_DISTRIBUTION`, or ``None``: not charted). ``has_unit``: its values are in the
    unit of a field (``presentation.units`` may name it).
    """

    type: str = ""
    role: str | None = None
    has_unit: bool = False

    # ---------------------------------------------------------------- schema
    def parse(self, ctx: _Ctx, name: str, spec: Located, line: int | None) -> Measure:
        raise NotImplementedError

    def fields(self, measure: Measure) -> tuple[str, ...]:
        """The event fields the measure reads (the decoder and generators need them)."""
        return (measure.field,) if measure.field else ()

    # ---------------------------------------------------------------- per event (compiled)
    def extract_lines(self, measure: Measure, target: str, prefix: str,
                      read: Read) -> tuple[list[str], dict[str, Any]]:
        """Source lines setting ``target`` to the event's contribution (or returning
        ``INVALID_FIELD``), and the constants they use (names starting with ``prefix``)."""
        raise NotImplementedError

    def reader(self, measure: Measure, tools: ReaderTools) -> Callable[[dict], Any]:
        """The reference closure: the same contribution as :meth:`extract_lines`."""
        raise NotImplementedError

    def initial(self, measure: Measure) -> Any:
        """A new cell's value (a fresh object every call if it is mutable)."""
        return 0

    def update_lines(self, measure: Measure, slot: str, value: str, prefix: str
                     ) -> tuple[list[str], dict[str, Any]]:
        """Source lines folding ``value`` (the extracted contribution) into ``cell[slot]``."""
        raise NotImplementedError

    # ---------------------------------------------------------------- per cell
    def merge(self, measure: Measure) -> Callable[[Any, Any], Any]:
        """``(into, other) -> merged``: may update ``into`` in place and return it."""
        raise NotImplementedError

    def format(self, measure: Measure) -> Callable[[Any], Any]:
        """Cell value -> the published JSON value (the aggregate contract)."""
        return _identity

    # ---------------------------------------------------------------- central
    def central_check(self, measure: Measure) -> Callable[[Any, int], Any]:
        """``(published value, count) -> value to keep``; raises :class:`MeasureRejected`."""
        raise NotImplementedError

    def series(self, base: str) -> tuple[str, ...]:
        """The Prometheus sample names exported for a metric named ``base``."""
        return (f"{base}_total",)

    def exporter(self, measure: Measure, base: str, schema_name: str,
                 labelnames: tuple[str, ...], registry: Any) -> MeasureExport:
        raise NotImplementedError


def _identity(value: Any) -> Any:
    return value


# =========================================================================== registry

KINDS: dict[str, MeasureKind] = {}


def register(kind: MeasureKind) -> MeasureKind:
    """Make ``kind`` available as ``type: <kind.type>`` in schemas."""
    if not kind.type or not kind.type.isidentifier() or kind.type == "count":
        raise ValueError("a measure kind needs an identifier type other than 'count'")
    if kind.type in KINDS:
        raise ValueError(f"measure kind '{kind.type}' is already registered")
    KINDS[kind.type] = kind
    return kind


def unregister(type_name: str) -> None:
    """Remove a kind (tests that register their own kind clean up with this)."""
    del KINDS[type_name]


def kind_names() -> tuple[str, ...]:
    return tuple(KINDS)


def kind_of(measure: Measure) -> MeasureKind:
    """The kind of a parsed measure (parse_schema only accepts registered types)."""
    return KINDS[measure.type]


def parse_measure_spec(ctx: _Ctx, name: str, spec: Located, line: int | None) -> Measure:
    """Parse ``spec`` (a mapping with a ``type:``) with its kind's parser."""
    mtype = spec["type"]
    kind = KINDS.get(mtype) if isinstance(mtype, str) else None
    if kind is None:
        names = kind_names()
        close = difflib.get_close_matches(str(mtype), names, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ctx.error(f"measure '{name}' has unknown type '{mtype}'", spec, "type",
                        fix=f"{hint}one of: {', '.join(names)} (count is implicit)")
    return kind.parse(ctx, name, spec, line)


def update_body(measures: Iterable[Measure], first_slot: int, values: str = "values",
                names: list[str] | None = None) -> tuple[list[str], dict[str, Any]]:
    """The unindented lines that apply one event's measure contributions (the tuple named
    ``values``, or with ``names`` the variables of those names, one per measure) to the cell
    list named ``cell``, and the constants they read: each measure's
    :meth:`MeasureKind.update_lines` (measure ``i`` lives in ``cell[first_slot + i]``).
    Shared by :func:`build_updater` and the window's generated ``add``
    (:meth:`deidentify.window.WindowAggregator.adder`)."""
    measures = tuple(measures)
    body: list[str] = []
    namespace: dict[str, Any] = {"bisect_left": bisect_left}
    if names is None:
        names = [f"v{i}" for i in range(len(measures))]
        if names:
            body.append(f"{', '.join(names)}{',' if len(names) == 1 else ''} = {values}")
    elif len(names) != len(measures):
        raise ValueError("one name per measure")
    for i, measure in enumerate(measures):
        lines, consts = kind_of(measure).update_lines(measure, str(first_slot + i),
                                                      names[i], f"U{i}_")
        _check_consts(consts, f"U{i}_")
        namespace.update(consts)
        body += lines
    return body, namespace


def build_updater(measures: Iterable[Measure], first_slot: int
                  ) -> Callable[[list, tuple], None]:
    """One straight-line ``update(cell, values)`` for a schema's measures: each measure's
    :meth:`MeasureKind.update_lines`, compiled once (measure ``i`` lives in
    ``cell[first_slot + i]`` and its contribution is ``values[i]``)."""
    lines, namespace = update_body(measures, first_slot)
    body = ["    " + line for line in lines]
    source = "\n".join(["def update(cell, values):", *body, "    return None", ""])
    exec(compile(source, "<deidentify update>", "exec"), namespace)
    update = namespace["update"]
    update.__source__ = source
    return update


def _check_consts(consts: dict[str, Any], prefix: str) -> None:
    for key in consts:
        if not key.startswith(prefix):
            raise ValueError(f"a measure constant must start with {prefix}")


# =========================================================================== kinds


def parse_number_field(ctx: _Ctx, spec: Located, what: str) -> tuple[str, float, float, bool]:
    """``field``, ``min``, ``max`` and ``integer`` of a measure over a numeric field."""
    field = ctx.string(spec, "field", what, FIELD_RE, fix="a numeric field such as latency_ms")
    minimum = ctx.number(spec, "min", what)
    maximum = ctx.number(spec, "max", what)
    if minimum >= maximum:
        raise ctx.error(f"{what} 'min' must be below 'max'", spec, "max",
                        fix="write a max larger than min")
    integer = False
    if "integer" in spec:
        if not isinstance(spec["integer"], bool):
            raise ctx.error(f"{what} 'integer' must be true or false", spec, "integer",
                            fix="integer: true")
        integer = spec["integer"]
    return field, minimum, maximum, integer


def clamped_number_lines(measure: Measure, target: str, prefix: str,
                         read: Read) -> tuple[list[str], dict[str, Any]]:
    """Read ``measure.field`` as a number clamped to ``[min, max]`` (``None`` when absent);
    any other type returns ``INVALID_FIELD``. Shared by the kinds over a numeric field."""
    lo, hi = f"{prefix}LO", f"{prefix}HI"
    consts = {lo: measure.minimum, hi: measure.maximum}
    floats = _as_floats((measure.minimum, measure.maximum))
    if measure.integer or floats is None:
        accept = "c is int" if measure.integer else "c is int or (c is float and v == v)"
        branches = [f"if {accept}:",
                    f"    {target} = {lo} if v < {lo} else ({hi} if v > {hi} else v)"]
    else:
        # A float is compared with float bounds (the same numbers, exactly: an int bound
        # next to a float takes CPython's slow mixed comparison); the result is the same.
        # In range first (NaN fails both comparisons), then out of range.
        consts[f"{lo}F"], consts[f"{hi}F"] = floats
        branches = [f"if c is float and {lo}F <= v <= {hi}F:",
                    f"    {target} = v",
                    "elif c is float and v == v:",
                    f"    {target} = {lo} if v < {lo}F else {hi}",
                    "elif c is int:",
                    f"    {target} = {lo} if v < {lo} else ({hi} if v > {hi} else v)"]
    lines = read(measure.field or "", "v") + [
        "c = v.__class__",
        *branches,
        "elif v is MISSING or v is None:",
        f"    {target} = None",
        "else:",
        "    return INVALID_FIELD"]
    return lines, consts


def _as_floats(numbers: tuple) -> tuple[float, ...] | None:
    """``numbers`` as floats when each is exactly a float (so a comparison with it is the
    same as with the original), else None."""
    if any(type(x) not in (int, float) for x in numbers):
        return None
    floats = tuple(float(x) for x in numbers)
    return floats if all(f == x for f, x in zip(floats, numbers, strict=True)) else None


def clamped_number_reader(measure: Measure, tools: ReaderTools) -> Callable[[dict], Any]:
    """The reference closure of :func:`clamped_number_lines`."""
    get = tools.field(measure.field or "")
    lo, hi = measure.minimum, measure.maximum
    integer = measure.integer
    missing, rejected, invalid = tools.missing, tools.rejected, tools.invalid_field

    def number(event: dict) -> float | int | None:
        value = get(event)
        tv = type(value)
        if tv is int or (tv is float and not integer and value == value):
            if value < lo:
                return lo
            if value > hi:
                return hi
            return value
        if value is missing or value is None:
            return None
        raise rejected(invalid)
    return number


def is_number(value: Any) -> bool:
    """A JSON number a sidecar can publish: int or finite float, never a bool."""
    t = type(value)
    return (t is int) or (t is float and math.isfinite(value))


def check_sum(value: Any, measure: Measure, count: int) -> None:
    """A sum of ``count`` values, each clamped to the measure's ``[min, max]``."""
    if not is_number(value) or (measure.integer and type(value) is not int):
        raise MeasureRejected(INVALID_MEASURE)
    # Each event's value is clamped to [min, max] by the sidecar: the sum is bounded by
    # count times the bounds, and is non-negative unless the schema allows negatives.
    low = 0.0 if measure.minimum is None or measure.minimum >= 0 else measure.minimum * count
    high = math.inf if measure.maximum is None else measure.maximum * count
    slack = 0 if type(value) is int else _EPS * max(1.0, abs(value))   # float rounding
    if value < low - slack or value > high + slack:
        raise MeasureRejected(OUT_OF_BOUNDS)


def counter_exporter(measure: Measure, base: str, documentation: str,
                     labelnames: tuple[str, ...], registry: Any) -> MeasureExport:
    """A Prometheus counter ``<base>_total`` incremented by each aggregate's value (the
    label set exists, at zero, from the first aggregate on)."""
    from prometheus_client import Counter  # the runtime side only: preview never needs it

    counter = Counter(base, documentation, labelnames, registry=registry)

    def add(labels: tuple[str, ...], value: Any) -> None:
        if value:
            counter.labels(*labels).inc(value)
        else:
            counter.labels(*labels)            # the series exists, at zero
    return MeasureExport((counter,), add)


class SumKind(MeasureKind):
    """``sum``: the sum of a numeric field, each value clamped to ``[min, max]``."""

    type = "sum"
    role = ROLE_TOTAL
    has_unit = True

    def parse(self, ctx: _Ctx, name: str, spec: Located, line: int | None) -> Measure:
        what = f"measure '{name}'"
        ctx.keys(spec, what, ("type", "field", "min", "max"), ("integer",))
        field, minimum, maximum, integer = parse_number_field(ctx, spec, what)
        return Measure(name=name, type=self.type, field=field, minimum=minimum,
                       maximum=maximum, integer=integer, line=line)

    def extract_lines(self, measure: Measure, target: str, prefix: str,
                      read: Read) -> tuple[list[str], dict[str, Any]]:
        return clamped_number_lines(measure, target, prefix, read)

    def reader(self, measure: Measure, tools: ReaderTools) -> Callable[[dict], Any]:
        return clamped_number_reader(measure, tools)

    def update_lines(self, measure: Measure, slot: str, value: str, prefix: str
                     ) -> tuple[list[str], dict[str, Any]]:
        return [f"if {value} is not None:", f"    cell[{slot}] += {value}"], {}

    def merge(self, measure: Measure) -> Callable[[Any, Any], Any]:
        return _add

    def central_check(self, measure: Measure) -> Callable[[Any, int], Any]:
        def check(value: Any, count: int) -> Any:
            check_sum(value, measure, count)
            return value
        return check

    def exporter(self, measure: Measure, base: str, schema_name: str,
                 labelnames: tuple[str, ...], registry: Any) -> MeasureExport:
        return counter_exporter(measure, base, f"{schema_name} {measure.name} (sum)",
                                labelnames, registry)


def _add(into: Any, other: Any) -> Any:
    return into + other


def _parse_condition(ctx: _Ctx, spec: Located, what: str) -> Condition:
    ops = [op for op in CONDITION_OPS if op in spec]
    if len(ops) != 1:
        raise ctx.error(f"{what} needs exactly one condition", spec,
                        fix=f"add one of: {', '.join(CONDITION_OPS)} (e.g. gte: 500)")
    op = ops[0]
    value = spec[op]
    if op == "equals":
        if not isinstance(value, bool | int | str) or isinstance(value, float):
            raise ctx.error(f"{what} 'equals' must be true/false, an integer or a string",
                            spec, op, fix="e.g. equals: true")
    else:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ctx.error(f"{what} '{op}' must be a number", spec, op, fix="e.g. gte: 500")
    field = ctx.string(spec, "field", what, FIELD_RE, fix="a field path such as status")
    return Condition(field=field, op=op, value=value)


class CountIfKind(MeasureKind):
    """``count_if``: events whose field satisfies one condition (``equals``, ``gte``, ``lt``);
    a field of another type simply does not match (it never rejects the event)."""

    type = "count_if"
    role = ROLE_RATE

    def parse(self, ctx: _Ctx, name: str, spec: Located, line: int | None) -> Measure:
        what = f"measure '{name}'"
        ctx.keys(spec, what, ("type", "field"), CONDITION_OPS)
        return Measure(name=name, type=self.type, condition=_parse_condition(ctx, spec, what),
                       line=line)

    def fields(self, measure: Measure) -> tuple[str, ...]:
        return (measure.condition.field,) if measure.condition else ()

    def extract_lines(self, measure: Measure, target: str, prefix: str,
                      read: Read) -> tuple[list[str], dict[str, Any]]:
        cond = measure.condition
        assert cond is not None
        t, tt = f"{prefix}T", f"{prefix}TT"
        consts: dict[str, Any] = {t: cond.value}
        lines = read(cond.field, "v")
        if cond.op == "equals":
            consts[tt] = type(cond.value)
            lines.append(f"{target} = v.__class__ is {tt} and v == {t}")
        else:
            op = ">=" if cond.op == "gte" else "<"
            lines += ["c = v.__class__", f"{target} = (c is int or c is float) and v {op} {t}"]
        return lines, consts

    def reader(self, measure: Measure, tools: ReaderTools) -> Callable[[dict], Any]:
        cond = measure.condition
        assert cond is not None
        get = tools.field(cond.field)
        target = cond.value
        if cond.op == "equals":
            target_type = type(target)

            def equals(event: dict) -> bool:
                value = get(event)
                return type(value) is target_type and value == target
            return equals
        if cond.op == "gte":
            def gte(event: dict) -> bool:
                value = get(event)
                return type(value) in (int, float) and value >= target
            return gte

        def lt(event: dict) -> bool:
            value = get(event)
            return type(value) in (int, float) and value < target
        return lt

    def update_lines(self, measure: Measure, slot: str, value: str, prefix: str
                     ) -> tuple[list[str], dict[str, Any]]:
        return [f"if {value}:", f"    cell[{slot}] += 1"], {}

    def merge(self, measure: Measure) -> Callable[[Any, Any], Any]:
        return _add

    def central_check(self, measure: Measure) -> Callable[[Any, int], Any]:
        def check(value: Any, count: int) -> Any:
            if type(value) is not int or not 0 <= value <= count:
                raise MeasureRejected(INVALID_MEASURE)
            return value
        return check

    def exporter(self, measure: Measure, base: str, schema_name: str,
                 labelnames: tuple[str, ...], registry: Any) -> MeasureExport:
        return counter_exporter(measure, base, f"{schema_name} {measure.name} (events "
                                "matching the condition)", labelnames, registry)


class HistogramKind(MeasureKind):
    """``histogram``: the sum of a numeric field (clamped to ``[min, max]``) and,
    non-cumulatively, how many values fell at or below each ascending upper bound
    (``+Inf`` last); events without the field count in ``count`` only."""

    type = "histogram"
    role = ROLE_DISTRIBUTION
    has_unit = True

    def parse(self, ctx: _Ctx, name: str, spec: Located, line: int | None) -> Measure:
        what = f"measure '{name}'"
        ctx.keys(spec, what, ("type", "field", "buckets", "min", "max"), ("integer",))
        field, minimum, maximum, integer = parse_number_field(ctx, spec, what)
        raw = spec["buckets"]
        if not isinstance(raw, LocatedList) or not raw:
            raise ctx.error(f"{what} 'buckets' must be a non-empty list of numbers", spec,
                            "buckets", fix="e.g. buckets: [5, 10, 25, 50, 100]")
        for i, bound in enumerate(raw):
            if isinstance(bound, bool) or not isinstance(bound, int | float):
                raise ctx.error(f"{what} bucket bounds must be numbers", raw, i,
                                fix="e.g. buckets: [5, 10, 25]")
            if i and bound <= raw[i - 1]:
                raise ctx.error(f"{what} bucket bounds must be strictly ascending", raw, i,
                                fix="sort the bounds and remove duplicates")
        if len(raw) > MAX_BUCKETS:
            raise ctx.error(f"{what} has more than {MAX_BUCKETS} buckets", spec, "buckets",
                            fix=f"use at most {MAX_BUCKETS} bucket bounds")
        return Measure(name=name, type=self.type, field=field, minimum=minimum,
                       maximum=maximum, buckets=tuple(raw), integer=integer, line=line)

    def extract_lines(self, measure: Measure, target: str, prefix: str,
                      read: Read) -> tuple[list[str], dict[str, Any]]:
        return clamped_number_lines(measure, target, prefix, read)

    def reader(self, measure: Measure, tools: ReaderTools) -> Callable[[dict], Any]:
        return clamped_number_reader(measure, tools)

    def initial(self, measure: Measure) -> Any:
        return [0, [0] * (len(measure.buckets) + 1)]     # [sum, counts per bound + +Inf]

    def update_lines(self, measure: Measure, slot: str, value: str, prefix: str
                     ) -> tuple[list[str], dict[str, Any]]:
        bounds = f"{prefix}B"
        floats = _as_floats(measure.buckets)
        if floats is None:
            bucket = f"bisect_left({bounds}, {value})"
            consts = {bounds: measure.buckets}
        else:     # the same numbers as floats (see _as_floats): an int value compares with
            # them exactly as with the bounds as written, a float value a little faster
            bucket = f"bisect_left({bounds}F, {value})"
            consts = {f"{bounds}F": floats}
        return [f"if {value} is not None:",
                f"    h = cell[{slot}]",
                f"    h[0] += {value}",
                f"    h[1][{bucket}] += 1"], consts

    def merge(self, measure: Measure) -> Callable[[Any, Any], Any]:
        def merge(into: Any, other: Any) -> Any:
            into[0] += other[0]
            counts = into[1]
            for j, n in enumerate(other[1]):
                counts[j] += n
            return into
        return merge

    def format(self, measure: Measure) -> Callable[[Any], Any]:
        keys = tuple(bucket_key(b) for b in measure.buckets) + (INF,)

        def histogram(value: Any) -> Any:
            total, counts = value
            return {"sum": total, "buckets": dict(zip(keys, counts, strict=True))}
        return histogram

    def central_check(self, measure: Measure) -> Callable[[Any, int], Any]:
        keys = tuple(bucket_key(b) for b in measure.buckets) + (INF,)

        def check(value: Any, count: int) -> Any:
            if type(value) is not dict or value.keys() != {"sum", "buckets"}:
                raise MeasureRejected(INVALID_MEASURE)
            buckets = value["buckets"]
            if type(buckets) is not dict or len(buckets) != len(keys):
                raise MeasureRejected(INVALID_BUCKETS)
            total = 0
            ordered = []
            for key in keys:
                n = buckets.get(key)
                if type(n) is not int or n < 0:
                    raise MeasureRejected(INVALID_BUCKETS)
                total += n
                ordered.append(n)
            # Events without the field count in "count" but not in the histogram.
            if total > count:
                raise MeasureRejected(INVALID_BUCKETS)
            check_sum(value["sum"], measure, total)
            return {"sum": value["sum"], "buckets": dict(zip(keys, ordered, strict=True))}
        return check

    def series(self, base: str) -> tuple[str, ...]:
        return (f"{base}_bucket", f"{base}_sum", f"{base}_count")

    def exporter(self, measure: Measure, base: str, schema_name: str,
                 labelnames: tuple[str, ...], registry: Any) -> MeasureExport:
        from deidentify.metrics import MergedHistogram

        histogram = MergedHistogram(base, f"{schema_name} {measure.name} (merged histogram "
                                    "buckets)", labelnames, tuple(measure.buckets),
                                    registry=registry)

        def add(labels: tuple[str, ...], value: Any) -> None:
            if value is not None:
                histogram.add(labels, value["buckets"], value["sum"])
        return MeasureExport((histogram,), add)


for _kind in (SumKind(), HistogramKind(), CountIfKind()):
    register(_kind)

"""Privacy layer 6: the central collector re-validates every aggregate against the schemas.

The central side is the second line of defence, not a trusting sink. An aggregate is
accepted only when it is exactly what a correct regional sidecar running the same schemas
could have published; anything else is rejected with one reason from the closed set
:data:`CENTRAL_REJECT_REASONS` (a metric label), and its content is forgotten.

Checks, in order (first failure wins)::

    size <= max_bytes, UTF-8 JSON                 -> too_large | invalid_json
    a JSON object                                 -> not_an_object
    output guard over every string, keys too,
      and over every measure number of 12+ digits -> guard_hit (+ the Detector)
    exactly the keys schema, schema_version,
      region, window, dims, measures              -> missing_field | unknown_field
    schema name loaded                            -> unknown_schema
    schema_version == the loaded version          -> unknown_version
    region ^[a-z][a-z0-9-]{0,31}$                  -> invalid_region
    window {start, end}: ISO 8601 UTC "Z", aligned
      to the schema's size, end - start = size    -> invalid_window
    window inside the horizon: start at most
      max_future_ms ahead of now, end at most
      max_age_ms behind it                        -> window_out_of_horizon
    dims: every declared dimension present, none
      other, each value in its type's grammar     -> missing_dimension | undeclared_dimension
                                                     | invalid_dimension
    measures: "count" + every declared measure,
      none other; numbers (no bools), finite,
      count_if <= count                           -> missing_measure | undeclared_measure
                                                     | invalid_measure
    bounds: count <= window size in seconds x
      max_events_per_s; each sum within the
      schema's [min, max] times its count         -> out_of_bounds
    histogram buckets: exactly the schema's
      bounds + "+Inf", non-negative integers
      summing to at most count                    -> invalid_buckets
    count >= the schema's k                       -> below_k
    region == the region of the topic it came
      from (checked by the collector, which knows
      the topic: <central topic>.<region>)        -> region_mismatch

Dimension grammars (``__other__`` is valid for every type, it is the roll-up value):

==============  =====================================================================
``route``       :func:`deidentify.dimensions.route.is_valid_route` with the dimension's
                declared routes (route literals fail closed, as in the sidecar)
``host``        :func:`deidentify.dimensions.host.is_valid_host` (``{ip}`` included)
``enum``        one of the schema's closed vocabulary
``status``      an int 100..599 (never a bool)
``status_class`` ``1xx`` .. ``5xx`` or ``none``
``id``          ``^[A-Za-z0-9_-]{1,64}$``
``bool``        ``true`` / ``false``
==============  =====================================================================

Bounds (the second line does not trust the first): a correct sidecar clamps every value
to the schema's ``[min, max]``, so a sum lies within ``count * [min, max]``; and no cell of
a window counts more than ``max_events_per_s`` (default 1,000,000, several times what one
sidecar processes on the 2-core benchmark machine) per second of the window, so a count of
4242424242424241 is refused whatever it means (4242424242424242, a Luhn-valid card number,
is a guard hit before that). Windows are accepted from ``max_age_ms`` (default 7 days,
Kafka's default log retention: no replay of raw topics can produce an older window) behind
the wall clock to ``max_future_ms`` (default 1 hour: a sidecar publishes a window only once
its end plus grace has passed on its own clock, so this only absorbs clock skew) ahead.

Invariants

* :meth:`AggregateValidator.validate` never raises on any input and never returns, logs or
  stores a rejected value: a :class:`Rejected` carries only the reason and the detector.
* An :class:`Accepted` aggregate has dims in schema order and measures with exactly the
  schema's keys, so downstream code (state, metrics, dashboard) can index them blindly.
* Pure and deterministic given ``now_ms``: no I/O, no Kafka.

Cost: the regular expressions and the guard are compiled once per validator; a valid
aggregate costs one ``orjson.loads``, one guard check per string and a few dict lookups.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import orjson

from deidentify.contract import (
    COUNT,
    GUARD_ALLOW,
    OTHER,
    REGION_RE,
    STATUS_CLASS_NONE,
    TOP_LEVEL_KEYS,
    Detector,
    RefusalReason,
    parse_iso_utc,
)
from deidentify.dimensions.host import is_valid_host
from deidentify.dimensions.route import RouteVocabulary, is_valid_route
from deidentify.measures import MeasureRejected, kind_of
from deidentify.pipeline import scan_measure_numbers
from deidentify.privacy.guard import OutputGuard
from deidentify.schema import SchemaSet
from deidentify.schema.model import ID_PATTERN, Schema

__all__ = [
    "CENTRAL_REJECT_REASONS",
    "Accepted",
    "AggregateValidator",
    "Rejected",
    "RefusalReason",
    "ValidAggregate",
]

TOO_LARGE = RefusalReason.TOO_LARGE
INVALID_JSON = RefusalReason.INVALID_JSON
NOT_AN_OBJECT = RefusalReason.NOT_AN_OBJECT
GUARD_HIT = RefusalReason.GUARD_HIT
MISSING_FIELD = RefusalReason.MISSING_FIELD
UNKNOWN_FIELD = RefusalReason.UNKNOWN_FIELD
UNKNOWN_SCHEMA = RefusalReason.UNKNOWN_SCHEMA
UNKNOWN_VERSION = RefusalReason.UNKNOWN_VERSION
INVALID_REGION = RefusalReason.INVALID_REGION
INVALID_WINDOW = RefusalReason.INVALID_WINDOW
MISSING_DIMENSION = RefusalReason.MISSING_DIMENSION
UNDECLARED_DIMENSION = RefusalReason.UNDECLARED_DIMENSION
INVALID_DIMENSION = RefusalReason.INVALID_DIMENSION
MISSING_MEASURE = RefusalReason.MISSING_MEASURE
UNDECLARED_MEASURE = RefusalReason.UNDECLARED_MEASURE
INVALID_MEASURE = RefusalReason.INVALID_MEASURE
INVALID_BUCKETS = RefusalReason.INVALID_BUCKETS
BELOW_K = RefusalReason.BELOW_K
OUT_OF_BOUNDS = RefusalReason.OUT_OF_BOUNDS
WINDOW_OUT_OF_HORIZON = RefusalReason.WINDOW_OUT_OF_HORIZON
REGION_MISMATCH = RefusalReason.REGION_MISMATCH

CENTRAL_REJECT_REASONS: tuple[str, ...] = tuple(r.value for r in RefusalReason)
"""Every reason an aggregate can be rejected for: the ``reason`` label's closed set (plain
``str``: counters keyed by them stay JSON-ready dict keys)."""

ID_RE = re.compile(ID_PATTERN)
STATUS_CLASSES = frozenset({"1xx", "2xx", "3xx", "4xx", "5xx", STATUS_CLASS_NONE})
DEFAULT_MAX_BYTES = 64 * 1024
DEFAULT_MAX_FUTURE_MS = 3_600_000              # windows starting later than now + 1 h
DEFAULT_MAX_AGE_MS = 7 * 24 * 3_600_000        # windows ending before now - 7 days
DEFAULT_MAX_EVENTS_PER_S = 1_000_000           # per cell and second of its window


@dataclass(frozen=True, slots=True)
class ValidAggregate:
    """An aggregate that passed every check. ``dims`` follow the schema's dimension order."""

    schema: Schema
    region: str
    window_start_ms: int
    window_end_ms: int
    dims: tuple[Any, ...]
    measures: dict[str, Any]

    @property
    def cell_id(self) -> tuple:
        """What identifies the cell: the same tuple the sidecar's Kafka key encodes."""
        return (self.schema.name, self.schema.version, self.region, self.window_start_ms,
                self.dims)

    @property
    def count(self) -> int:
        return self.measures[COUNT]

    def dims_dict(self) -> dict[str, Any]:
        return dict(zip(self.schema.dimension_names, self.dims, strict=True))


@dataclass(frozen=True, slots=True)
class Accepted:
    aggregate: ValidAggregate


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why an aggregate was refused: a reason from the closed set, never its content."""

    reason: RefusalReason
    detector: Detector | None = None


class _Reject(Exception):
    """Internal control flow; never escapes :meth:`AggregateValidator.validate`."""

    def __init__(self, reason: RefusalReason) -> None:
        self.reason = reason


def _parse_iso_ms(value: Any) -> int:
    ms = parse_iso_utc(value)
    if ms is None:
        raise _Reject(INVALID_WINDOW)
    return ms


class _SchemaRules:
    """One schema compiled into what the validator checks: built once."""

    __slots__ = ("schema", "dim_checks", "dim_names", "measures", "size_ms", "max_count")

    def __init__(self, schema: Schema, max_events_per_s: int) -> None:
        self.schema = schema
        self.size_ms = schema.window.size_ms
        self.max_count = max(1, -(-schema.window.size_ms * max_events_per_s // 1000))
        self.dim_names = schema.dimension_names
        self.dim_checks = tuple(_dimension_check(d.type, d.values, d.declared_routes)
                                for d in schema.dimensions)
        # name -> the measure kind's check (deidentify.measures), built once
        self.measures = {m.name: kind_of(m).central_check(m) for m in schema.measures}


def _dimension_check(kind: str, values: tuple[str, ...] | None, routes: tuple[str, ...] = ()):
    if kind == "route":
        vocabulary = RouteVocabulary(routes)   # the same literal rules as the sidecar
        return lambda v: type(v) is str and is_valid_route(v, vocabulary)
    if kind == "host":
        return lambda v: type(v) is str and is_valid_host(v)
    if kind == "enum":
        allowed = frozenset(values or ()) | {OTHER}
        return lambda v: type(v) is str and v in allowed
    if kind == "status":
        return lambda v: (type(v) is int and 100 <= v <= 599) or v == OTHER
    if kind == "status_class":
        allowed_classes = STATUS_CLASSES | {OTHER}
        return lambda v: type(v) is str and v in allowed_classes
    if kind == "id":
        match = ID_RE.match
        return lambda v: type(v) is str and (v == OTHER or match(v) is not None)
    if kind == "bool":
        return lambda v: type(v) is bool or v == OTHER
    # A dimension type this collector does not know: nothing can satisfy it (fail closed).
    return lambda v: False


class AggregateValidator:
    """Re-validates raw aggregate bytes against a schema set. Build once; call per message.

    ``now_ms`` (a callable returning epoch milliseconds) is injectable for deterministic
    tests; windows starting more than ``max_future_ms`` after it (a forged far-future window
    would push real windows out of the collector's bounded state) or ending more than
    ``max_age_ms`` before it (a window dated 1970) are refused. ``max_events_per_s`` bounds
    a cell's count by its window's length (see the module docstring).
    """

    def __init__(self, schemas: SchemaSet, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_future_ms: int = DEFAULT_MAX_FUTURE_MS,
                 max_age_ms: int = DEFAULT_MAX_AGE_MS,
                 max_events_per_s: int = DEFAULT_MAX_EVENTS_PER_S, now_ms=None) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes cannot be smaller than 1")
        if max_future_ms < 0:
            raise ValueError("max_future_ms cannot be smaller than 0ms")
        if max_age_ms < 0:
            raise ValueError("max_age_ms cannot be smaller than 0ms")
        if max_events_per_s < 1:
            raise ValueError("max_events_per_s cannot be smaller than 1")
        self.max_bytes = max_bytes
        self.max_future_ms = max_future_ms
        self.max_age_ms = max_age_ms
        self.max_events_per_s = max_events_per_s
        self._now_ms = now_ms or (lambda: int(time.time() * 1000))
        self._guard = OutputGuard(allow=GUARD_ALLOW)
        self._rules = {s.name: _SchemaRules(s, max_events_per_s) for s in schemas.schemas}

    @property
    def schema_names(self) -> tuple[str, ...]:
        return tuple(self._rules)

    def swap_schemas(self, schemas: SchemaSet) -> None:
        self._rules = {s.name: _SchemaRules(s, self.max_events_per_s) for s in schemas.schemas}

    # ----------------------------------------------------------------------- entry point

    def validate(self, value: bytes | None) -> Accepted | Rejected:
        """Never raises; never keeps or reports any part of a rejected value."""
        if value is None:
            return Rejected(INVALID_JSON)
        if len(value) > self.max_bytes:
            return Rejected(TOO_LARGE)
        try:
            obj = orjson.loads(value)
        except orjson.JSONDecodeError:
            return Rejected(INVALID_JSON)
        return self.validate_object(obj)

    def validate_object(self, obj: Any) -> Accepted | Rejected:
        if type(obj) is not dict:
            return Rejected(NOT_AN_OBJECT)
        detector = self._scan(obj)
        if detector is not None:
            return Rejected(GUARD_HIT, detector)
        try:
            return Accepted(self._check(obj))
        except _Reject as rej:
            return Rejected(rej.reason)
        except Exception:
            return Rejected(INVALID_MEASURE)

    # ----------------------------------------------------------------------- checks

    def _scan(self, obj: dict) -> Detector | None:
        """The output guard over every string of the aggregate (keys included).

        Dims go through :meth:`OutputGuard.scan` whole (it also reads long integers as
        digits: a card number smuggled in as a number). Measure numbers (counts, sums,
        bucket counts, ints or floats) of 12+ digits are checked as their integral decimal
        digits: a count of 4242424242424242 is a card number before it is a count.
        """
        check = self._guard.check
        stack: list[Any] = [obj]
        while stack:
            item = stack.pop()
            if type(item) is str:
                hit = check(item)
                if hit is not None:
                    return hit
            elif type(item) is dict:
                for key, val in item.items():
                    if type(key) is str:
                        hit = check(key)
                        if hit is not None:
                            return hit
                    stack.append(val)
            elif type(item) is list:
                stack.extend(item)
        dims = obj.get("dims")
        if dims is not None:
            hit = self._guard.scan(dims)
            if hit is not None:
                return hit
        return scan_measure_numbers(self._guard, obj.get("measures"))

    def _check(self, obj: dict) -> ValidAggregate:
        keys = obj.keys()
        if not TOP_LEVEL_KEYS <= keys:
            raise _Reject(MISSING_FIELD)
        if len(keys) != len(TOP_LEVEL_KEYS):
            raise _Reject(UNKNOWN_FIELD)
        name = obj["schema"]
        rules = self._rules.get(name) if type(name) is str else None
        if rules is None:
            raise _Reject(UNKNOWN_SCHEMA)
        schema = rules.schema
        version = obj["schema_version"]
        if type(version) is not int or version != schema.version:
            raise _Reject(UNKNOWN_VERSION)
        region = obj["region"]
        if type(region) is not str or not REGION_RE.match(region):
            raise _Reject(INVALID_REGION)
        start_ms, end_ms = self._check_window(obj["window"], rules.size_ms)
        now = self._now_ms()
        if start_ms > now + self.max_future_ms or end_ms < now - self.max_age_ms:
            raise _Reject(WINDOW_OUT_OF_HORIZON)
        dims = self._check_dims(obj["dims"], rules)
        measures = self._check_measures(obj["measures"], rules)
        if measures[COUNT] < schema.privacy.k:
            raise _Reject(BELOW_K)
        return ValidAggregate(schema, region, start_ms, end_ms, dims, measures)

    def _check_window(self, window: Any, size_ms: int) -> tuple[int, int]:
        if type(window) is not dict or window.keys() != {"start", "end"}:
            raise _Reject(INVALID_WINDOW)
        start_ms = _parse_iso_ms(window["start"])
        end_ms = _parse_iso_ms(window["end"])
        if end_ms - start_ms != size_ms or start_ms % size_ms != 0:
            raise _Reject(INVALID_WINDOW)
        return start_ms, end_ms

    def _check_dims(self, dims: Any, rules: _SchemaRules) -> tuple:
        if type(dims) is not dict:
            raise _Reject(MISSING_DIMENSION)
        for key in dims:
            if key not in rules.dim_names:
                raise _Reject(UNDECLARED_DIMENSION)
        values = []
        for dim_name, check in zip(rules.dim_names, rules.dim_checks, strict=True):
            if dim_name not in dims:
                raise _Reject(MISSING_DIMENSION)
            value = dims[dim_name]
            if not check(value):
                raise _Reject(INVALID_DIMENSION)
            values.append(value)
        return tuple(values)

    def _check_measures(self, measures: Any, rules: _SchemaRules) -> dict[str, Any]:
        if type(measures) is not dict or COUNT not in measures:
            raise _Reject(MISSING_MEASURE)
        for key in measures:
            if key != COUNT and key not in rules.measures:
                raise _Reject(UNDECLARED_MEASURE)
        count = measures[COUNT]
        if type(count) is not int or count < 1:
            raise _Reject(INVALID_MEASURE)
        if count > rules.max_count:
            raise _Reject(OUT_OF_BOUNDS)
        out: dict[str, Any] = {COUNT: count}
        for name, check in rules.measures.items():
            if name not in measures:
                raise _Reject(MISSING_MEASURE)
            try:
                out[name] = check(measures[name], count)
            except MeasureRejected as rej:
                raise _Reject(rej.reason) from None
        return out

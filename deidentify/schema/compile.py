"""Compile a :class:`Schema` once into plain closures and tuples.

The per-event path never looks at the schema again: it calls ``CompiledSchema.extract``,
which runs a fixed tuple of prepared closures (field getters, dimension transforms, measure
readers, subject reader) and returns either an :class:`Extracted` tuple or the rejecting
:class:`~deidentify.contract.DropReason` member (test it with ``type(x) is DropReason``).

Invariants

* A dimension value is always produced by a typed transform (``route``, ``host``, ``enum``,
  ``status``, ``status_class``, ``id``, ``bool``); there is no path by which a raw string is
  copied into a dimension.
* A field of the wrong type, an id that does not match its pattern or an unparsable
  timestamp rejects the whole event with a reason from :data:`REJECT_REASONS`; the reason
  never carries the value.
* Strings longer than :data:`MAX_FIELD_CHARS` are rejected before any transform sees them, so
  caches and regexes only ever see bounded input.

Memory: per schema, the host cache and per route dimension a templater with its caches and
declared-route vocabulary (bounded, see ``deidentify.dimensions``), and constant-size
closures; shared by all schemas, the event-time memos of :func:`parse_ts_ms` (bounded, at
most about 7 MiB).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from deidentify import measures as measure_kinds  # a module: it imports schema.model
from deidentify.contract import DropReason
from deidentify.dimensions.host import HostExtractor
from deidentify.dimensions.route import RouteTemplate, RouteVocabulary
from deidentify.schema.codegen import build_extract
from deidentify.schema.model import ID_PATTERN, OTHER, Dimension, Measure, Schema

MAX_FIELD_CHARS = 8192

# Closed set of reasons an event can be rejected for (metric label values; see contract).
INVALID_JSON = DropReason.INVALID_JSON
NOT_AN_OBJECT = DropReason.NOT_AN_OBJECT
TOO_LARGE = DropReason.TOO_LARGE
UNKNOWN_TYPE = DropReason.UNKNOWN_TYPE
INVALID_FIELD = DropReason.INVALID_FIELD
REJECTED_ID = DropReason.REJECTED_ID
INVALID_TIMESTAMP = DropReason.INVALID_TIMESTAMP
FUTURE_TIMESTAMP = DropReason.FUTURE_TIMESTAMP   # checked by the pipeline against its wall clock
REJECT_REASONS = (INVALID_JSON, NOT_AN_OBJECT, TOO_LARGE, UNKNOWN_TYPE, INVALID_FIELD,
                  REJECTED_ID, INVALID_TIMESTAMP, FUTURE_TIMESTAMP)

_ID_RE = re.compile(ID_PATTERN)
_MISSING = object()
MISSING = _MISSING      # what a field reader returns for an absent field (shared with codegen)


class Rejected(Exception):
    """Internal control signal inside extraction; never escapes :meth:`CompiledSchema.extract`."""

    __slots__ = ("reason",)

    def __init__(self, reason: DropReason) -> None:
        self.reason = reason


class Extracted(NamedTuple):
    ts_ms: int
    dims: tuple            # dimension values in schema order
    values: tuple          # one entry per measure (None when the field was absent)
    subject: Any           # the subject value (str/int) or None; hashed by the window


# --------------------------------------------------------------------------- field access


def field_getter(path: str) -> Callable[[dict], Any]:
    """A closure reading a dotted path from a dict; returns _MISSING when absent."""
    parts = tuple(path.split("."))
    if len(parts) == 1:
        key = parts[0]

        def get1(event: dict) -> Any:
            return event.get(key, _MISSING)
        return get1

    def get_path(event: dict) -> Any:
        node: Any = event
        for part in parts:
            if type(node) is not dict:
                return _MISSING
            node = node.get(part, _MISSING)
            if node is _MISSING:
                return _MISSING
        return node
    return get_path


# Event time from RFC 3339 strings: ``datetime.fromisoformat`` defines the accepted set and
# every value. The common shape, ``YYYY-MM-DDTHH:MM:SS``, an optional fraction of 1-3 digits,
# then ``Z`` or ``+HH:MM``/``-HH:MM`` (upper-case T and Z, ASCII digits, fields in range), is
# answered from two memos instead, with the same result bit for bit: an aware
# ``datetime.timestamp()`` is the exact count of microseconds since the epoch divided by
# 10**6 (``timedelta.total_seconds``: int / int, correctly rounded), and the memos hold
# exact microsecond counts that are divided the same way (tests/schema/test_timestamps.py).
#
# * TS_SECOND_US: ``"2026-11-20T10:00:01"`` -> microseconds from the epoch to that second
#   read as UTC; an entry is made once the key has passed a strict pattern and ``datetime``.
# * TS_TAIL_US: the rest (``".123+01:00"``) -> microseconds to add (fraction minus offset);
#   an entry is made once the tail has passed a strict pattern (offset hours 00-23,
#   minutes 00-59).
#
# A fraction of 4-6 digits (``isoformat()`` with microseconds) would make up to a million
# distinct tails, so its tail is cut in two at the millisecond, each half its own memo:
#
# * TS_MS_US: ``".123"`` (the dot and the first three digits) -> microseconds (123000);
# * TS_SUB_US: the rest, 1-3 more digits then the zone (``"456+01:00"``, ``"4Z"``) ->
#   microseconds to add (the digits padded to three, minus the offset).
#
# and such a string is answered from three memos (second, milliseconds, rest).
#
# Anything else (other lengths, lower-case t/z, a space, 7+ fraction digits, ``+0100``,
# ``+00:60``, second 60, non-ASCII digits...) misses and takes the ``fromisoformat`` path.
# Memory: the memos hold at most TS_SECONDS_MAX, TS_TAILS_MAX, 1000 and TS_SUBS_MAX entries
# (each cleared when full; keys of at most 19, 10, 4 and 9 characters; about 2.5, 5, 0.1 and
# 5 MiB worst case). In this process only; keys are never logged.
TS_SECONDS_MAX = 16384
TS_TAILS_MAX = 32768      # 1111 fractions x up to 29 offsets
TS_SUBS_MAX = 32768       # 1110 sub-millisecond digit strings x up to 29 offsets
TS_SECOND_US: dict[str, int] = {}
TS_TAIL_US: dict[str, int] = {}
TS_MS_US: dict[str, int] = {}
TS_SUB_US: dict[str, int] = {}
_TS_SECOND_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")
_ZONE = r"(?:Z|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))"
_TS_TAIL_RE = re.compile(r"(?:\.([0-9]{1,3}))?" + _ZONE)
_TS_MS_RE = re.compile(r"\.[0-9]{3}")
_TS_SUB_RE = re.compile(r"([0-9]{1,3})" + _ZONE)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_ONE_US = timedelta(microseconds=1)


def parse_ts_ms(value: Any) -> int:
    """Event time in epoch milliseconds from an RFC 3339 string or an epoch-ms number."""
    tv = type(value)
    if tv is int:
        if 0 < value < 10_000_000_000_000:
            return value
        raise Rejected(INVALID_TIMESTAMP)
    if tv is str:
        tail_us = TS_TAIL_US.get(value[19:])
        if tail_us is not None:
            second_us = TS_SECOND_US.get(value[:19])
            if second_us is not None:
                return int((second_us + tail_us) / 1_000_000 * 1000)
        # A miss. Learn the parts when it can have a memo shape (with at most 3 fraction
        # digits, Z forms have at most 24 characters and offset forms 25-29; longer ones
        # may have 4-6), else fromisoformat, which defines what is valid.
        n = len(value)
        if n < 25 or (n < 30 and value[-1] != "Z"):
            epoch_us = _learn_ts_us(value)
        else:
            epoch_us = _learn_us_fraction(value)
        if epoch_us is not None:
            return int(epoch_us / 1_000_000 * 1000)
        if 10 <= n <= 40:
            try:
                dt = datetime.fromisoformat(value)
            except ValueError:
                raise Rejected(INVALID_TIMESTAMP) from None
            if dt.tzinfo is None or "T" not in value.upper():
                raise Rejected(INVALID_TIMESTAMP)  # RFC 3339 needs a time and an offset
            return int(dt.timestamp() * 1000)
        raise Rejected(INVALID_TIMESTAMP)
    if tv is float:
        if 0 < value < 1e13 and value == value:
            return int(value)
        raise Rejected(INVALID_TIMESTAMP)
    raise Rejected(INVALID_TIMESTAMP)


def _learn_ts_us(value: str) -> int | None:
    """Exact epoch microseconds of ``value`` when its second and tail have the memo shape
    (both then remembered), else None."""
    second_us = _second_us(value[:19])
    if second_us is None:
        return None
    tail_us = _learn_tail(value[19:])
    if tail_us is None:
        return None
    return second_us + tail_us


def _learn_us_fraction(value: str) -> int | None:
    """Exact epoch microseconds of ``value`` when it is a second, a fraction of 4-6 digits
    and a zone (the second, its first three digits and the rest then remembered), else
    None."""
    ms_us = TS_MS_US.get(value[19:23])
    if ms_us is None:
        ms = value[19:23]
        if _TS_MS_RE.fullmatch(ms) is None:
            return None
        ms_us = int(ms[1:]) * 1000
        TS_MS_US[ms] = ms_us          # at most 1000 keys: ".000" to ".999"
    sub_us = TS_SUB_US.get(value[23:])
    if sub_us is None:
        sub_us = _learn_sub(value[23:])
        if sub_us is None:
            return None
    second_us = _second_us(value[:19])
    if second_us is None:
        return None
    return second_us + ms_us + sub_us


def _learn_sub(sub: str) -> int | None:
    """Microseconds to add for ``sub`` (1-3 digits after the millisecond, then ``Z`` or an
    offset), remembered; None (nothing remembered) unless it is exactly that shape."""
    return _learn_zoned(sub, _TS_SUB_RE, 3, TS_SUB_US, TS_SUBS_MAX)


def _second_us(second: str) -> int | None:
    """``second`` (``YYYY-MM-DDTHH:MM:SS``) in microseconds from the epoch, from the memo or
    learnt; None unless it is that shape with fields in range."""
    second_us = TS_SECOND_US.get(second)
    return _learn_second(second) if second_us is None else second_us


def _learn_second(second: str) -> int | None:
    """Microseconds from the epoch to ``YYYY-MM-DDTHH:MM:SS`` read as UTC, remembered; None
    (nothing remembered) unless ``second`` is exactly that shape with fields in range."""
    if _TS_SECOND_RE.fullmatch(second) is None:
        return None
    try:      # rejects year 0, month 13, Feb 30, hour 24, second 60...
        at = datetime(int(second[0:4]), int(second[5:7]), int(second[8:10]),
                      int(second[11:13]), int(second[14:16]), int(second[17:19]))
    except ValueError:
        return None
    second_us = (at - _EPOCH_NAIVE) // _ONE_US
    if len(TS_SECOND_US) >= TS_SECONDS_MAX:
        TS_SECOND_US.clear()
    TS_SECOND_US[second] = second_us
    return second_us


def _learn_tail(tail: str) -> int | None:
    """Microseconds to add for ``tail`` (a fraction of at most 3 digits, then ``Z`` or an
    offset), remembered; None (nothing remembered) unless it is exactly that shape."""
    return _learn_zoned(tail, _TS_TAIL_RE, 6, TS_TAIL_US, TS_TAILS_MAX)


def _learn_zoned(key: str, pattern: re.Pattern[str], width: int, memo: dict[str, int],
                 cap: int) -> int | None:
    """``key``'s digits (if any) padded to ``width`` (microseconds), minus its zone's
    offset, remembered in ``memo`` (cleared when it holds ``cap``); None (nothing
    remembered) unless ``pattern`` (digits, then ``Z`` or ``[+-]HH:MM``) matches it all."""
    match = pattern.fullmatch(key)
    if match is None:
        return None
    digits, sign, hours, minutes = match.groups()
    us = int(digits.ljust(width, "0")) if digits else 0
    if sign is not None:
        offset_us = (int(hours) * 60 + int(minutes)) * 60_000_000
        us += -offset_us if sign == "+" else offset_us
    if len(memo) >= cap:
        memo.clear()
    memo[key] = us
    return us


# --------------------------------------------------------------------------- dimensions


def _bounded_str(value: Any) -> str:
    if type(value) is not str or len(value) > MAX_FIELD_CHARS:
        raise Rejected(INVALID_FIELD)
    return value


def compile_dimension(dim: Dimension, route_template: RouteTemplate | None,
                      host_extractor: HostExtractor) -> Callable[[dict], Any]:
    get = field_getter(dim.field)
    kind = dim.type

    if kind == "route":
        if route_template is None:  # pragma: no cover - CompiledSchema passes one per route
            route_template = RouteTemplate(vocabulary=RouteVocabulary(dim.declared_routes))
        get_url = field_getter(dim.url_field) if dim.url_field else None

        def route(event: dict) -> str:
            raw_route = get(event)
            if raw_route is _MISSING or raw_route is None:
                raw_route = None
            else:
                raw_route = _bounded_str(raw_route)
            url = None
            if get_url is not None:
                url = get_url(event)
                url = None if url is _MISSING or url is None else _bounded_str(url)
            if raw_route is None and url is None:
                raise Rejected(INVALID_FIELD)
            return route_template(raw_route, url)
        return route

    if kind == "host":
        def host(event: dict) -> str:
            return host_extractor(_bounded_str(get(event)))
        return host

    if kind == "enum":
        allowed = frozenset(dim.values or ())

        def enum(event: dict) -> str:
            value = get(event)
            if type(value) is not str:
                if value is _MISSING or value is None:
                    return OTHER
                raise Rejected(INVALID_FIELD)
            return value if value in allowed else OTHER
        return enum

    if kind == "status":
        def status(event: dict) -> int:
            value = get(event)
            if type(value) is not int or not 100 <= value <= 599:
                raise Rejected(INVALID_FIELD)
            return value
        return status

    if kind == "status_class":
        classes = {n: f"{n}xx" for n in range(1, 6)}

        def status_class(event: dict) -> str:
            value = get(event)
            if value is None:
                return "none"
            if type(value) is not int or not 100 <= value <= 599:
                raise Rejected(INVALID_FIELD)
            return classes[value // 100]
        return status_class

    if kind == "id":
        match = _ID_RE.match

        def ident(event: dict) -> str:
            value = get(event)
            if type(value) is not str or match(value) is None:
                raise Rejected(REJECTED_ID)
            return value
        return ident

    if kind == "bool":
        def boolean(event: dict) -> bool:
            value = get(event)
            if type(value) is not bool:
                raise Rejected(INVALID_FIELD)
            return value
        return boolean

    raise AssertionError(f"unknown dimension type {kind}")  # parse_schema refuses these


# --------------------------------------------------------------------------- measures


def compile_measure_reader(measure: Measure) -> Callable[[dict], Any]:
    """A closure returning the measure's per-event input (its kind's reference reader)."""
    tools = measure_kinds.ReaderTools(field=field_getter, missing=_MISSING, rejected=Rejected,
                                      invalid_field=INVALID_FIELD)
    return measure_kinds.kind_of(measure).reader(measure, tools)


def schema_paths(schema: Schema) -> tuple[str, ...]:
    """Every field path the extraction of ``schema`` reads (the allowlist decoder's fields)."""
    paths = ["tenant_id", "ts"]
    for dim in schema.dimensions:
        paths.append(dim.field)
        if dim.url_field:
            paths.append(dim.url_field)
    for measure in schema.measures:
        if measure.condition is not None:
            paths.append(measure.condition.field)
        elif measure.field:
            paths.append(measure.field)
    paths.extend(schema.privacy.subjects)
    return tuple(dict.fromkeys(paths))


def compile_subject(paths: tuple[str, ...]) -> Callable[[dict], Any]:
    getters = tuple(field_getter(p) for p in paths)

    def subject(event: dict) -> Any:
        for get in getters:
            value = get(event)
            tv = type(value)
            if (tv is str and value) or tv is int:
                return value
        return None
    return subject


# --------------------------------------------------------------------------- schema


def _route_template(dim: Dimension) -> RouteTemplate | None:
    if dim.type != "route":
        return None
    return RouteTemplate(vocabulary=RouteVocabulary(dim.declared_routes))


class CompiledSchema:
    """A schema prepared for the hot path. Build once; call :meth:`extract` per event."""

    __slots__ = ("schema", "name", "version", "size_ms", "grace_ms", "dimension_names",
                 "measures", "extract", "extract_reference", "dimension_transforms")

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.name = schema.name
        self.version = schema.version
        self.size_ms = schema.window.size_ms
        self.grace_ms = schema.window.grace_ms
        self.dimension_names = schema.dimension_names
        self.measures = schema.measures
        host_extractor = HostExtractor()
        # One templater per route dimension: its literals are the shipped route words plus
        # the templates that dimension declares (routes / openapi).
        templates = tuple(_route_template(d) for d in schema.dimensions)
        dim_fns = tuple(compile_dimension(d, t, host_extractor)
                        for d, t in zip(schema.dimensions, templates, strict=True))
        # The route templater / host extractor of each dimension (None for the others): the
        # generated extractors call these very objects.
        self.dimension_transforms = tuple(
            t if d.type == "route" else host_extractor if d.type == "host" else None
            for d, t in zip(schema.dimensions, templates, strict=True))
        measure_fns = tuple(compile_measure_reader(m) for m in schema.measures)
        subject_fn = compile_subject(schema.privacy.subjects)
        tenant_get = field_getter("tenant_id")
        id_match = _ID_RE.match

        def extract_reference(event: dict) -> Extracted | DropReason:
            """Extract one decoded event; returns Extracted or the DropReason rejecting it."""
            try:
                tenant = tenant_get(event)
                if type(tenant) is not str or id_match(tenant) is None:
                    return REJECTED_ID
                ts_ms = parse_ts_ms(event.get("ts"))
                dims = tuple([fn(event) for fn in dim_fns])
                values = tuple([fn(event) for fn in measure_fns])
                return Extracted(ts_ms, dims, values, subject_fn(event))
            except Rejected as rej:
                return rej.reason
        # The hot path runs the generated straight-line version of the same extraction
        # (deidentify.schema.codegen); the closure version above is its executable reference.
        self.extract_reference = extract_reference
        self.extract = build_extract(schema, self.dimension_transforms, EXTRACT_RUNTIME)


# The shared names the generated extractors use (deidentify.schema.codegen).
EXTRACT_RUNTIME: dict[str, Any] = {
    "MISSING": _MISSING, "Rejected": Rejected, "Extracted": Extracted,
    "parse_ts_ms": parse_ts_ms, "TS_SECOND_US": TS_SECOND_US, "TS_TAIL_US": TS_TAIL_US,
    "TS_MS_US": TS_MS_US, "TS_SUB_US": TS_SUB_US,
    "id_match": _ID_RE.match, "REJECTED_ID": REJECTED_ID,
    "INVALID_FIELD": INVALID_FIELD, "MAX_FIELD_CHARS": MAX_FIELD_CHARS}

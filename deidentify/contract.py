"""The aggregate wire contract, defined once: what a sidecar publishes and central accepts.

Every producer and reader of aggregates uses this module and no copy of its parts: the
pipeline (sidecar and ``deidentify preview``) builds :class:`Aggregate` values with it, the
central collector parses and re-validates them with it, and the metrics name their label
values from its enums.

One JSON object per published cell (UTF-8, written with orjson)::

    {"schema": "http_requests", "schema_version": 3, "region": "eu",
     "window": {"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T10:01:00Z"},
     "dims": {"method": "GET", "route": "/v1/orders/{id}", "status": 200},
     "measures": {"count": 812, "latency_ms": {"sum": 10234.5,
                                                "buckets": {"5": 120, "10": 300, "+Inf": 9}}}}

* Top-level keys: exactly :data:`TOP_LEVEL_KEYS`. ``measures.count`` (events in the cell) is
  always present.
* ``region``: the grammar :data:`REGION_RE` (``eu``, ``us-east``).
* Dates (:func:`iso_utc`, read back by :func:`parse_iso_utc`): ISO 8601 UTC with a ``Z``,
  whole seconds (``2026-11-20T10:00:00Z``); central also accepts up to three fraction digits.
* Histogram bucket keys (:func:`bucket_key`): an integral bound as an int (``5``), any other
  as Python's shortest float repr (``2.5``), the last bucket :data:`INF` (``+Inf``); bucket
  counts are per bucket, not cumulative.
* Dimension values only ever come from a typed transform. Placeholders a transform may
  publish are :data:`OTHER` (``__other__``, the roll-up value, valid for every dimension
  type), :data:`IP_PLACEHOLDER` (``{ip}``, host of an IP literal) and ``none``
  (``status_class`` of an event without a status); the output guard exempts exactly
  :data:`GUARD_ALLOW`, and only as whole values.
* Kafka key (:func:`kafka_key`): the JSON array ``[schema, schema_version, region, window
  start, [dimension values in schema order]]``; it identifies the cell, so central
  recognises a redelivered copy.

Closed sets of names (``enum.StrEnum``: a member *is* its string, so metric labels, JSON and
dict keys are byte-identical to the documented strings):

* :class:`DropReason`: why the pipeline dropped events (``reason`` label of
  ``deid_events_dropped_total``).
* :class:`RollupReason`: why events were rolled into an ``__other__`` cell (``reason`` label
  of ``deid_events_rolled_up_total``).
* :class:`RefusalReason`: why central refused an aggregate (``reason`` label of
  ``deid_central_aggregates_rejected_total``).
* :class:`Detector`: which output-guard detector hit (``detector`` label).

Cost: :class:`Aggregate` is a NamedTuple (two fields, built once per published cell); the
JSON value is serialized only when written (:meth:`Aggregate.to_json`). Nothing here is on
the per-event path except the identity of :class:`DropReason` members.

This module imports only the standard library, orjson and :mod:`deidentify.errors`: it is
the bottom of the core and everything may import it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

__all__ = [
    "COUNT",
    "GUARD_ALLOW",
    "INF",
    "IP_PLACEHOLDER",
    "OTHER",
    "REGION_PATTERN",
    "REGION_RE",
    "STATUS_CLASS_NONE",
    "TOP_LEVEL_KEYS",
    "Aggregate",
    "Detector",
    "DropReason",
    "RefusalReason",
    "RollupReason",
    "aggregate",
    "bucket_key",
    "bucket_keys",
    "iso_utc",
    "kafka_key",
    "parse_iso_utc",
]

OTHER = "__other__"
"""The roll-up value: caps, vocabularies and the k threshold map what they cannot publish here."""
IP_PLACEHOLDER = "{ip}"
"""The ``host`` dimension of an IPv4/IPv6 literal."""
STATUS_CLASS_NONE = "none"
"""The ``status_class`` dimension of an event without a status."""
GUARD_ALLOW = (OTHER, IP_PLACEHOLDER, STATUS_CLASS_NONE)
"""Placeholders the transforms publish: the output guard and central never flag them."""

REGION_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"
REGION_RE = re.compile(REGION_PATTERN)

TOP_LEVEL_KEYS = frozenset({"schema", "schema_version", "region", "window", "dims", "measures"})
COUNT = "count"
INF = "+Inf"
_ISO_UTC_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?Z$")


class DropReason(enum.StrEnum):
    """Why the pipeline dropped events: the closed set of the ``reason`` label."""

    INVALID_JSON = "invalid_json"            # not UTF-8 JSON (or an empty record)
    NOT_AN_OBJECT = "not_an_object"          # JSON, but not an object
    TOO_LARGE = "too_large"                  # over the event size limit
    UNKNOWN_TYPE = "unknown_type"            # no schema for its "type"
    INVALID_FIELD = "invalid_field"          # a named field of the wrong type or too long
    REJECTED_ID = "rejected_id"              # an id field outside ^[A-Za-z0-9_-]{1,64}$
    INVALID_TIMESTAMP = "invalid_timestamp"  # ts unparsable
    FUTURE_TIMESTAMP = "future_timestamp"    # ts too far ahead of the wall clock
    LATE = "late"                            # its window had already closed
    BELOW_K = "below_k"                      # in a cell (and roll-up) under k subjects
    GUARD_HIT = "guard_hit"                  # in a cell the output guard stopped


class RollupReason(enum.StrEnum):
    """Why events were rolled into an ``__other__`` cell (still published if it reaches k)."""

    OVER_CAP = "over_cap"                    # a cardinality cap or max_cells was reached
    BELOW_K = "below_k"                      # their own cell had fewer than k subjects


class RefusalReason(enum.StrEnum):
    """Why central refused an aggregate: the closed set of its ``reason`` label."""

    TOO_LARGE = "too_large"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    GUARD_HIT = "guard_hit"
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    UNKNOWN_SCHEMA = "unknown_schema"
    UNKNOWN_VERSION = "unknown_version"
    INVALID_REGION = "invalid_region"
    INVALID_WINDOW = "invalid_window"
    MISSING_DIMENSION = "missing_dimension"
    UNDECLARED_DIMENSION = "undeclared_dimension"
    INVALID_DIMENSION = "invalid_dimension"
    MISSING_MEASURE = "missing_measure"
    UNDECLARED_MEASURE = "undeclared_measure"
    INVALID_MEASURE = "invalid_measure"
    INVALID_BUCKETS = "invalid_buckets"
    BELOW_K = "below_k"
    OUT_OF_BOUNDS = "out_of_bounds"
    WINDOW_OUT_OF_HORIZON = "window_out_of_horizon"
    REGION_MISMATCH = "region_mismatch"


class Detector(enum.StrEnum):
    """Closed set of output-guard detectors; values are the stable metric-label strings."""

    EMAIL = "email"
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    CARD = "card_number"
    IBAN = "iban"
    JWT = "jwt"
    TOKEN = "high_entropy_token"
    PHONE = "phone"
    PERSON_NAME = "person_name"


def iso_utc(ms: int) -> str:
    """Epoch milliseconds as the contract's date: ``2026-11-20T10:00:00Z`` (whole seconds)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso_utc(value: Any) -> int | None:
    """A contract date (optionally with 1-3 fraction digits) as epoch ms; None if it is not one."""
    if type(value) is not str:
        return None
    m = _ISO_UTC_RE.match(value)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac = m.groups()
    try:
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                      tzinfo=UTC)
    except ValueError:
        return None
    return int(dt.timestamp()) * 1000 + int((frac or "0").ljust(3, "0"))


def bucket_key(bound: float) -> str:
    """A histogram bound as the contract spells it: ``5``, ``2.5`` (``+Inf`` is :data:`INF`)."""
    return str(int(bound)) if float(bound).is_integer() else repr(float(bound))


def bucket_keys(bounds: Iterable[float]) -> tuple[str, ...]:
    """The bucket keys of a histogram with these bounds, ``+Inf`` last."""
    return tuple(bucket_key(b) for b in bounds) + (INF,)


class Aggregate(NamedTuple):
    """One published cell: its Kafka key and the JSON object of the contract."""

    key: bytes
    value: dict

    def to_json(self) -> bytes:
        return orjson.dumps(self.value)


def kafka_key(schema: str, version: int, region: str, window_start: str,
              dims: Iterable[Any]) -> bytes:
    """The Kafka key of a cell: ``[schema, version, region, window start, [dims]]``."""
    return orjson.dumps([schema, version, region, window_start, list(dims)])


def aggregate(schema: str, version: int, region: str, window: dict[str, str], dims: dict,
              measures: dict) -> Aggregate:
    """Build the :class:`Aggregate` of one cell. ``window`` is ``{"start": iso, "end": iso}``
    (shared by the cells of a window); ``dims`` maps dimension names to values in schema
    order (the key lists the values in that order)."""
    value = {"schema": schema, "schema_version": version, "region": region,
             "window": window, "dims": dims, "measures": measures}
    return Aggregate(kafka_key(schema, version, region, window["start"], dims.values()), value)

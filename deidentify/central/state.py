"""Merged central state: validated aggregates per region, schema, window and cell.

:class:`CentralState` is pure (no Kafka, no I/O, no clock) and is fed only
:class:`~deidentify.central.validate.ValidAggregate` values.

Invariants

* Idempotent: a cell is identified by ``(schema, version, region, window start, dims)`` -
  exactly what the sidecar's Kafka key encodes - so a redelivered aggregate (consumer
  restart, producer retry, a replayed transaction) is recognised and not counted twice.
  The first copy wins; later copies are :data:`MergeOutcome.DUPLICATE`.
* Bounded: per (region, schema) at most ``retention_windows`` windows are kept (the newest
  by start); an aggregate for a window older than everything evicted is
  :data:`MergeOutcome.EXPIRED`, so a redelivery of an evicted window is not counted again.
  At most ``max_regions`` regions (the collector passes its configured ``--regions``) and,
  per window, the schema's ``max_cells`` + 1 cells (the sidecar never publishes more) are
  kept; beyond that :data:`MergeOutcome.OVER_CAPACITY`. Per region and dimension at most
  ``max_values_per_dimension`` distinct values are held by retained windows at once; a cell
  that would add one more is :data:`MergeOutcome.LABEL_OVERFLOW` (``__other__`` is always
  let in), so forged or runaway values cannot grow the state or the Prometheus series (which
  the collector removes once no retained window holds them, see
  :mod:`deidentify.central.series`).
* :meth:`CentralState.merge` returns an outcome; it never raises on a valid aggregate.

Memory: regions x schemas x ``retention_windows`` x cells per window, each cell one small
dict of measures, plus one reference count per (region, dimension, value) held: with 2 regions, 3 schemas, 60 windows and ~100 cells per window, ~36k
dicts (a few MiB); the hard ceiling is ``max_regions * schemas * retention_windows *
(max_cells + 1)`` cells.

:func:`summary` turns the state into the JSON document the dashboard draws (pure, given
``now_ms``): per region and schema, window/cell/event counts and a view chosen from the
schema's measure kinds and its optional ``presentation`` hints — events per minute over
time (by the ``chart_by`` dimension), sum totals, rates (a count_if over count), quantiles
from merged histogram buckets, and the top cells of the recent windows. No schema is
known by name.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deidentify.central.validate import ValidAggregate
from deidentify.contract import INF, OTHER, iso_utc
from deidentify.measures import ROLE_DISTRIBUTION, ROLE_RATE, ROLE_TOTAL, kind_of
from deidentify.schema.model import Schema, presentation_of

__all__ = [
    "DEFAULT_RETENTION_WINDOWS",
    "CentralState",
    "MergeOutcome",
    "histogram_quantile",
    "summary",
]

DEFAULT_RETENTION_WINDOWS = 60
DEFAULT_MAX_REGIONS = 64
DEFAULT_MAX_VALUES_PER_DIMENSION = 1000
RECENT_WINDOWS = 5          # the dashboard's tables: "last 5 windows"
TOP_N = 10                  # rows per table
TOP_SERIES = 6              # lines per chart
QUANTILES = (0.5, 0.9, 0.99)


class MergeOutcome(enum.Enum):
    """What :meth:`CentralState.merge` did; ``value`` is a stable metric-label string."""

    MERGED = "merged"
    DUPLICATE = "duplicate"
    EXPIRED = "expired"
    OVER_CAPACITY = "over_capacity"
    LABEL_OVERFLOW = "label_overflow"   # a new value past max_values_per_dimension


IGNORE_REASONS: tuple[str, ...] = tuple(o.value for o in MergeOutcome if o is not MergeOutcome.MERGED)


@dataclass(slots=True)
class _Window:
    start_ms: int
    end_ms: int
    cells: dict[tuple, dict[str, Any]] = field(default_factory=dict)   # (version, dims) -> measures


@dataclass(slots=True)
class _Series:
    """The windows of one (region, schema), newest last."""

    schema_name: str
    dimension_names: tuple[str, ...]
    windows: dict[int, _Window] = field(default_factory=dict)
    evicted_through_ms: int = -1       # start of the newest evicted window
    names_by_version: dict[int, tuple[str, ...]] = field(default_factory=dict)
    region: str = ""


class CentralState:
    """Validated aggregates merged per region, schema, window and cell."""

    def __init__(self, *, retention_windows: int = DEFAULT_RETENTION_WINDOWS,
                 max_regions: int = DEFAULT_MAX_REGIONS,
                 max_values_per_dimension: int = DEFAULT_MAX_VALUES_PER_DIMENSION) -> None:
        if retention_windows < 1:
            raise ValueError("retention_windows cannot be smaller than 1")
        if max_regions < 1:
            raise ValueError("max_regions cannot be smaller than 1")
        if max_values_per_dimension < 1:
            raise ValueError("max_values_per_dimension cannot be smaller than 1")
        self.retention_windows = retention_windows
        self.max_regions = max_regions
        self.max_values_per_dimension = max_values_per_dimension
        self._series: dict[tuple[str, str], _Series] = {}
        self._regions: set[str] = set()
        # (region, dimension name) -> value -> retained cells holding it
        self._values: dict[tuple[str, str], dict[Any, int]] = {}
        self.evictions = 0                 # windows evicted so far (the collector watches it)

    # ------------------------------------------------------------------------ writing

    def merge(self, agg: ValidAggregate) -> MergeOutcome:
        schema = agg.schema
        if agg.region not in self._regions:
            if len(self._regions) >= self.max_regions:
                return MergeOutcome.OVER_CAPACITY
            self._regions.add(agg.region)
        skey = (agg.region, schema.name)
        series = self._series.get(skey)
        if series is None:
            series = self._series[skey] = _Series(schema.name, schema.dimension_names,
                                                   region=agg.region)
        start = agg.window_start_ms
        if start <= series.evicted_through_ms:
            return MergeOutcome.EXPIRED
        window = series.windows.get(start)
        if window is None:
            if (len(series.windows) >= self.retention_windows
                    and start < min(series.windows)):
                # Older than everything kept while full: it would be evicted at once.
                return MergeOutcome.EXPIRED
            window = series.windows[start] = _Window(start, agg.window_end_ms)
            self._evict(series)
        cell_key = (schema.version, agg.dims)
        if cell_key in window.cells:
            return MergeOutcome.DUPLICATE
        if len(window.cells) > schema.privacy.max_cells:
            return MergeOutcome.OVER_CAPACITY
        names = schema.dimension_names
        if not self._values_fit(agg.region, names, agg.dims):
            return MergeOutcome.LABEL_OVERFLOW
        window.cells[cell_key] = agg.measures
        series.dimension_names = names
        series.names_by_version[schema.version] = names
        self._count_values(agg.region, names, agg.dims, +1)
        return MergeOutcome.MERGED

    def _values_fit(self, region: str, names: tuple[str, ...], dims: tuple) -> bool:
        cap = self.max_values_per_dimension
        for name, value in zip(names, dims, strict=True):
            held = self._values.get((region, name))
            if held is not None and value not in held and value != OTHER and len(held) >= cap:
                return False
        return True

    def _count_values(self, region: str, names: tuple[str, ...], dims: tuple, step: int) -> None:
        for name, value in zip(names, dims, strict=True):
            held = self._values.setdefault((region, name), {})
            n = held.get(value, 0) + step
            if n > 0:
                held[value] = n
            else:
                held.pop(value, None)

    def _evict(self, series: _Series) -> None:
        while len(series.windows) > self.retention_windows:
            oldest = min(series.windows)
            window = series.windows.pop(oldest)
            series.evicted_through_ms = max(series.evicted_through_ms, oldest)
            for version, dims in window.cells:
                names = series.names_by_version.get(version, series.dimension_names)
                self._count_values(series.region, names, dims, -1)
            self.evictions += 1

    # ------------------------------------------------------------------------ reading

    @property
    def regions(self) -> list[str]:
        return sorted(self._regions)

    def schemas_of(self, region: str) -> list[str]:
        return sorted(name for (r, name) in self._series if r == region)

    def windows(self, region: str, schema: str) -> list[tuple[int, int, list[tuple[dict, dict]]]]:
        """``[(start_ms, end_ms, [(dims dict, measures)])]``, oldest first."""
        series = self._series.get((region, schema))
        if series is None:
            return []
        names = series.dimension_names
        out = []
        for start in sorted(series.windows):
            win = series.windows[start]
            cells = [(dict(zip(names, dims, strict=True)), measures)
                     for (_version, dims), measures in win.cells.items()]
            out.append((win.start_ms, win.end_ms, cells))
        return out

    def values_held(self, region: str, dimension: str) -> int:
        """Distinct values of ``dimension`` that retained windows of ``region`` hold."""
        return len(self._values.get((region, dimension), ()))

    def retained_dims(self, region: str):
        """Every retained cell's dims of ``region`` as a dict of strings (all schemas)."""
        for (r, _name), series in self._series.items():
            if r != region:
                continue
            for window in series.windows.values():
                for version, dims in window.cells:
                    names = series.names_by_version.get(version, series.dimension_names)
                    yield {n: str(v) for n, v in zip(names, dims, strict=True)}

    def cell_count(self) -> int:
        return sum(len(w.cells) for s in self._series.values() for w in s.windows.values())


# ---------------------------------------------------------------------------- dashboard


def _bound(key: str) -> float:
    return math.inf if key == INF else float(key)


def histogram_quantile(q: float, buckets: dict[str, int]) -> float | None:
    """Prometheus' ``histogram_quantile`` over non-cumulative bucket counts.

    Linear interpolation inside the bucket holding rank ``q * total`` (the first bucket's
    lower bound is 0); a rank in the ``+Inf`` bucket gives the highest finite bound. None
    when there are no observations.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError("q must be between 0 and 1")
    pairs = sorted((_bound(k), n) for k, n in buckets.items())
    total = sum(n for _, n in pairs)
    if total == 0:
        return None
    rank = q * total
    cumulative = 0
    lower = 0.0
    finite = [b for b, _ in pairs if math.isfinite(b)]
    for bound, n in pairs:
        if n and cumulative + n >= rank:
            if math.isinf(bound):
                return finite[-1] if finite else None
            return lower + (bound - lower) * ((rank - cumulative) / n)
        cumulative += n
        if math.isfinite(bound):
            lower = bound
    return finite[-1] if finite else None


def _add_buckets(into: dict[str, int], buckets: dict[str, int]) -> None:
    for key, n in buckets.items():
        into[key] = into.get(key, 0) + n


def _quantiles(buckets: dict[str, int]) -> dict[str, float | None]:
    out = {}
    for q in QUANTILES:
        value = histogram_quantile(q, buckets) if buckets else None
        out[f"p{round(q * 100):d}"] = None if value is None else round(value, 2)
    return out


def _recent(windows: Sequence[tuple[int, int, list]], n: int) -> tuple[list, float]:
    """The windows within the newest ``n`` window slots, and the minutes they span."""
    if not windows:
        return [], 0.0
    newest_start, newest_end = windows[-1][0], windows[-1][1]
    size = newest_end - newest_start
    oldest_allowed = newest_start - (n - 1) * size
    recent = [w for w in windows if w[0] >= oldest_allowed]
    slots = (newest_start - max(oldest_allowed, windows[0][0])) // size + 1
    return recent, slots * size / 60_000


def _schema_view(schema: Schema, windows: list) -> dict[str, Any]:
    """The panels of one schema, chosen from its measure kinds (no schema is named here).

    ``windows``: per window, events and events per minute, each sum measure's total, each
    rate (a count_if over count) and each histogram's quantiles; ``series``: events per
    minute over time for the top values of the ``chart_by`` dimension; ``top``: the cells
    of the recent windows with the most events, with their measures.
    """
    hints = presentation_of(schema)
    roles = {m.name: kind_of(m).role for m in schema.measures}
    sums = [name for name, role in roles.items() if role in (ROLE_TOTAL, ROLE_RATE)]
    histograms = [name for name, role in roles.items() if role == ROLE_DISTRIBUTION]
    rates = list(hints.rates)
    minutes_per_window = schema.window.size_ms / 60_000

    def rate_values(acc: dict[str, Any], events: int) -> dict[str, float | None]:
        return {r: (round(acc[r] / events, 4) if events else None) for r in rates}

    per_window = []
    for start, end, cells in windows:
        acc: dict[str, Any] = dict.fromkeys(sums, 0)
        merged: dict[str, dict[str, int]] = {h: {} for h in histograms}
        events = 0
        for _dims, m in cells:
            events += m.get("count", 0)
            for name in sums:
                acc[name] += m.get(name, 0)
            for name in histograms:
                if name in m:
                    _add_buckets(merged[name], m[name]["buckets"])
        minutes = (end - start) / 60_000
        per_window.append({
            "start": iso_utc(start), "start_ms": start, "events": events,
            "per_minute": round(events / minutes, 3),
            "sums": {n: _round(acc[n]) for n in sums},
            "rates": rate_values(acc, events),
            "quantiles": {h: _quantiles(merged[h]) for h in histograms}})
    recent, recent_minutes = _recent(windows, RECENT_WINDOWS)
    cells_by_dims: dict[tuple, dict[str, Any]] = {}
    for _start, _end, cells in recent:
        for dims, m in cells:
            key = tuple(dims.values())
            row = cells_by_dims.get(key)
            if row is None:
                row = cells_by_dims[key] = {"dims": dims, "events": 0,
                                            "sums": dict.fromkeys(sums, 0),
                                            "_buckets": {h: {} for h in histograms}}
            row["events"] += m.get("count", 0)
            for name in sums:
                row["sums"][name] += m.get(name, 0)
            for name in histograms:
                if name in m:
                    _add_buckets(row["_buckets"][name], m[name]["buckets"])
    rows = sorted(cells_by_dims.values(),
                  key=lambda r: (-r["events"], [str(v) for v in r["dims"].values()]))
    for row in rows:
        row["per_minute"] = round(row["events"] / recent_minutes, 2) if recent_minutes else 0.0
        row["rates"] = rate_values(row["sums"], row["events"])
        row["sums"] = {n: _round(v) for n, v in row["sums"].items()}
        row["quantiles"] = {h: _quantiles(b) for h, b in row.pop("_buckets").items()}
    series: list[dict[str, Any]] = []
    chart_by = hints.chart_by
    if chart_by is not None:
        totals: dict[Any, int] = {}
        for _start, _end, cells in recent:
            for dims, m in cells:
                value = dims.get(chart_by)
                totals[value] = totals.get(value, 0) + m.get("count", 0)
        top_values = sorted(totals, key=lambda v: (-totals[v], str(v)))[:TOP_SERIES]
        points: dict[Any, list[dict[str, Any]]] = {v: [] for v in top_values}
        for start, end, cells in windows:       # one pass per window
            per_value = dict.fromkeys(top_values, 0)
            for dims, m in cells:
                value = dims.get(chart_by)
                if value in per_value:
                    per_value[value] += m.get("count", 0)
            minutes = (end - start) / 60_000
            for value, n in per_value.items():
                points[value].append({"start_ms": start, "per_minute": round(n / minutes, 3)})
        series.extend({"name": str(v), "points": points[v]} for v in top_values)
    else:
        series.append({"name": "all", "points": [
            {"start_ms": w["start_ms"], "per_minute": w["per_minute"]} for w in per_window]})
    return {
        "title": hints.title,
        "description": schema.description,
        "dimensions": list(schema.dimension_names),
        "measures": [{"name": m.name, "type": m.type, "role": roles[m.name],
                      "unit": hints.unit_of(m.name)} for m in schema.measures],
        "rates": rates,
        "histograms": histograms,
        "chart_by": chart_by,
        "window_minutes": minutes_per_window,
        "recent_minutes": recent_minutes,
        "windows": per_window,
        "series": series,
        "top": rows[:TOP_N],
        "cell_count": len(rows),
    }


def _round(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def summary(state: CentralState, *, now_ms: int, collector: dict[str, Any] | None = None,
            schema_names: Iterable[str] = (),
            schemas: Mapping[str, Schema] | None = None) -> dict[str, Any]:
    """The dashboard's JSON document (everything in it passed central re-validation).

    Every schema in ``schemas`` that has windows in a region gets a ``view`` (see
    :func:`_schema_view`); a schema no longer loaded keeps only its counts."""
    schemas = schemas or {}
    regions: dict[str, Any] = {}
    for region in state.regions:
        entry: dict[str, Any] = {"schemas": {}}
        for name in state.schemas_of(region):
            windows = state.windows(region, name)
            entry["schemas"][name] = {
                "windows": len(windows),
                "cells": sum(len(c) for _s, _e, c in windows),
                "events": sum(m.get("count", 0) for _s, _e, c in windows for _d, m in c),
                "first_window_start": iso_utc(windows[0][0]) if windows else None,
                "last_window_end": iso_utc(windows[-1][1]) if windows else None,
            }
            schema = schemas.get(name)
            if schema is not None:
                entry["schemas"][name]["view"] = _schema_view(schema, windows)
        regions[region] = entry
    return {
        "generated_at": iso_utc(now_ms),
        "generated_at_ms": now_ms,
        "retention_windows": state.retention_windows,
        "recent_windows": RECENT_WINDOWS,
        "schemas": sorted(schema_names),
        "regions": regions,
        "collector": collector or {},
    }

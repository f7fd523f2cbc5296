"""Prometheus series for every schema, derived from the schema alone.

The collector knows no schema by name: each loaded schema is compiled once (at start-up
or on a schema swap) into a :class:`SchemaExport` that holds its metric objects, and the
per-aggregate path only looks the export up by schema name and increments.

Naming rule (``<schema>`` and ``<measure>`` are the names in the schema file, already
``[a-z][a-z0-9_]*``)::

    deidentify_<schema>_events_total{region, <dims>}          measures.count (every schema)
    deidentify_<schema>_<measure>_total{region, <dims>}       a ``sum`` or ``count_if`` measure
    deidentify_<schema>_<measure>_bucket{region, <dims>, le}  a ``histogram`` measure:
    deidentify_<schema>_<measure>_sum{region, <dims>}           cumulative buckets (+Inf last),
    deidentify_<schema>_<measure>_count{region, <dims>}         sum and count, so PromQL's
                                                                histogram_quantile() works

Each measure kind declares its series and builds its metric objects
(:meth:`deidentify.measures.MeasureKind.series` / ``exporter``); the names above are those
of the shipped kinds.

Labels: ``region`` and one label per dimension, named after the dimension. A dimension
whose name Prometheus reserves or the exporter already uses (``region``, ``le``,
``quantile``, ``job``, ``instance``) is exported as ``dim_<name>``. Label values are the
cell's dimension values that passed central re-validation (the schema's typed transforms
and the output guard); booleans are ``true``/``false``, a missing value is ``none``.

Cardinality is bounded by the schema: per region at most ``privacy.max_cells`` + 1 label
sets per schema (the caps and ``__other__`` roll-up bound the cells of a window), times the
bucket count for a histogram. Label sets that no retained window holds any more are removed
by the collector (:mod:`deidentify.central.series`, for every labelled metric alike), so a
route that stopped being requested stops being exported; a counter that reappears restarts
from zero, which Prometheus' ``rate()``/``increase()`` treat as a counter reset.

Memory: one float per label set and counter, ``len(buckets) + 2`` numbers per histogram
label set.

A schema whose derived names collide (a measure called ``events``, or two measures whose
names differ only by a ``_total``/``_bucket`` suffix) is refused with a
:class:`~deidentify.errors.SchemaError` naming the file and line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from deidentify.errors import SchemaError
from deidentify.measures import MeasureExport, kind_of
from deidentify.schema.model import Schema

__all__ = ["CentralExport", "SchemaExport", "label_name", "metric_names", "series_names"]

PREFIX = "deidentify"
RESERVED_LABELS = frozenset({"region", "le", "quantile", "job", "instance"})
EVENTS = "events"


def label_name(dimension: str) -> str:
    """The Prometheus label of a dimension (``dim_<name>`` when the name is reserved)."""
    return f"dim_{dimension}" if dimension in RESERVED_LABELS else dimension


def label_value(value: Any) -> str:
    if value is None:
        return "none"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def metric_names(schema: Schema) -> dict[str, str]:
    """measure name (``count`` for the events counter) -> metric base name (no suffix)."""
    names = {"count": f"{PREFIX}_{schema.name}_{EVENTS}"}
    for m in schema.measures:
        names[m.name] = f"{PREFIX}_{schema.name}_{m.name}"
    return names


def series_names(schema: Schema) -> dict[str, tuple[str, ...]]:
    """measure name -> the sample names it exports (what PromQL queries)."""
    names = metric_names(schema)
    out: dict[str, tuple[str, ...]] = {"count": (f"{names['count']}_total",)}
    for m in schema.measures:
        out[m.name] = kind_of(m).series(names[m.name])
    return out


def _check_collisions(schema: Schema) -> None:
    seen: dict[str, str] = {}
    lines = {m.name: m.line for m in schema.measures}
    bases = metric_names(schema)
    for measure, samples in series_names(schema).items():
        for sample in dict.fromkeys((bases[measure], *samples)):   # a gauge's sample is its base
            other = seen.get(sample)
            if other is not None:
                raise SchemaError(
                    f"measures '{other}' and '{measure}' would both export the Prometheus "
                    f"series {sample}", file=schema.file, line=lines.get(measure),
                    fix="rename one of them (a measure may not be called 'events', which "
                        "is the exported name of count)")
            seen[sample] = measure


class SchemaExport:
    """The compiled series of one schema: built once, fed one valid aggregate at a time."""

    def __init__(self, schema: Schema, registry: CollectorRegistry) -> None:
        _check_collisions(schema)
        self.schema = schema
        self.labelnames = ("region", *(label_name(d) for d in schema.dimension_names))
        names = metric_names(schema)
        what = schema.description.split(".")[0][:120] or schema.name
        self.events = Counter(names["count"], f"Events in merged {schema.name} cells ({what})",
                              self.labelnames, registry=registry)
        # (measure name, its kind's export): the per-aggregate loop touches only this
        # prepared list (deidentify.measures owns what each kind exports)
        self.measures: list[tuple[str, MeasureExport]] = [
            (m.name, kind_of(m).exporter(m, names[m.name], schema.name, self.labelnames,
                                         registry))
            for m in schema.measures]
        self._registry = registry

    def export(self, region: str, dims: tuple[Any, ...], measures: dict[str, Any]) -> None:
        labels = (region, *(label_value(v) for v in dims))
        self.events.labels(*labels).inc(measures["count"])
        for name, exported in self.measures:
            exported.add(labels, measures.get(name))

    def metrics(self) -> list[Any]:
        """Every metric object of this schema (the collector removes stale label sets)."""
        return [self.events, *(m for _n, e in self.measures for m in e.metrics)]

    def unregister(self) -> None:
        for metric in self.metrics():
            self._registry.unregister(metric)


class CentralExport:
    """Every loaded schema's :class:`SchemaExport`, looked up by schema name."""

    def __init__(self, schemas: Iterable[Schema], registry: CollectorRegistry) -> None:
        self.registry = registry
        self.by_name: dict[str, SchemaExport] = {}
        self.swap_schemas(schemas)

    def swap_schemas(self, schemas: Iterable[Schema]) -> None:
        """Compile the series of new or changed schemas; keep those whose series are the
        same (their counters continue), unregister those of removed schemas."""
        new = {s.name: s for s in schemas}
        for name, existing in list(self.by_name.items()):
            s = new.get(name)
            if s is None or _shape(s) != _shape(existing.schema):
                existing.unregister()
                del self.by_name[name]
        for name, s in new.items():
            if name not in self.by_name:
                try:
                    self.by_name[name] = SchemaExport(s, self.registry)
                except ValueError:      # prometheus_client: a name another schema exports
                    raise SchemaError(
                        f"schema '{name}' would export a Prometheus series another schema "
                        "already exports", file=s.file,
                        fix="rename the schema or the measure (series are named "
                            "deidentify_<schema>_<measure>)") from None
            else:
                self.by_name[name].schema = s

    def metrics(self) -> list[Any]:
        """Every metric object of every schema."""
        return [m for export in self.by_name.values() for m in export.metrics()]

    def export(self, region: str, schema_name: str, dims: tuple[Any, ...],
               measures: dict[str, Any]) -> None:
        export = self.by_name.get(schema_name)
        if export is not None:
            export.export(region, dims, measures)


def _shape(schema: Schema) -> tuple:
    return (schema.dimension_names,
            tuple((m.name, m.type, tuple(m.buckets)) for m in schema.measures))

"""Remove Prometheus series that no retained window holds any more.

The collector's counters are cumulative per label set; without removal every route, tenant
or host ever merged would stay a series for good. :func:`remove_series` drops, from one
labelled metric, every label set a predicate does not keep; :class:`RetainedLabels` is that
predicate for the collector: a series is kept while some retained cell of its region carries
all of its dimension labels (labels named like a dimension of any schema; other labels such
as ``outcome``, ``schema`` or ``le`` are ignored). So series are bounded by the retained
cells, which :class:`~deidentify.central.state.CentralState` bounds.

Works on any metric with ``collect()`` and ``remove(*labelvalues)`` (prometheus_client's
``Counter``/``Gauge``/``Histogram``, :class:`deidentify.metrics.MergedHistogram`), whatever
series a schema exports. Cost: one pass over the metric's samples and, per distinct set of
dimension label names, one pass over the region's retained cells; run when windows are
evicted, not per message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["RetainedLabels", "label_names", "remove_series"]


def label_names(metric: Any) -> tuple[str, ...]:
    """The label names of ``metric`` in ``remove()`` order (prometheus_client or ours)."""
    names = getattr(metric, "labelnames", None)
    if names is None:
        names = getattr(metric, "_labelnames", ())
    return tuple(names)


def remove_series(metric: Any, keep: Callable[[dict[str, str]], bool]) -> int:
    """Remove every label set of ``metric`` for which ``keep(labels)`` is False; returns how
    many were removed. A metric without labels is left alone."""
    names = label_names(metric)
    if not names:
        return 0
    seen: set[tuple[str, ...]] = set()
    stale: list[tuple[str, ...]] = []
    for family in metric.collect():
        for sample in family.samples:
            values = tuple(sample.labels.get(n, "") for n in names)
            if values in seen:
                continue
            seen.add(values)
            if not keep(dict(zip(names, values, strict=True))):
                stale.append(values)
    for values in stale:
        try:
            metric.remove(*values)
        except KeyError:
            pass
    return len(stale)


class RetainedLabels:
    """``keep`` for :func:`remove_series`: is a series still fed by a retained cell?

    ``cells(region)`` yields the retained cells' dims as ``{name: str(value)}``;
    ``dimensions`` are every dimension name of every loaded schema.
    """

    def __init__(self, cells: Callable[[str], Iterable[Mapping[str, str]]],
                 dimensions: Iterable[str]) -> None:
        self._cells = cells
        self._dimensions = frozenset(dimensions)
        self._held: dict[tuple[str, tuple[str, ...]], set[tuple[str, ...]]] = {}

    def __call__(self, labels: dict[str, str]) -> bool:
        region = labels.get("region")
        if region is None:
            return True                        # not a per-region series: never ours to drop
        dims = tuple(sorted(n for n in labels if n in self._dimensions))
        key = (region, dims)
        held = self._held.get(key)
        if held is None:
            held = self._held[key] = {
                tuple(cell[n] for n in dims) for cell in self._cells(region)
                if all(n in cell for n in dims)}
        return tuple(labels[n] for n in dims) in held

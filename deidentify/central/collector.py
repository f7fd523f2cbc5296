"""The per-message path of the central collector: validate, merge, export, count.

:class:`CentralCollector` is synchronous and imports no Kafka client: the faust agent of
:mod:`deidentify.central.app` only calls ``handle(value, region)``; tests and the
benchmark call it directly. Never logs an aggregate's content: rejections are counted by
reason, nothing else.
"""

from __future__ import annotations

import time
from dataclasses import fields
from typing import Any

from deidentify.central.export import CentralExport
from deidentify.central.series import RetainedLabels, label_names, remove_series
from deidentify.central.settings import DEFAULT_RETENTION_WINDOWS
from deidentify.central.state import (
    DEFAULT_MAX_REGIONS,
    DEFAULT_MAX_VALUES_PER_DIMENSION,
    IGNORE_REASONS,
    CentralState,
    MergeOutcome,
    summary,
)
from deidentify.central.validate import (
    CENTRAL_REJECT_REASONS,
    REGION_MISMATCH,
    Accepted,
    AggregateValidator,
    Rejected,
    ValidAggregate,
)
from deidentify.metrics import CentralMetrics, central_metrics
from deidentify.privacy.guard import Detector
from deidentify.schema import SchemaSet

__all__ = ["CentralCollector"]


class CentralCollector:
    """Validate, merge and export one aggregate at a time. Synchronous, no Kafka.

    ``handle(value)`` is the whole per-message path; the faust agent only calls it. Each
    message ends in exactly one of: accepted (merged), ignored (duplicate, expired,
    over_capacity) or rejected (a reason of CENTRAL_REJECT_REASONS) - all counted.
    """

    def __init__(self, schemas: SchemaSet, *, retention_windows: int = DEFAULT_RETENTION_WINDOWS,
                 metrics: CentralMetrics | None = None, validator: AggregateValidator | None = None,
                 clock=time.time, max_regions: int | None = None,
                 max_values_per_dimension: int = DEFAULT_MAX_VALUES_PER_DIMENSION) -> None:
        self.schemas = schemas
        self.metrics = metrics or central_metrics()
        # Every schema's series, compiled once from the schema (deidentify.central.export).
        self.export = CentralExport(schemas.schemas, self.metrics.registry)
        self.validator = validator or AggregateValidator(schemas)
        self.state = CentralState(
            retention_windows=retention_windows,
            max_regions=DEFAULT_MAX_REGIONS if max_regions is None else max_regions,
            max_values_per_dimension=max_values_per_dimension)
        self._evictions_seen = 0
        self._dimension_names = frozenset(n for s in schemas.schemas for n in s.dimension_names)
        self.clock = clock
        self.accepted = 0
        self.rejected: dict[str, int] = dict.fromkeys(CENTRAL_REJECT_REASONS, 0)
        self.ignored: dict[str, int] = dict.fromkeys(IGNORE_REASONS, 0)
        self.guard_hits: dict[str, int] = {}
        self.lag: dict[int, int] = {}
        self.assigned_partitions = 0
        self.consuming = False
        self.web_started = False
        self.last_message_at: float | None = None
        self.last_window_end_ms: dict[tuple[str, str], int] = {}
        m = self.metrics
        for reason in CENTRAL_REJECT_REASONS:      # export zeros: alerts need the series
            m.aggregates_rejected.labels(reason)
        for reason in IGNORE_REASONS:
            m.aggregates_ignored.labels(reason)
        for detector in Detector:
            m.guard_hits.labels(detector.value)

    # ------------------------------------------------------------------ per message

    def handle(self, value: bytes | None, region: str | None = None) -> Accepted | Rejected:
        """``region``: the region of the topic the message came from (None: not checked)."""
        self.last_message_at = self.clock()
        result = self.validator.validate(value)
        if region is not None and isinstance(result, Accepted) \
                and result.aggregate.region != region:
            result = Rejected(REGION_MISMATCH)
        if isinstance(result, Rejected):
            self.rejected[result.reason] = self.rejected.get(result.reason, 0) + 1
            self.metrics.aggregates_rejected.labels(result.reason).inc()
            if result.detector is not None:
                label = result.detector.value
                self.guard_hits[label] = self.guard_hits.get(label, 0) + 1
                self.metrics.guard_hits.labels(label).inc()
            return result
        agg = result.aggregate
        outcome = self.state.merge(agg)
        if outcome is MergeOutcome.MERGED:
            self.accepted += 1
            self._export(agg)
            if self.state.evictions != self._evictions_seen:
                self.remove_stale_series()
        else:
            self.ignored[outcome.value] += 1
            self.metrics.aggregates_ignored.labels(outcome.value).inc()
        return result

    def _export(self, agg: ValidAggregate) -> None:
        m = self.metrics
        region, name, measures = agg.region, agg.schema.name, agg.measures
        count = measures["count"]
        m.aggregates_accepted.labels(region, name).inc()
        m.events.labels(region, name).inc(count)
        if agg.window_end_ms > self.last_window_end_ms.get((region, name), -1):
            self.last_window_end_ms[(region, name)] = agg.window_end_ms
            m.last_window_end.labels(region, name).set(agg.window_end_ms / 1000)
        m.cells_retained.set(self.state.cell_count())
        self.export.export(region, name, agg.dims, measures)

    def remove_stale_series(self) -> int:
        """Drop the label sets no retained window holds (after windows were evicted)."""
        self._evictions_seen = self.state.evictions
        keep = RetainedLabels(self.state.retained_dims, self._dimension_names)
        removed = 0
        metrics = [getattr(self.metrics, item.name) for item in fields(self.metrics)]
        for metric in metrics + self.export.metrics():
            if "region" in label_names(metric):
                removed += remove_series(metric, keep)
        if removed and self.metrics.series_removed is not None:
            self.metrics.series_removed.inc(removed)
        return removed

    # ------------------------------------------------------------------ health and views

    def set_lag(self, lags: dict[int, int]) -> None:
        for partition in set(self.lag) - set(lags):
            self.metrics.consumer_lag.remove(str(partition))
        self.lag = dict(lags)
        for partition, lag in lags.items():
            self.metrics.consumer_lag.labels(str(partition)).set(lag)

    def readiness(self) -> tuple[bool, list[str]]:
        waiting = []
        if not self.web_started:
            waiting.append("web_server")
        if not self.consuming:
            waiting.append("consumer")
        elif self.assigned_partitions == 0:
            waiting.append("partition_assignment")
        ready = not waiting
        self.metrics.ready.set(1 if ready else 0)
        return ready, waiting

    def stats(self) -> dict[str, Any]:
        ready, waiting = self.readiness()
        return {
            "accepted": self.accepted,
            "rejected": {k: v for k, v in self.rejected.items() if v},
            "rejected_total": sum(self.rejected.values()),
            "ignored": {k: v for k, v in self.ignored.items() if v},
            "guard_hits": dict(self.guard_hits),
            "lag": sum(self.lag.values()),
            "assigned_partitions": self.assigned_partitions,
            "cells_retained": self.state.cell_count(),
            "ready": ready,
            "waiting_for": waiting,
        }

    def summary(self) -> dict[str, Any]:
        return summary(self.state, now_ms=int(self.clock() * 1000), collector=self.stats(),
                       schema_names=self.validator.schema_names,
                       schemas={s.name: s for s in self.schemas.schemas})

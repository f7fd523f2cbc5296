"""What one sidecar session reports to Prometheus (metrics are declared in ``metrics.py``).

:class:`SessionMetrics` turns the pipeline's cumulative counter dicts into Prometheus
counters by delta (a new session starts its own pipeline, so marks are per session), counts
consumed events per raw topic, published cells per schema and transaction outcomes, and
refreshes the lag gauges (per assigned partition, and the age of the oldest open window) at
most every :data:`LAG_REFRESH_S`. Every label comes from a closed set: topic, partition
number, schema name, reason, detector, outcome.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING

from deidentify.sidecar import kafka

if TYPE_CHECKING:
    from deidentify.contract import Aggregate
    from deidentify.metrics import SidecarMetrics
    from deidentify.pipeline import Pipeline

LAG_REFRESH_S = 1.0


class _CounterSync:
    """Exports a pipeline's cumulative counter dicts to Prometheus counters by delta."""

    def __init__(self) -> None:
        self._marks: dict[tuple, int] = {}

    def sync(self, name: str, counter, values: dict[tuple[str, ...], int]) -> None:
        for labels, total in values.items():
            key = (name, labels)
            delta = total - self._marks.get(key, 0)
            if delta > 0:
                counter.labels(*labels).inc(delta)
                self._marks[key] = total


class SessionMetrics:
    """One session's view of :class:`~deidentify.metrics.SidecarMetrics`."""

    def __init__(self, metrics: SidecarMetrics) -> None:
        self.metrics = metrics
        self._sync = _CounterSync()
        self._consumed_by_topic: dict[str, object] = {}
        self._last_lag = 0.0

    def consumed(self, topic: str, n: int) -> None:
        child = self._consumed_by_topic.get(topic)
        if child is None:
            child = self._consumed_by_topic[topic] = self.metrics.events_consumed.labels(topic)
        child.inc(n)

    def transaction_failed(self) -> None:
        self.metrics.transactions.labels("failed").inc()

    def transaction_committed(self, aggregates: Iterable[Aggregate], seconds: float) -> None:
        m = self.metrics
        m.transaction_seconds.observe(seconds)
        m.transactions.labels("committed").inc()
        per_schema: dict[str, int] = {}
        for agg in aggregates:
            name = agg.value["schema"]
            per_schema[name] = per_schema.get(name, 0) + 1
        for name, n in per_schema.items():
            m.cells_published.labels(name).inc(n)
        m.last_commit_timestamp.set(time.time())

    def export(self, pipeline: Pipeline, consumer, assigned: Iterable[Hashable],
               mono: float, wall_ms: int) -> None:
        m = self.metrics
        sync = self._sync.sync
        sync("dropped", m.events_dropped, pipeline.drops)
        sync("rolled_up", m.events_rolled_up, pipeline.rolled_up)
        sync("guard", m.guard_hits, pipeline.guard_hits)
        sync("suppressed", m.cells_suppressed, pipeline.suppressed_cells)
        m.windows_open.set(pipeline.windows.open_window_count)
        if mono - self._last_lag < LAG_REFRESH_S:
            return
        self._last_lag = mono
        oldest_end = pipeline.windows.oldest_open_end()
        m.oldest_open_window_age.set(
            0 if oldest_end is None else max(0.0, (wall_ms - oldest_end) / 1000))
        for tp in assigned:
            progress = kafka.fetch_progress(consumer, tp)
            if progress is None:
                continue
            m.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                max(0, progress.end - progress.position))

    def assigned(self, n: int) -> None:
        self.metrics.assigned_partitions.set(n)

    def remove_lag(self, tp) -> None:
        try:
            self.metrics.consumer_lag.remove(tp.topic, str(tp.partition))
        except KeyError:
            pass


__all__ = ["LAG_REFRESH_S", "SessionMetrics"]

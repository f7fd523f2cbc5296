"""Every Prometheus metric deidentify exports, declared in one place.

Label discipline (tested): label values come only from closed sets or from values that
already passed the output guard and the schema's typed dimensions —

* ``schema``: a schema name from the loaded schema files (or ``-`` before one is known);
* ``reason``: a :class:`deidentify.contract.DropReason`, :class:`~deidentify.contract.RollupReason`
  or :class:`~deidentify.contract.RefusalReason` value (central's ignore reasons: ``MergeOutcome``);
* ``detector``: a :class:`deidentify.contract.Detector` value;
* ``topic``/``partition``: raw topic names from the schemas and partition numbers;
* ``region``: the region name validated at start-up;
* ``outcome``: a fixed word in the code that counts it (transactions: ``committed``,
  ``failed``, ``session_restart``; schema reloads: ``ok``, ``refused``);
* central per-schema series (``deidentify_<schema>_...``, declared from each schema by
  :mod:`deidentify.central.export` with the naming rule documented there): labels are
  ``region`` and the schema's dimension names; values of aggregates that passed central
  re-validation.

No label is ever filled from a raw event value.

Each process builds its metrics on its own :class:`~prometheus_client.CollectorRegistry`
(:func:`sidecar_metrics`, :func:`central_metrics`), so tests can run several in one
interpreter and a process exports only its own series.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from deidentify.contract import bucket_keys

BATCH_SIZE_BUCKETS = (1, 10, 100, 500, 1000, 5000, 10000, 50000)
COMMIT_SECONDS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass
class SidecarMetrics:
    registry: CollectorRegistry
    events_consumed: Counter
    events_dropped: Counter
    cells_published: Counter
    cells_suppressed: Counter
    events_rolled_up: Counter
    guard_hits: Counter
    windows_open: Gauge
    oldest_open_window_age: Gauge
    consumer_lag: Gauge
    transaction_seconds: Histogram
    transactions: Counter
    batch_size: Histogram
    schema_reloads: Counter
    schema_version: Gauge
    assigned_partitions: Gauge
    last_fetch_timestamp: Gauge
    last_commit_timestamp: Gauge
    watermarks_ignored: Counter


def sidecar_metrics(registry: CollectorRegistry | None = None) -> SidecarMetrics:
    r = registry or CollectorRegistry()
    return SidecarMetrics(
        registry=r,
        events_consumed=Counter("deid_sidecar_events_consumed", "Raw events consumed",
                                ["topic"], registry=r),
        events_dropped=Counter("deid_sidecar_events_dropped",
                               "Raw events dropped, by schema and reason",
                               ["schema", "reason"], registry=r),
        cells_published=Counter("deid_sidecar_cells_published",
                                "Aggregate cells published to the central topic",
                                ["schema"], registry=r),
        cells_suppressed=Counter("deid_sidecar_cells_suppressed",
                                 "Cells not published, by schema and reason",
                                 ["schema", "reason"], registry=r),
        events_rolled_up=Counter("deid_sidecar_events_rolled_up",
                                 "Events rolled into an __other__ cell, by schema and reason",
                                 ["schema", "reason"], registry=r),
        guard_hits=Counter("deid_sidecar_guard_hits",
                           "Cells dropped by the output guard, by schema and detector",
                           ["schema", "detector"], registry=r),
        windows_open=Gauge("deid_sidecar_windows_open", "Open windows", registry=r),
        oldest_open_window_age=Gauge(
            "deid_sidecar_oldest_open_window_age_seconds",
            "Wall-clock seconds since the end of the oldest open window (0 if none has "
            "ended); grows without bound when windows stop closing", registry=r),
        consumer_lag=Gauge("deid_sidecar_consumer_lag",
                           "Consumer lag in messages (to the last stable offset)",
                           ["topic", "partition"], registry=r),
        transaction_seconds=Histogram("deid_sidecar_transaction_commit_seconds",
                                      "Time to commit a transaction",
                                      buckets=COMMIT_SECONDS_BUCKETS, registry=r),
        transactions=Counter("deid_sidecar_transactions", "Transactions by outcome",
                             ["outcome"], registry=r),
        batch_size=Histogram("deid_sidecar_batch_size", "Messages per fetched batch",
                             buckets=BATCH_SIZE_BUCKETS, registry=r),
        schema_reloads=Counter("deid_sidecar_schema_reloads", "Schema reloads by outcome",
                               ["outcome"], registry=r),
        schema_version=Gauge("deid_sidecar_schema_version", "Loaded schema version",
                             ["schema"], registry=r),
        assigned_partitions=Gauge("deid_sidecar_assigned_partitions",
                                  "Raw partitions assigned to this sidecar", registry=r),
        last_fetch_timestamp=Gauge("deid_sidecar_last_fetch_timestamp_seconds",
                                   "Unix time of the last successful fetch", registry=r),
        last_commit_timestamp=Gauge("deid_sidecar_last_commit_timestamp_seconds",
                                    "Unix time of the last committed transaction", registry=r),
        watermarks_ignored=Counter("deid_sidecar_watermarks_ignored",
                                   "Closed-window marks read from commit metadata and ignored "
                                   "because they lie beyond the wall clock plus --max-future",
                                   registry=r),
    )


class MergedHistogram:
    """A Prometheus histogram fed with already-bucketed counts (the central aggregates).

    ``prometheus_client.Histogram.observe`` takes one observation at a time; the collector
    receives per-window bucket counts. This collector keeps, per label set, the running
    (non-cumulative) count of each bucket and the sum, and exports them as a real
    histogram: ``<name>_bucket{le="..."}`` (cumulative, ``+Inf`` last), ``<name>_sum`` and
    ``<name>_count``, so ``histogram_quantile()`` works on it in PromQL.

    ``bounds`` are the finite upper bounds (ascending); :meth:`add` takes a dict keyed by the
    aggregate contract's bound strings (``"5"``, ``"2.5"``, ``"+Inf"``). Keys that are not
    among the bounds are ignored (the central validator has already refused them).
    Not thread-safe: the collector's event loop is its only writer and reader.
    """

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...],
                 bounds: tuple[float, ...], registry: CollectorRegistry | None) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.bounds = tuple(float(b) for b in bounds)
        if list(self.bounds) != sorted(set(self.bounds)):
            raise ValueError("MergedHistogram bounds must be strictly ascending")
        self._index = {key: i for i, key in enumerate(bucket_keys(self.bounds))}
        self._series: dict[tuple[str, ...], list] = {}   # labels -> [counts list, sum]
        if registry is not None:
            registry.register(self)

    def add(self, labels: tuple[str, ...], buckets: dict[str, int], total: float) -> None:
        if len(labels) != len(self.labelnames):
            raise ValueError(f"{self.name} takes {len(self.labelnames)} label values")
        entry = self._series.get(labels)
        if entry is None:
            entry = self._series[labels] = [[0] * (len(self.bounds) + 1), 0.0]
        counts = entry[0]
        for key, n in buckets.items():
            i = self._index.get(key)
            if i is not None:
                counts[i] += n
        entry[1] += total

    def remove(self, *labels: str) -> None:
        """Drop one label set (prometheus_client's ``remove``); KeyError if absent."""
        del self._series[tuple(labels)]

    def describe(self):
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self):
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, (counts, total) in sorted(self._series.items()):
            cumulative = 0
            buckets = []
            for bound, n in zip(self.bounds, counts, strict=False):
                cumulative += n
                buckets.append((floatToGoString(bound), cumulative))
            cumulative += counts[-1]
            buckets.append(("+Inf", cumulative))
            family.add_metric(list(labels), buckets, total)
        yield family


@dataclass
class CentralMetrics:
    """The central collector's series.

    Business series are per schema (``deidentify_<schema>_events_total`` and friends,
    see :mod:`deidentify.central.export`), plus
    ``deid_central_events_total{region,schema}`` (``measures.count`` of every schema).

    Health series: ``deid_central_aggregates_accepted_total{region,schema}``,
    ``deid_central_aggregates_rejected_total{reason}``,
    ``deid_central_guard_hits_total{detector}``,
    ``deid_central_aggregates_ignored_total{reason}`` (duplicate | expired | over_capacity |
    label_overflow), ``deid_central_series_removed_total`` (label sets dropped once no
    retained window held them),
    ``deid_central_consumer_lag{partition}``,
    ``deid_central_last_window_end_timestamp_seconds{region,schema}``,
    ``deid_central_cells_retained``, ``deid_central_ready``.
    """

    registry: CollectorRegistry
    aggregates_accepted: Counter
    aggregates_rejected: Counter
    aggregates_ignored: Counter
    guard_hits: Counter
    events: Counter
    consumer_lag: Gauge
    last_window_end: Gauge
    cells_retained: Gauge
    ready: Gauge
    series_removed: Counter | None = None


def central_metrics(registry: CollectorRegistry | None = None) -> CentralMetrics:
    """Declare the central collector's own series (the per-schema business series are
    declared from the schemas by :class:`deidentify.central.export.CentralExport`)."""
    r = registry or CollectorRegistry()
    return CentralMetrics(
        registry=r,
        aggregates_accepted=Counter("deid_central_aggregates_accepted",
                                    "Aggregates accepted after re-validation",
                                    ["region", "schema"], registry=r),
        aggregates_rejected=Counter("deid_central_aggregates_rejected",
                                    "Aggregates rejected by re-validation, by reason",
                                    ["reason"], registry=r),
        aggregates_ignored=Counter("deid_central_aggregates_ignored",
                                   "Valid aggregates not merged (duplicate, expired window, "
                                   "over capacity)", ["reason"], registry=r),
        guard_hits=Counter("deid_central_guard_hits",
                           "Aggregates rejected by the central output guard, by detector",
                           ["detector"], registry=r),
        events=Counter("deid_central_events", "Raw events represented by merged aggregates",
                       ["region", "schema"], registry=r),
        consumer_lag=Gauge("deid_central_consumer_lag",
                           "Central consumer lag in messages (to the last stable offset)",
                           ["partition"], registry=r),
        last_window_end=Gauge("deid_central_last_window_end_timestamp_seconds",
                              "End of the newest merged window", ["region", "schema"],
                              registry=r),
        cells_retained=Gauge("deid_central_cells_retained",
                             "Cells held in the collector's bounded state", registry=r),
        ready=Gauge("deid_central_ready", "1 when the collector is consuming (see /readyz)",
                    registry=r),
        series_removed=Counter("deid_central_series_removed",
                               "Label sets removed because no retained window holds them "
                               "any more", registry=r),
    )

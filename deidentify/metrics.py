"""Every Prometheus metric deidentify exports, declared in one place.

Label discipline (tested): label values come only from closed sets or from values that
already passed the output guard and the schema's typed dimensions —

* ``schema``: a schema name from the loaded schema files (or ``-`` before one is known);
* ``reason``: one of ``deidentify.pipeline.DROP_REASONS`` or ``CENTRAL_REJECT_REASONS``;
* ``detector``: one of ``deidentify.privacy.guard.Detector`` values;
* ``topic``/``partition``: raw topic names from the schemas and partition numbers;
* ``region``: the region name validated at start-up;
* central dims (``method``, ``route``, ``status``, ``tenant``, ``currency``, ``host``,
  ``event_type``, ``outcome``): values of aggregates that passed central re-validation.

No label is ever filled from a raw event value.

Each process builds its metrics on its own :class:`~prometheus_client.CollectorRegistry`
(:func:`sidecar_metrics`, :func:`central_metrics`), so tests can run several in one
interpreter and a process exports only its own series.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

BATCH_SIZE_BUCKETS = (1, 10, 100, 500, 1000, 5000, 10000, 50000)
COMMIT_SECONDS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
LATENCY_MS_BUCKETS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


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
    consumer_lag: Gauge
    transaction_seconds: Histogram
    transactions: Counter
    batch_size: Histogram
    schema_reloads: Counter
    schema_version: Gauge
    assigned_partitions: Gauge
    last_fetch_timestamp: Gauge
    last_commit_timestamp: Gauge


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
        consumer_lag=Gauge("deid_sidecar_consumer_lag", "Consumer lag in messages",
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
    )


@dataclass
class CentralMetrics:
    registry: CollectorRegistry
    aggregates_accepted: Counter
    aggregates_rejected: Counter
    http_requests: Counter
    http_errors: Counter
    http_latency: Histogram
    billing_amount: Counter
    billing_charges: Counter
    webhook_deliveries: Counter
    consumer_lag: Gauge
    last_window_end: Gauge


def central_metrics(registry: CollectorRegistry | None = None) -> CentralMetrics:
    r = registry or CollectorRegistry()
    return CentralMetrics(
        registry=r,
        aggregates_accepted=Counter("deid_central_aggregates_accepted",
                                    "Aggregates accepted after re-validation",
                                    ["region", "schema"], registry=r),
        aggregates_rejected=Counter("deid_central_aggregates_rejected",
                                    "Aggregates rejected by re-validation, by reason",
                                    ["reason"], registry=r),
        http_requests=Counter("deid_http_requests", "HTTP requests",
                              ["region", "method", "route", "status"], registry=r),
        http_errors=Counter("deid_http_request_errors", "HTTP requests with status >= 500",
                            ["region", "method", "route"], registry=r),
        http_latency=Histogram("deid_http_request_latency_ms", "HTTP request latency (ms)",
                               ["region", "route"], buckets=LATENCY_MS_BUCKETS, registry=r),
        billing_amount=Counter("deid_billing_amount_minor", "Charged amount in minor units",
                               ["region", "tenant", "currency"], registry=r),
        billing_charges=Counter("deid_billing_charges", "Number of charges",
                                ["region", "tenant", "currency"], registry=r),
        webhook_deliveries=Counter("deid_webhook_deliveries", "Webhook delivery attempts",
                                   ["region", "host", "outcome"], registry=r),
        consumer_lag=Gauge("deid_central_consumer_lag", "Central consumer lag in messages",
                           ["partition"], registry=r),
        last_window_end=Gauge("deid_central_last_window_end_timestamp_seconds",
                              "End of the newest merged window", ["region", "schema"],
                              registry=r),
    )

"""Memory of the central collector under a flood of distinct forged values (issue 11).

A region that publishes valid aggregates with ever new dimension values (here: billing
cells, each with a tenant id never seen before) must not grow the collector without bound.
This feeds N such aggregates to one :class:`CentralCollector` (no Kafka: the per-message
path is ``handle``) and reports, per setting of the per-dimension value cap
(``DEIDENTIFY_CENTRAL_MAX_VALUES``), the cells and Prometheus series kept and the Python
memory held afterwards (tracemalloc), so the bound is visible next to the unbounded case.

    .venv/bin/python -m benchmarks.central_flood [--count 100000]
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

import orjson

from deidentify.central.collector import CentralCollector
from deidentify.privacy.names import load_name_data
from deidentify.schema import default_schema_dir, load_schemas

MINUTE_MS = 60_000
WINDOWS = 59


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def forged(i: int, start_ms: int) -> bytes:
    """A billing cell that passes central re-validation, with a tenant id never seen before."""
    return orjson.dumps({
        "schema": "billing_totals", "schema_version": 1, "region": "eu",
        "window": {"start": _iso(start_ms), "end": _iso(start_ms + MINUTE_MS)},
        "dims": {"tenant": f"flood-{i}", "currency": "EUR"},
        "measures": {"count": 5, "amount_minor": 1234}})


def series_count(collector: CentralCollector) -> int:
    return sum(len(family.samples) for family in collector.metrics.registry.collect()
               if family.name.startswith("deidentify_billing_totals"))


def run(count: int, max_values: int) -> dict:
    schemas = load_schemas(default_schema_dir())
    # spread over the retained horizon (59 one-minute windows), so a window's max_cells is
    # not what bounds the flood
    start_ms = (int(time.time() * 1000) // MINUTE_MS - WINDOWS - 1) * MINUTE_MS
    load_name_data()          # shared by every guard of the process: not the flood's memory
    gc.collect()
    tracemalloc.start()
    collector = CentralCollector(schemas, max_regions=1, max_values_per_dimension=max_values)
    began = time.perf_counter()
    for i in range(count):
        collector.handle(forged(i, start_ms + (i % WINDOWS) * MINUTE_MS), region="eu")
    seconds = time.perf_counter() - began
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"max_values": max_values, "count": count, "accepted": collector.accepted,
            "label_overflow": collector.ignored.get("label_overflow", 0),
            "cells": collector.state.cell_count(), "series": series_count(collector),
            "mib": current / 2**20, "peak_mib": peak / 2**20,
            "us_per_message": seconds / count * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    print("| value cap | forged aggregates | merged | label_overflow | cells | billing series "
          "samples | memory held (MiB) | peak (MiB) | µs/message |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for cap in (1000, args.count):
        r = run(args.count, cap)
        label = f"{cap:,}" + (" (default)" if cap == 1000 else " (no effective cap)")
        print(f"| {label} | {r['count']:,} | {r['accepted']:,} | {r['label_overflow']:,} | "
              f"{r['cells']:,} | {r['series']:,} | {r['mib']:.1f} | {r['peak_mib']:.1f} | "
              f"{r['us_per_message']:.0f} |")


if __name__ == "__main__":
    main()

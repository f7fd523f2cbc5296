"""Small builders shared by the pure-core tests (no Kafka)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson

from deidentify.schema import SchemaSet, load_schema_file

MINUTE = 60_000
T0 = 1_795_168_800_000  # 2026-11-20T10:00:00Z

COUNTS_SCHEMA = """\
name: calls
version: 1
description: counts by method
source: {{type: call, topic: raw.calls}}
window: {{size: 60s, grace: {grace}}}
dimensions:
  method: {{type: enum, field: method, values: [GET, POST, PUT, DELETE]}}
measures:
  latency_ms: {{type: histogram, field: latency_ms, buckets: [10, 100], min: 0, max: 1000}}
  bytes: {{type: sum, field: bytes, integer: true, min: 0, max: 1000000}}
  errors: {{type: count_if, field: status, gte: 500}}
privacy:
  subjects: [user]
  k: {k}
  caps: {{method: {cap}}}
  max_cells: {max_cells}
"""


def schema_set(text: str | None = None, *, k: int = 1, grace: str = "10s", cap: int = 500,
               max_cells: int = 2000) -> SchemaSet:
    if text is None:
        text = COUNTS_SCHEMA.format(k=k, grace=grace, cap=cap, max_cells=max_cells)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "schema.yaml"
        path.write_text(text)
        return SchemaSet.from_schemas([load_schema_file(path)], tmp)


def call(ts_ms: int, method: str = "GET", user: str = "u1", **extra) -> bytes:
    event = {"type": "call", "ts": ts_ms, "tenant_id": "acme", "method": method, "user": user,
             "latency_ms": 5, "bytes": 10, "status": 200}
    event.update(extra)
    return orjson.dumps(event)

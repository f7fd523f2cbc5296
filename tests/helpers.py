"""Small builders shared by the pure-core tests (no Kafka)."""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


# These unit tests of the pure core exercise single-event cells, so they lower the
# deployment's k floor (default 5) explicitly; nothing else ever runs below it.
UNIT_TEST_K_FLOOR = 1


def schema_file(path: Path, text: str, *, k_floor: int = UNIT_TEST_K_FLOOR):
    path.write_text(text)
    return load_schema_file(path, k_floor=k_floor)


def schema_set(text: str | None = None, *, k: int = 1, grace: str = "10s", cap: int = 500,
               max_cells: int = 2000, version: int = 1,
               k_floor: int = UNIT_TEST_K_FLOOR) -> SchemaSet:
    if text is None:
        text = COUNTS_SCHEMA.format(k=k, grace=grace, cap=cap, max_cells=max_cells)
        text = text.replace("version: 1", f"version: {version}", 1)
    with tempfile.TemporaryDirectory() as tmp:
        schema = schema_file(Path(tmp) / "schema.yaml", text, k_floor=k_floor)
        return SchemaSet.from_schemas([schema], tmp)


def call(ts_ms: int, method: str = "GET", user: str = "u1", **extra) -> bytes:
    event = {"type": "call", "ts": ts_ms, "tenant_id": "acme", "method": method, "user": user,
             "latency_ms": 5, "bytes": 10, "status": 200}
    event.update(extra)
    return orjson.dumps(event)


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every record logged in this process at DEBUG, as formatted text (with tracebacks, as
    logging's default formatter writes them: the no-leak tests read the worst case)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(old)

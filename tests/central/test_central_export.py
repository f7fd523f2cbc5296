"""Per-schema Prometheus series derived from the schema alone (deidentify.central.export)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from deidentify.central.export import CentralExport, label_name, series_names
from deidentify.errors import SchemaError
from deidentify.schema import load_schemas
from tests.central.central_helpers import SCHEMAS_DIR
from tests.central.new_schema import write_login_schema
from tests.helpers import metric_samples, parse_metrics


def login_schemas(tmp_path: Path):
    write_login_schema(tmp_path)
    return load_schemas(tmp_path)


def buckets(**counts: int) -> dict[str, int]:
    out = dict.fromkeys(["10", "50", "100", "250", "500", "1000", "2500", "+Inf"], 0)
    out.update({k.lstrip("b"): v for k, v in counts.items()})
    return out


def test_names_follow_the_rule(tmp_path: Path) -> None:
    schema = login_schemas(tmp_path).schemas[0]
    assert series_names(schema) == {
        "count": ("deidentify_login_attempts_events_total",),
        "latency_ms": ("deidentify_login_attempts_latency_ms_bucket",
                       "deidentify_login_attempts_latency_ms_sum",
                       "deidentify_login_attempts_latency_ms_count"),
        "mfa_prompts": ("deidentify_login_attempts_mfa_prompts_total",),
    }
    assert label_name("route") == "route"
    assert label_name("le") == "dim_le" and label_name("region") == "dim_region"


def test_a_new_schema_is_exported_with_its_dimensions_as_labels(tmp_path: Path) -> None:
    schemas = login_schemas(tmp_path)
    registry = CollectorRegistry()
    export = CentralExport(schemas.schemas, registry)
    export.export("eu", "login_attempts", ("sso", "success"),
                  {"count": 7, "mfa_prompts": 3,
                   "latency_ms": {"sum": 400.0, "buckets": buckets(b50=5, b500=2)}})
    export.export("eu", "login_attempts", ("sso", "success"),
                  {"count": 5, "mfa_prompts": 0,
                   "latency_ms": {"sum": 100.0, "buckets": buckets(b10=5)}})
    text = generate_latest(registry).decode()
    labels = {"region": "eu", "method": "sso", "outcome": "success"}
    assert metric_samples(text, "deidentify_login_attempts_events_total", **labels) == 12
    assert metric_samples(text, "deidentify_login_attempts_mfa_prompts_total", **labels) == 3
    assert metric_samples(text, "deidentify_login_attempts_latency_ms_count", **labels) == 12
    assert metric_samples(text, "deidentify_login_attempts_latency_ms_sum", **labels) == 500
    cumulative = {dict(pairs)["le"]: value for (name, pairs), value in parse_metrics(text).items()
                  if name == "deidentify_login_attempts_latency_ms_bucket"}
    assert cumulative["10.0"] == 5 and cumulative["50.0"] == 10 and cumulative["+Inf"] == 12


def test_the_shipped_schemas_export_without_naming_them() -> None:
    schemas = load_schemas(SCHEMAS_DIR)
    export = CentralExport(schemas.schemas, CollectorRegistry())
    assert sorted(export.by_name) == sorted(s.name for s in schemas.schemas)


def test_a_measure_named_events_is_refused(tmp_path: Path) -> None:
    path = write_login_schema(tmp_path)
    path.write_text(path.read_text().replace("mfa_prompts:", "events:"))
    with pytest.raises(SchemaError, match="events"):
        CentralExport(load_schemas(tmp_path).schemas, CollectorRegistry())


def test_swap_keeps_unchanged_series_and_adds_new_schemas(tmp_path: Path) -> None:
    shipped = load_schemas(SCHEMAS_DIR)
    registry = CollectorRegistry()
    export = CentralExport(shipped.schemas, registry)
    before = export.by_name["http_requests"]
    write_login_schema(tmp_path)
    export.swap_schemas(shipped.schemas + load_schemas(tmp_path).schemas)
    assert export.by_name["http_requests"] is before
    assert "login_attempts" in export.by_name
    export.swap_schemas(shipped.schemas)
    assert "login_attempts" not in export.by_name
    assert "deidentify_login_attempts" not in generate_latest(registry).decode()

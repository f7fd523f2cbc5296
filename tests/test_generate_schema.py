"""Synthetic events for a schema the generator has never seen (deidentify.generate_schema)."""

from __future__ import annotations

from pathlib import Path

import orjson

from deidentify.cli import main as cli_main
from deidentify.generate_schema import SchemaEventGenerator
from deidentify.pipeline import Pipeline
from deidentify.schema import load_schemas
from tests.central.new_schema import write_login_schema

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_795_168_800_000


def run_pipeline(schemas, events: list[dict]) -> tuple[list, dict]:
    pipeline = Pipeline(schemas, region="eu")
    pipeline.process_batch([(i, orjson.dumps(e)) for i, e in enumerate(events)])
    return pipeline.close_all(), dict(pipeline.drops)


def test_events_for_a_new_schema_fill_its_cells(tmp_path: Path) -> None:
    write_login_schema(tmp_path)
    schemas = load_schemas(tmp_path)
    (schema,) = schemas.schemas
    events = list(SchemaEventGenerator(schemas.schemas, seed=3, start_ms=T0,
                                       events_per_second=40).events(4800))
    assert {e["type"] for e in events} == {"login_attempt"}
    assert all(isinstance(e["user"]["id"], str) for e in events)
    aggs, drops = run_pipeline(schemas, events)
    rejected = {k: n for k, n in drops.items() if k[1] != "below_k"}
    assert rejected == {}, rejected           # every generated event passes extraction
    cells = [a.value for a in aggs if "__other__" not in a.value["dims"].values()]
    assert {c["dims"]["method"] for c in cells} >= {"password", "sso"}
    assert {c["dims"]["outcome"] for c in cells} >= {"success", "bad_password"}
    assert sum(c["measures"]["mfa_prompts"] for c in cells) > 0
    assert sum(c["measures"]["count"] for c in cells) > 0.8 * len(events)
    # histogram values fall inside several buckets, not one
    used = {k for c in cells for k, n in c["measures"]["latency_ms"]["buckets"].items() if n}
    assert len(used) >= 4
    assert schema.window.size_ms == 60_000


def test_the_shipped_schemas_get_events_that_pass_extraction() -> None:
    schemas = load_schemas(ROOT / "schemas")
    events = list(SchemaEventGenerator(schemas.schemas, seed=1, start_ms=T0,
                                       events_per_second=100).events(9000))
    aggs, drops = run_pipeline(schemas, events)
    assert {k: n for k, n in drops.items() if k[1] != "below_k"} == {}
    published = {a.value["schema"] for a in aggs}
    assert published == {"http_requests", "billing_totals", "webhook_deliveries"}


def test_same_seed_same_events(tmp_path: Path) -> None:
    write_login_schema(tmp_path)
    schemas = load_schemas(tmp_path).schemas

    def make(seed: int) -> list[dict]:
        return list(SchemaEventGenerator(schemas, seed=seed, start_ms=T0).events(200))
    assert make(5) == make(5)
    assert make(5) != make(6)


def test_cli_writes_events_for_a_schema_folder(tmp_path: Path) -> None:
    write_login_schema(tmp_path / "schemas")
    out = tmp_path / "events.jsonl"
    assert cli_main(["generate", "--schemas", str(tmp_path / "schemas"), "--count", "50",
                     "--out", str(out)]) == 0
    lines = out.read_bytes().splitlines()
    assert len(lines) == 50
    assert all(orjson.loads(line)["type"] == "login_attempt" for line in lines)

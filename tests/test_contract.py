"""The aggregate wire contract (deidentify.contract): one definition, read back the same.

An aggregate the pipeline builds goes through its JSON bytes into the central validator and
comes out as the same cell; the names of the closed sets are the strings the docs publish.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deidentify.central.validate import CENTRAL_REJECT_REASONS, Accepted, AggregateValidator
from deidentify.central.validate import __doc__ as VALIDATE_DOC
from deidentify.contract import (
    GUARD_ALLOW,
    INF,
    IP_PLACEHOLDER,
    OTHER,
    REGION_RE,
    Aggregate,
    Detector,
    DropReason,
    RefusalReason,
    RollupReason,
    bucket_key,
    bucket_keys,
    iso_utc,
    parse_iso_utc,
)
from deidentify.pipeline import DROP_REASONS, Pipeline
from deidentify.schema import default_schema_dir, load_schemas
from deidentify.schema.compile import Extracted
from tests.helpers import COUNTS_SCHEMA, MINUTE, T0, call, schema_set
from tests.strategies import garbage_event, hostile_event

DOCS = Path(__file__).resolve().parent.parent / "docs"


def fractional_schema():
    text = COUNTS_SCHEMA.format(k=1, grace="10s", cap=500, max_cells=2000)
    return schema_set(text.replace("buckets: [10, 100]", "buckets: [0.5, 2.5, 10, 100]"))


def published() -> tuple[object, list[Aggregate]]:
    schemas = fractional_schema()
    pipeline = Pipeline(schemas, region="eu-west")
    for i, (method, latency) in enumerate([("GET", 0.25), ("GET", 3), ("POST", 250),
                                           ("PUT", 2.5), ("GET", 99.5)]):
        pipeline.process(call(T0 + i * 1000, method=method, user=f"u{i}", latency_ms=latency,
                              status=500 if method == "POST" else 200), offset=i)
    return schemas, pipeline.close_all()


def test_an_aggregate_reads_back_the_same_through_json_and_central():
    schemas, aggregates = published()
    assert len(aggregates) == 3
    validator = AggregateValidator(schemas, now_ms=lambda: T0 + MINUTE)
    for agg in aggregates:
        assert isinstance(agg, Aggregate)
        result = validator.validate(agg.to_json())
        assert isinstance(result, Accepted), result
        valid = result.aggregate
        value = agg.value
        assert (valid.schema.name, valid.schema.version, valid.region) == (
            value["schema"], value["schema_version"], value["region"])
        assert (valid.window_start_ms, valid.window_end_ms) == (T0, T0 + MINUTE)
        assert valid.dims == tuple(value["dims"].values())
        assert valid.measures == value["measures"]
        # the Kafka key identifies the cell exactly as central does
        name, version, region, start, dims = orjson.loads(agg.key)
        assert (name, version, region, parse_iso_utc(start), tuple(dims)) == valid.cell_id


def test_the_published_json_spells_dates_and_bucket_keys_as_the_contract_says():
    _, aggregates = published()
    value = orjson.loads(aggregates[0].to_json())
    assert value.keys() == {"schema", "schema_version", "region", "window", "dims", "measures"}
    assert value["window"] == {"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T10:01:00Z"}
    assert list(value["measures"]["latency_ms"]["buckets"]) == ["0.5", "2.5", "10", "100", "+Inf"]


@given(st.integers(min_value=0, max_value=4_102_444_800))     # 1970 .. 2100, whole seconds
def test_iso_utc_reads_back(seconds):
    text = iso_utc(seconds * 1000)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", text)
    assert parse_iso_utc(text) == seconds * 1000


@pytest.mark.parametrize("text", ["2026-11-20T10:00:00", "2026-11-20T10:00:00+00:00",
                                  "2026-02-30T10:00:00Z", "2026-11-20 10:00:00Z", "", None, 0,
                                  "2026-11-20T10:00:00.1234Z"])
def test_parse_iso_utc_refuses_what_is_not_a_contract_date(text):
    assert parse_iso_utc(text) is None


def test_parse_iso_utc_reads_milliseconds():
    assert parse_iso_utc("2026-11-20T10:00:00.5Z") == T0 + 500


@pytest.mark.parametrize(("bound", "key"), [(5, "5"), (5.0, "5"), (2.5, "2.5"), (0.1, "0.1"),
                                            (1000, "1000"), (1e-05, "1e-05")])
def test_bucket_keys(bound, key):
    assert bucket_key(bound) == key


def test_bucket_keys_end_with_inf():
    assert bucket_keys([1, 2.5]) == ("1", "2.5", INF) == ("1", "2.5", "+Inf")


def test_placeholders_and_region_grammar():
    assert (OTHER, IP_PLACEHOLDER) == ("__other__", "{ip}")
    assert set(GUARD_ALLOW) == {"__other__", "{ip}", "none"}
    for good in ("eu", "us-east", "a" + "b" * 31):
        assert REGION_RE.match(good)
    for bad in ("EU", "1eu", "-eu", "eu_west", "a" + "b" * 32, ""):
        assert not REGION_RE.match(bad)


def backticked(row_start: str, path: Path) -> set[str]:
    """The `name` values of the docs table row that starts with ``row_start``."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(row_start):
            description = line.split("|")[3]
            return set(re.findall(r"`([a-z_0-9]+)`", description))
    raise AssertionError(f"no row {row_start!r} in {path.name}")


def test_drop_reasons_are_the_documented_label_values():
    documented = backticked("| `deid_sidecar_events_dropped_total`", DOCS / "sidecar.md")
    assert {r.value for r in DropReason} == documented
    assert set(DROP_REASONS) == documented and len(DROP_REASONS) == len(DropReason)


def test_rollup_reasons_are_the_documented_label_values():
    documented = backticked("| `deid_sidecar_events_rolled_up_total`", DOCS / "sidecar.md") - {OTHER}
    assert {r.value for r in RollupReason} == documented == {"below_k", "over_cap"}


def test_detectors_are_the_documented_label_values():
    documented = backticked("| `deid_sidecar_guard_hits_total`", DOCS / "sidecar.md")
    assert {d.value for d in Detector} == documented


def test_every_central_refusal_reason_is_documented_where_the_checks_are():
    assert CENTRAL_REJECT_REASONS == tuple(r.value for r in RefusalReason)
    assert all(type(r) is str for r in CENTRAL_REJECT_REASONS)
    missing = [r.value for r in RefusalReason if re.search(rf"\b{r.value}\b", VALIDATE_DOC) is None]
    assert missing == []


def test_reason_members_are_their_strings_in_json_and_labels():
    assert orjson.dumps([DropReason.LATE, RefusalReason.REGION_MISMATCH, Detector.CARD]) == \
        b'["late","region_mismatch","card_number"]'
    assert f"{DropReason.BELOW_K}" == str(DropReason.BELOW_K) == "below_k"
    assert type(str(RollupReason.OVER_CAP)) is str


SHIPPED = load_schemas(default_schema_dir()).compiled


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(event=st.one_of(hostile_event(), garbage_event()))
def test_extract_returns_an_extracted_tuple_or_a_drop_reason_member(event):
    """The pipeline tells the two apart with ``type(x) is DropReason``: a plain str reason
    would be read as an Extracted tuple, so both extract versions must return members."""
    if not isinstance(event, dict):
        return
    for cs in SHIPPED:
        for result in (cs.extract(event), cs.extract_reference(event)):
            assert type(result) is DropReason or type(result) is Extracted, cs.name

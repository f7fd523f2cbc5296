"""The generated extractor equals its closure reference on every input (differential test)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deidentify.schema import SchemaSet, default_schema_dir, load_schema_file, load_schemas
from deidentify.schema.codegen import generate_source
from tests.helpers import schema_set
from tests.strategies import garbage_event, hostile_event

ALL_TYPES = """\
name: all_types
version: 1
description: every dimension type, nested fields, all measure kinds
source: {type: http_request, topic: raw.all}
window: {size: 10s}
dimensions:
  tenant: {type: id, field: tenant_id}
  cls: {type: status_class, field: status}
  ok: {type: bool, field: meta.ok}
  host: {type: host, field: url}
  route:
    type: route
    field: route
    url_field: url
    routes: ["/v1/x/{id}", "/v1/accounts/{id}/members/{member}", /v1/x/getUserProfile]
measures:
  lat: {type: sum, field: latency_ms, min: 0, max: 100}
  n: {type: histogram, field: meta.deep.n, buckets: [1, 2], min: -5, max: 5, integer: true}
  is_get: {type: count_if, field: method, equals: GET}
  small: {type: count_if, field: latency_ms, lt: 10}
privacy:
  subjects: [user.id, user.email, client_ip, meta.deep.who]
  k: 1
"""

# declared_routes.yaml: a route dimension with declared routes and an OpenAPI import.
SETS: list[SchemaSet] = [load_schemas(default_schema_dir()), schema_set(),
                         schema_set(ALL_TYPES),
                         SchemaSet.from_schemas([load_schema_file(
                             Path(__file__).parent / "testdata" / "declared_routes.yaml")])]
COMPILED = [cs for s in SETS for cs in s.compiled]


def extra_shapes():
    """Events that hit the typed branches the hostile strategies rarely reach."""
    value = st.one_of(st.none(), st.booleans(), st.integers(-10**15, 10**15),
                      st.floats(allow_nan=True), st.text(max_size=12),
                      st.sampled_from(["GET", "EUR", "acme", "2026-11-20T10:00:00Z", ""]),
                      st.lists(st.integers(), max_size=2))
    return st.fixed_dictionaries(
        {"type": st.sampled_from(["http_request", "call", "billing_charge",
                                  "webhook_delivery"]),
         "tenant_id": st.one_of(st.sampled_from(["acme", "t-1"]), st.sampled_from(["acme"]),
                                value),
         "ts": st.one_of(st.integers(1, 10**13 - 1), st.integers(-1, 2 * 10**13), value,
                         st.just("2026-11-20T10:00:00+02:00")),
         "url": st.sampled_from(["https://a.example.com/v1/x/123", "/p", "",
                                 "https://alice.github.io/h", "/v1/accounts/a/members/b",
                                 "/v1/x/getUserProfile", "/v1/users/alice.smith/profile"])},
        optional={"status": st.one_of(st.sampled_from([99, 100, 101, 200, 499, 500, 599, 600]),
                                      st.integers(90, 610), value),
                  "method": value, "latency_ms": value, "bytes": value, "user": value,
                  "currency": value, "amount_minor": value, "success": value,
                  "meta": st.fixed_dictionaries({}, optional={
                      "ok": value, "deep": st.fixed_dictionaries({}, optional={
                          "n": value, "who": value})}),
                  "route": st.one_of(st.sampled_from(["/v1/x/{id}", "/v1/x/getUserProfile",
                                                      "/v1/orders/{orderId}"]), value)})


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(event=st.one_of(hostile_event(), garbage_event(), extra_shapes()))
def test_generated_extract_equals_reference(event):
    if not isinstance(event, dict):
        return
    for cs in COMPILED:
        got, want = cs.extract(event), cs.extract_reference(event)
        assert type(got) is type(want), cs.name
        assert got == want or (got != got and want != want), cs.name


def test_generated_source_splices_no_schema_values():
    """Only validated identifiers reach the source; vocabularies and bounds are constants."""
    for s in SETS:
        for schema in s.schemas:
            source, consts = generate_source(schema)
            for dim in schema.dimensions:
                for value in dim.values or ():
                    assert repr(value) not in source
            assert "import" not in source and "__" not in source.replace("__class__", "")
            assert all(name.isupper() or "_" in name for name in consts)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(event=extra_shapes())
def test_generated_extract_equals_reference_on_typed_edges(event):
    for cs in COMPILED:
        got, want = cs.extract(event), cs.extract_reference(event)
        assert type(got) is type(want), cs.name
        assert got == want or (got != got and want != want), cs.name


EDGE_VALUES = [None, True, False, 0, 1, -1, 99, 100, 101, 200, 499, 500, 599, 600, 10**13,
               10**13 - 1, 2.5, float("nan"), float("inf"), -0.0, "", "GET", "get", "EUR",
               "acme", "bad id!", "2026-11-20T10:00:00Z", "2026-11-20", [], {}, {"id": "u1"},
               {"ok": True, "deep": {"n": 3, "who": 7}}, {"deep": {"n": 2.5}}]
BASES = [
    {"type": "http_request", "ts": 1_795_168_800_000, "tenant_id": "acme", "method": "GET",
     "url": "https://api.example.com/v1/orders/123", "route": "/v1/orders/{id}",
     "status": 200, "latency_ms": 12, "user": {"id": "u1"}, "client_ip": "192.0.2.1",
     "meta": {"ok": True, "deep": {"n": 1, "who": "w"}}},
    {"type": "billing_charge", "ts": "2026-11-20T10:00:00Z", "tenant_id": "acme",
     "customer_id": "cus_1", "currency": "EUR", "amount_minor": 100},
    {"type": "webhook_delivery", "ts": 1_795_168_800_000, "tenant_id": "acme",
     "endpoint_url": "https://alice.github.io/h", "event_type": "invoice.paid", "attempt": 1,
     "response_status": None, "success": True, "duration_ms": 80},
    {"type": "call", "ts": 1_795_168_800_000, "tenant_id": "acme", "method": "GET",
     "user": "u1", "latency_ms": 5, "bytes": 10, "status": 200},
]
FIELDS = sorted({key for base in BASES for key in base if key != "type"}
                | {"user", "client_ip", "meta"})


def test_generated_extract_equals_reference_for_every_field_and_edge_value():
    compared = differing = 0
    for base in BASES:
        for field in FIELDS:
            for value in EDGE_VALUES:
                event = dict(base)
                event[field] = value
                for cs in COMPILED:
                    got, want = cs.extract(event), cs.extract_reference(event)
                    compared += 1
                    same = type(got) is type(want) and (
                        got == want or repr(got) == repr(want))
                    differing += not same
    assert compared > 10_000
    assert differing == 0, f"{differing} of {compared} extractions differ"

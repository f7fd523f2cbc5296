"""Central re-validation (privacy layer 6): table-driven forged aggregates, no broker."""

from __future__ import annotations

import copy
import logging

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deidentify.central.validate import (
    CENTRAL_REJECT_REASONS,
    Accepted,
    AggregateValidator,
    Rejected,
)
from deidentify.dimensions.route import RouteTemplate, RouteVocabulary
from deidentify.privacy.guard import Detector
from deidentify.schema import load_schemas
from tests.central.central_helpers import (
    SCHEMAS_DIR,
    SECRET_CARD,
    SECRET_EMAIL,
    forged_cases,
    real_aggregates,
)

T0_MS = 1_795_435_200_000  # 2026-11-23T12:00:00Z: "now" for the window checks
WINDOW_MS = 1_795_168_800_000  # 2026-11-20T10:00:00Z


def http_aggregate(**changes) -> dict:
    agg = {
        "schema": "http_requests", "schema_version": 1, "region": "eu",
        "window": {"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T10:01:00Z"},
        "dims": {"method": "GET", "route": "/v1/orders/{id}", "status": 200},
        "measures": {"count": 5, "errors": 0, "latency_ms": {"sum": 173, "buckets": {
            "5": 1, "10": 1, "25": 1, "50": 1, "100": 0, "250": 1, "500": 0, "1000": 0,
            "2500": 0, "5000": 0, "10000": 0, "+Inf": 0}}},
    }
    agg.update(changes)
    return agg


def billing_aggregate(tenant="acme", currency="EUR", count=6, amount=4200) -> dict:
    return {"schema": "billing_totals", "schema_version": 1, "region": "us",
            "window": {"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T10:01:00Z"},
            "dims": {"tenant": tenant, "currency": currency},
            "measures": {"count": count, "amount_minor": amount}}


SCHEMAS = load_schemas(SCHEMAS_DIR)
VALIDATOR = AggregateValidator(SCHEMAS, now_ms=lambda: T0_MS)
(_ROUTE_DIM,) = [d for s in SCHEMAS.schemas if s.name == "http_requests"
                 for d in s.dimensions if d.name == "route"]
# The sidecar's templater for that dimension: a route is one it could have published exactly
# when templating it again changes nothing (the independent oracle for the central check).
SIDECAR_TEMPLATER = RouteTemplate(vocabulary=RouteVocabulary(_ROUTE_DIM.declared_routes))


def sidecar_would_publish(route: str) -> bool:
    return SIDECAR_TEMPLATER(route, None) == route


@pytest.fixture(scope="module")
def validator() -> AggregateValidator:
    return VALIDATOR


def validate(validator: AggregateValidator, obj) -> Accepted | Rejected:
    return validator.validate(orjson.dumps(obj))


def with_(base: dict, path: tuple, value) -> dict:
    obj = copy.deepcopy(base)
    node = obj
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return obj


DELETE = object()
HTTP = http_aggregate()

# name, aggregate, expected reason (None: accepted)
CASES = [
    ("valid http", HTTP, None),
    ("valid billing", billing_aggregate(), None),
    ("__other__ roll-up cell", with_(with_(with_(HTTP, ("dims", "method"), "__other__"),
                                       ("dims", "route"), "__other__"),
                                  ("dims", "status"), "__other__"), None),
    ("events without latency: buckets below count",
     with_(HTTP, ("measures", "latency_ms", "buckets", "250"), 0), None),
    # guard, first: personal data anywhere is a guard hit whatever else is wrong
    ("email in route", with_(HTTP, ("dims", "route"), f"/v1/users/{SECRET_EMAIL}"), "guard_hit"),
    ("percent-encoded email in route", with_(HTTP, ("dims", "route"), "/v1/u/bob%40example.com"),
     "guard_hit"),
    ("email in tenant", billing_aggregate(tenant=SECRET_EMAIL), "guard_hit"),
    ("card number as tenant", billing_aggregate(tenant=SECRET_CARD), "guard_hit"),
    ("card number as integer dim", billing_aggregate(tenant=int(SECRET_CARD)), "guard_hit"),
    ("ip in an unknown field", dict(HTTP, client_ip="192.0.2.44"), "guard_hit"),
    ("email as a dimension key", with_(HTTP, ("dims", SECRET_EMAIL), "x"), "guard_hit"),
    ("jwt in region", with_(HTTP, ("region",), "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefgh"),
     "guard_hit"),
    # shape
    ("unknown top-level field", dict(HTTP, note="hello"), "unknown_field"),
    ("missing window", with_(HTTP, ("window",), DELETE), "missing_field"),
    ("unknown schema", with_(HTTP, ("schema",), "users"), "unknown_schema"),
    ("schema name not a string", with_(HTTP, ("schema",), 7), "unknown_schema"),
    ("wrong version", with_(HTTP, ("schema_version",), 2), "unknown_version"),
    ("version as string", with_(HTTP, ("schema_version",), "1"), "unknown_version"),
    ("version as bool", with_(HTTP, ("schema_version",), True), "unknown_version"),
    ("uppercase region", with_(HTTP, ("region",), "EU"), "invalid_region"),
    ("region with underscore", with_(HTTP, ("region",), "eu_west"), "invalid_region"),
    ("empty region", with_(HTTP, ("region",), ""), "invalid_region"),
    # window
    ("window not ISO", with_(HTTP, ("window", "start"), "20 Nov 2026 10:00"), "invalid_window"),
    ("window with offset", with_(HTTP, ("window", "start"), "2026-11-20T10:00:00+00:00"),
     "invalid_window"),
    ("window wrong size", with_(HTTP, ("window", "end"), "2026-11-20T10:02:00Z"), "invalid_window"),
    ("window misaligned", with_(with_(HTTP, ("window", "start"), "2026-11-20T10:00:30Z"),
                                ("window", "end"), "2026-11-20T10:01:30Z"), "invalid_window"),
    ("window far in the future", with_(with_(HTTP, ("window", "start"), "2030-01-01T00:00:00Z"),
                                       ("window", "end"), "2030-01-01T00:01:00Z"),
     "window_out_of_horizon"),
    ("window extra key", with_(HTTP, ("window", "tz"), "UTC"), "invalid_window"),
    ("impossible date", with_(with_(HTTP, ("window", "start"), "2026-02-30T10:00:00Z"),
                              ("window", "end"), "2026-02-30T10:01:00Z"), "invalid_window"),
    # dimensions
    ("undeclared dimension", with_(HTTP, ("dims", "client"), "web"), "undeclared_dimension"),
    ("missing dimension", with_(HTTP, ("dims", "status"), DELETE), "missing_dimension"),
    ("dims not an object", with_(HTTP, ("dims",), ["GET"]), "missing_dimension"),
    ("raw path as route", with_(HTTP, ("dims", "route"), "/v1/orders/98765432"),
     "invalid_dimension"),
    ("route with query", with_(HTTP, ("dims", "route"), "/v1/orders?id=x"), "invalid_dimension"),
    # forged strings that start with "/" but are no route the sidecar publishes
    ("slash then prose", with_(HTTP, ("dims", "route"), "/call me on saturday"),
     "invalid_dimension"),
    ("unknown placeholder", with_(HTTP, ("dims", "route"), "/v1/orders/{bogus}"),
     "invalid_dimension"),
    ("unclosed placeholder", with_(HTTP, ("dims", "route"), "/v1/orders/{id"),
     "invalid_dimension"),
    ("empty segments", with_(HTTP, ("dims", "route"), "//v1//orders"), "invalid_dimension"),
    ("dot segments", with_(HTTP, ("dims", "route"), "/v1/../orders"), "invalid_dimension"),
    ("hex token segment", with_(HTTP, ("dims", "route"), "/v1/orders/9f86d081884c7d65"),
     "guard_hit"),
    ("unknown literal", with_(HTTP, ("dims", "route"), "/v1/zzqxj"), "invalid_dimension"),
    ("full url as route", with_(HTTP, ("dims", "route"), "https://api.example.com/v1/orders"),
     "invalid_dimension"),
    ("lowercase method", with_(HTTP, ("dims", "method"), "get"), "invalid_dimension"),
    ("status out of range", with_(HTTP, ("dims", "status"), 600), "invalid_dimension"),
    ("status as string", with_(HTTP, ("dims", "status"), "200"), "invalid_dimension"),
    ("status as bool", with_(HTTP, ("dims", "status"), True), "invalid_dimension"),
    ("currency outside vocabulary", billing_aggregate(currency="XYZ"), "invalid_dimension"),
    ("tenant with a space", billing_aggregate(tenant="acme corp"), "invalid_dimension"),
    ("tenant too long", billing_aggregate(tenant="a" * 65), "invalid_dimension"),
    ("tenant as number", billing_aggregate(tenant=42), "invalid_dimension"),
    # measures
    ("missing count", with_(HTTP, ("measures", "count"), DELETE), "missing_measure"),
    ("missing declared measure", with_(HTTP, ("measures", "errors"), DELETE), "missing_measure"),
    ("undeclared measure", with_(HTTP, ("measures", "bytes"), 10), "undeclared_measure"),
    ("negative count", with_(HTTP, ("measures", "count"), -5), "invalid_measure"),
    ("zero count", with_(HTTP, ("measures", "count"), 0), "invalid_measure"),
    ("float count", with_(HTTP, ("measures", "count"), 5.0), "invalid_measure"),
    ("bool count_if", with_(HTTP, ("measures", "errors"), True), "invalid_measure"),
    ("count_if above count", with_(HTTP, ("measures", "errors"), 6), "invalid_measure"),
    ("negative sum", billing_aggregate(amount=-1), "out_of_bounds"),
    ("float amount for an integer sum", billing_aggregate(amount=4200.5), "invalid_measure"),
    ("sum above count times max", billing_aggregate(count=6, amount=6 * 100_000_000_000 + 1),
     "out_of_bounds"),
    ("string measure", with_(HTTP, ("measures", "errors"), "0"), "invalid_measure"),
    ("histogram sum negative", with_(HTTP, ("measures", "latency_ms", "sum"), -1),
     "out_of_bounds"),
    ("histogram extra key", with_(HTTP, ("measures", "latency_ms", "max"), 3), "invalid_measure"),
    ("wrong bucket bounds", with_(with_(HTTP, ("measures", "latency_ms", "buckets", "5"), DELETE),
                                  ("measures", "latency_ms", "buckets", "7"), 1),
     "invalid_buckets"),
    ("missing +Inf bucket", with_(HTTP, ("measures", "latency_ms", "buckets", "+Inf"), DELETE),
     "invalid_buckets"),
    ("buckets above count", with_(HTTP, ("measures", "latency_ms", "buckets", "+Inf"), 3),
     "invalid_buckets"),
    ("negative bucket", with_(HTTP, ("measures", "latency_ms", "buckets", "100"), -1),
     "invalid_buckets"),
    # k
    ("count below k", billing_aggregate(count=4, amount=10), "below_k"),
    # bounds: numbers that fit the grammar but no correct sidecar can publish
    ("count of a luhn-valid card number", with_(HTTP, ("measures", "count"), 4242424242424242),
     "guard_hit"),
    ("count of 16 digits, not a card", with_(HTTP, ("measures", "count"), 4242424242424241),
     "out_of_bounds"),
    ("count at the bound of a 60s window", with_(HTTP, ("measures", "count"), 60_000_000), None),
    ("count above the bound of a 60s window", with_(HTTP, ("measures", "count"), 60_000_001),
     "out_of_bounds"),
    ("card number as a sum inside its bound",
     billing_aggregate(count=60_000, amount=4242424242424242), "guard_hit"),
    ("16-digit sum inside its bound, not a card",
     billing_aggregate(count=60_000, amount=4242424242424241), None),
    ("card number as a float histogram sum",
     with_(HTTP, ("measures", "latency_ms", "sum"), 4242424242424242.0), "guard_hit"),
    ("card number as a bucket count",
     with_(HTTP, ("measures", "latency_ms", "buckets", "+Inf"), 4242424242424242), "guard_hit"),
    ("card number as a count_if", with_(HTTP, ("measures", "errors"), 4242424242424242),
     "guard_hit"),
    # horizon: T0_MS is 2026-11-23T12:00:00Z
    ("window dated 1970", with_(with_(HTTP, ("window", "start"), "1970-01-01T00:00:00Z"),
                                ("window", "end"), "1970-01-01T00:01:00Z"),
     "window_out_of_horizon"),
    ("window ending just over 7 days ago",
     with_(with_(HTTP, ("window", "start"), "2026-11-16T11:58:00Z"),
           ("window", "end"), "2026-11-16T11:59:00Z"), "window_out_of_horizon"),
    ("window ending 7 days ago", with_(with_(HTTP, ("window", "start"), "2026-11-16T11:59:00Z"),
                                      ("window", "end"), "2026-11-16T12:00:00Z"), None),
    ("window 30 minutes ahead (clock skew)",
     with_(with_(HTTP, ("window", "start"), "2026-11-23T12:30:00Z"),
           ("window", "end"), "2026-11-23T12:31:00Z"), None),
    ("window 2 hours ahead", with_(with_(HTTP, ("window", "start"), "2026-11-23T14:00:00Z"),
                                   ("window", "end"), "2026-11-23T14:01:00Z"),
     "window_out_of_horizon"),
]


@pytest.mark.parametrize(("name", "obj", "reason"), CASES, ids=[c[0] for c in CASES])
def test_case(validator: AggregateValidator, name: str, obj: dict, reason: str | None) -> None:
    result = validate(validator, obj)
    if reason is None:
        assert isinstance(result, Accepted), result
    else:
        assert result == Rejected(reason, result.detector)
        assert (result.detector is not None) == (reason == "guard_hit")


def test_every_case_reason_is_in_the_closed_set() -> None:
    assert {reason for _n, _o, reason in CASES if reason} <= set(CENTRAL_REJECT_REASONS)


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "invalid_json"),
    (b"{", "invalid_json"),
    (b"\xff\xfe", "invalid_json"),
    (b"NaN", "invalid_json"),
    (b"[1, 2]", "not_an_object"),
    (b'"http_requests"', "not_an_object"),
    (None, "invalid_json"),
    (b"{" + b'"a": 1,' * 20_000 + b'"b": 2}', "too_large"),
])
def test_undecodable(validator: AggregateValidator, raw, reason: str) -> None:
    assert validator.validate(raw) == Rejected(reason)


def test_guard_names_the_detector(validator: AggregateValidator) -> None:
    assert validate(validator, billing_aggregate(tenant=SECRET_CARD)).detector is Detector.CARD
    email = with_(HTTP, ("dims", "route"), f"/v1/users/{SECRET_EMAIL}")
    assert validate(validator, email).detector is Detector.EMAIL


@pytest.mark.parametrize("aggregate", [
    billing_aggregate(tenant="john_smith_london"),
    with_(HTTP, ("dims", "route"), "/users/jane.doe/home-address-main-street"),
], ids=["tenant", "route"])
def test_guard_refuses_person_names(validator: AggregateValidator, aggregate: dict) -> None:
    assert validate(validator, aggregate) == Rejected("guard_hit", Detector.PERSON_NAME)


def test_accepted_is_normalised(validator: AggregateValidator) -> None:
    reordered = http_aggregate(dims={"status": 200, "route": "/v1/orders/{id}", "method": "GET"})
    result = validate(validator, reordered)
    assert isinstance(result, Accepted)
    agg = result.aggregate
    assert agg.dims == ("GET", "/v1/orders/{id}", 200)
    assert agg.cell_id == ("http_requests", 1, "eu", WINDOW_MS, ("GET", "/v1/orders/{id}", 200))
    assert agg.window_end_ms - agg.window_start_ms == 60_000
    assert list(agg.measures["latency_ms"]["buckets"])[-1] == "+Inf"


def test_every_real_aggregate_is_accepted() -> None:
    """What the real pipeline publishes for generated traffic passes re-validation."""
    aggs = real_aggregates("eu", events=6000) + real_aggregates("us-east", events=3000, seed=2)
    validator = AggregateValidator(load_schemas(SCHEMAS_DIR))
    assert aggs
    results = [validator.validate(a.to_json()) for a in aggs]
    assert [r for r in results if not isinstance(r, Accepted)] == []


def test_forged_real_aggregates_are_rejected() -> None:
    aggs = real_aggregates("eu", events=6000)
    validator = AggregateValidator(load_schemas(SCHEMAS_DIR))
    for name, (obj, reason) in forged_cases(aggs).items():
        result = validator.validate(orjson.dumps(obj))
        assert isinstance(result, Rejected) and result.reason == reason, name


def test_rejections_keep_and_log_nothing(validator: AggregateValidator, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [SECRET_EMAIL, SECRET_CARD, "98765432"]
    for _name, obj, reason in CASES:
        result = validate(validator, obj)
        if reason is not None:
            text = repr(result) + str(result)
            assert not any(s in text for s in secrets)
    assert not any(s in caplog.text for s in secrets)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10),
                                                                      children, max_size=4),
    max_leaves=20)


@given(st.dictionaries(st.sampled_from(["schema", "schema_version", "region", "window", "dims",
                                        "measures", "x"]), json_values, max_size=7))
def test_never_raises_on_any_object(obj: dict) -> None:
    result = VALIDATOR.validate(orjson.dumps(obj))
    assert isinstance(result, Accepted | Rejected)
    if isinstance(result, Rejected):
        assert result.reason in CENTRAL_REJECT_REASONS


@given(st.sampled_from(["method", "route", "status"]), json_values)
def test_any_dimension_mutation_is_accepted_only_if_grammatical(dim: str, value) -> None:
    result = validate(VALIDATOR, with_(HTTP, ("dims", dim), value))
    if isinstance(result, Accepted):
        assert result.aggregate.dims_dict()[dim] == value
        assert value == "__other__" or (dim == "method" and value in {
            "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}) or (
            dim == "status" and type(value) is int and 100 <= value <= 599) or (
            dim == "route" and type(value) is str and sidecar_would_publish(value))


ROUTE_LIKE = st.text(alphabet="/{}_-.%@:~ abcdefghijklmnopqrstuvwxyz0123456789", max_size=40)


@given(st.one_of(ROUTE_LIKE.map(lambda t: "/" + t),
                 st.sampled_from(["/v1/orders/{id}", "/healthz", "/v1/orders", "/v1/me"])))
def test_a_route_is_accepted_only_if_the_sidecar_could_have_published_it(route: str) -> None:
    """Not "any string starting with /": the route grammar and literal rules the sidecar
    publishes with (re-templating an accepted route changes nothing)."""
    result = validate(VALIDATOR, with_(HTTP, ("dims", "route"), route))
    if isinstance(result, Accepted):
        assert sidecar_would_publish(route)


def test_constructor_checks() -> None:
    schemas = load_schemas(SCHEMAS_DIR)
    with pytest.raises(ValueError, match="max_bytes cannot be smaller than 1"):
        AggregateValidator(schemas, max_bytes=0)
    with pytest.raises(ValueError, match="max_future_ms cannot be smaller than 0ms"):
        AggregateValidator(schemas, max_future_ms=-1)
    with pytest.raises(ValueError, match="max_age_ms cannot be smaller than 0ms"):
        AggregateValidator(schemas, max_age_ms=-1)
    with pytest.raises(ValueError, match="max_events_per_s cannot be smaller than 1"):
        AggregateValidator(schemas, max_events_per_s=0)


def test_duplicate_keys_the_last_value_wins(validator: AggregateValidator) -> None:
    """The rule of the raw decode (sidecar, preview) holds for aggregates too: the last value
    of a repeated key is the one validated (schemas/README.md, "Duplicate keys")."""
    raw = orjson.dumps(http_aggregate())
    twice = raw.replace(b'"dims":{"method":"GET"', b'"dims":{"method":"PUT","method":"GET"')
    twice = twice[:-1] + b',"region":"us","region":"eu"}'
    assert twice != raw
    result = validator.validate(twice)
    assert isinstance(result, Accepted)
    assert result.aggregate.dims[0] == "GET" and result.aggregate.region == "eu"
    last_is_forged = raw[:-1] + b',"region":"not a region!"}'
    assert validator.validate(last_is_forged) == Rejected("invalid_region")

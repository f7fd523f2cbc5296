"""A route dimension's declared literals: ``routes`` and ``openapi`` parsing, errors, compile."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from deidentify.central.validate import Accepted, AggregateValidator, Rejected
from deidentify.dimensions.route import RouteVocabulary, is_valid_route
from deidentify.errors import SchemaError
from deidentify.schema import SchemaSet, check_compatible, load_schema_file
from deidentify.schema.lint import route_literal_sources
from deidentify.schema.openapi import load_openapi_routes

TESTDATA = Path(__file__).parent / "testdata"
DECLARED = TESTDATA / "declared_routes.yaml"

BASE = """\
name: demo
version: 1
description: a test schema
source: {type: http_request, topic: raw.http}
window: {size: 60s}
dimensions:
  route:
    type: route
    field: route
    url_field: url
    routes:
      - /v1/orders/{id}
      - /v1/users/{user}/profile
measures: {}
privacy:
  subjects: [user.id]
  k: 5
"""

OPENAPI = """\
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /v1/patients/{patientId}/records:
    get: {}
  /v1/wards:
    get: {}
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def route_dim(schema):
    return next(d for d in schema.dimensions if d.type == "route")

ROUTES = "routes:\n      - /v1/orders/{id}\n      - /v1/users/{user}/profile"

# ----------------------------------------------------------------------------- parsing


def test_routes_are_normalised_in_order():
    schema = load_schema_file(DECLARED)
    dim = route_dim(schema)
    assert dim.routes == ("/v1/accounts/{id}/members/{member}", "/internal/ashworth-report")
    assert dim.openapi == "openapi/shop.yaml"
    assert dim.declared_routes[:2] == dim.routes


def test_openapi_yaml_import_applies_servers_and_skips_extensions():
    routes = load_openapi_routes(TESTDATA / "openapi" / "shop.yaml", schema_file="s.yaml")
    # Both servers resolve to /v1 (variables take their default); x- keys are skipped.
    assert routes == (
        "/v1/orders",
        "/v1/orders/{orderid}",
        "/v1/accounts/{accountid}/members/{memberslug}",
        "/v1/reports/{name}",        # {name}.{format}: a mixed segment is a placeholder
        "/v1/orders/{id}",           # {id}:cancel
        "/v1/hash/sha256",
        "/v1/storefront/getuserprofile",
        "/v1/weird/{seg}",           # a literal that cannot be published
    )


def test_openapi_json_import():
    routes = load_openapi_routes(TESTDATA / "openapi" / "shop.json", schema_file="s.yaml")
    assert routes == ("/v2/carts/{cartid}", "/v2/carts/{cartid}/lineitems", "/v2/wishlists")


def test_openapi_without_paths_declares_nothing(tmp_path):
    path = write(tmp_path, "openapi: 3.1.0\ninfo: {title: t, version: '1'}\nwebhooks: {}\n",
                 "api.yaml")
    assert load_openapi_routes(path, schema_file="s.yaml") == ()


def test_openapi_server_paths_multiply_routes(tmp_path):
    path = write(tmp_path, "openapi: 3.0.0\nservers: [{url: 'https://a.example/api/'}, "
                           "{url: /}]\npaths:\n  /x/{id}: {}\n", "api.yaml")
    assert load_openapi_routes(path, schema_file="s.yaml") == ("/api/x/{id}", "/x/{id}")


# ----------------------------------------------------------------------------- errors

# (case id, schema text, openapi text or None, file that is blamed, line, message, fix)
BROKEN = [
    ("routes-not-a-list", BASE.replace(ROUTES, "routes: /v1/orders"),
     None, "schema", 11, "'routes' must be a non-empty list", "routes: [/v1/orders"),
    ("routes-empty", BASE.replace(ROUTES, "routes: []"),
     None, "schema", 11, "'routes' must be a non-empty list", "e.g. routes"),
    ("route-not-template", BASE.replace("/v1/users/{user}/profile", "v1/users"),
     None, "schema", 13, "route 2 is not a route template", "/v1/orders/{id}"),
    ("route-bad-segment", BASE.replace("/v1/users/{user}/profile", "/v1/users/a b"),
     None, "schema", 13, "segment 3 must be a literal", "/v1/orders/{id}"),
    ("route-same-shape", BASE.replace("/v1/users/{user}/profile", "/v1/Orders/{order_id}"),
     None, "schema", 13, "same shape as route 1", "keep one"),
    ("routes-typo", BASE.replace("    routes:", "    route:"),
     None, "schema", 11, "unknown key 'route'", "did you mean 'routes'"),
    ("routes-on-enum", BASE.replace(
        "  route:\n", "  method: {type: enum, field: method, values: http_methods, "
                      "routes: [/x]}\n  route:\n"),
     None, "schema", 7, "unknown key 'routes'", "allowed keys"),
    ("openapi-missing-file", BASE.replace("    routes:", "    openapi: nope.yaml\n    routes:"),
     None, "schema", 11, "cannot read the OpenAPI document", "relative to the schema file"),
    ("openapi-not-a-string", BASE.replace("    routes:", "    openapi: [a]\n    routes:"),
     None, "schema", 11, "'openapi' must be a non-empty string", "OpenAPI 3 document"),
    ("openapi-bad-yaml", BASE.replace("    routes:", "    openapi: api.yaml\n    routes:"),
     "openapi: 3.0.0\npaths:\n  /x: [1\n", "openapi", 4, "not valid YAML", "indentation"),
    ("openapi-not-openapi3", BASE.replace("    routes:", "    openapi: api.yaml\n    routes:"),
     "info: {title: t}\nopenapi: 2.5.0\npaths: {}\n", "openapi", 2, "not an OpenAPI 3",
     "OpenAPI 3 document"),
    ("openapi-swagger2", BASE.replace("    routes:", "    openapi: api.yaml\n    routes:"),
     "info: {title: t}\nswagger: '2.0'\npaths: {}\n", "openapi", 2, "Swagger 2.0",
     "convert it to OpenAPI 3"),
    ("openapi-not-a-mapping", BASE.replace("    routes:", "    openapi: api.yaml\n    routes:"),
     "- a\n- b\n", "openapi", 1, "must be a mapping", "OpenAPI 3 document"),
    ("openapi-paths-not-mapping", BASE.replace("    routes:", "    openapi: api.yaml\n    routes:"),
     "openapi: 3.0.0\npaths: [/x]\n", "openapi", 2, "'paths' must be a mapping", "paths:"),
    ("openapi-path-no-slash", BASE.replace("    routes:", "    openapi: api.yaml\n    routes:"),
     "openapi: 3.0.0\npaths:\n  /ok: {}\n  orders/{id}: {}\n", "openapi", 4,
     "must start with '/'", "/resource/{id}"),
    ("openapi-path-too-deep", BASE.replace("    routes:", "    openapi: api.yaml\n    routes:"),
     "openapi: 3.0.0\npaths:\n  " + "/a" * 33 + ": {}\n", "openapi", 3,
     "more than 32 segments", "shorten"),
    ("openapi-server-variable", BASE.replace("    routes:", "    openapi: api.yaml\n    routes:"),
     "openapi: 3.0.0\nservers:\n  - url: /{base}\npaths: {}\n", "openapi", 3,
     "server variable 'base' has no default", "default"),
    ("openapi-servers-not-list", BASE.replace("    routes:", "    openapi: api.yaml\n    routes:"),
     "openapi: 3.0.0\nservers: /v1\npaths: {}\n", "openapi", 2, "'servers' must be a list",
     "servers:"),
]


@pytest.mark.parametrize("case_id,text,openapi,blamed,line,message,fix", BROKEN,
                         ids=[b[0] for b in BROKEN])
def test_broken_declarations_name_file_line_and_fix(tmp_path, case_id, text, openapi, blamed,
                                                    line, message, fix):
    assert text != BASE, case_id
    schema_path = write(tmp_path, text)
    if openapi is not None:
        write(tmp_path, openapi, "api.yaml")
    with pytest.raises(SchemaError) as info:
        load_schema_file(schema_path)
    err = info.value
    want_file = schema_path if blamed == "schema" else tmp_path / "api.yaml"
    assert err.file == str(want_file), str(err)
    assert err.line == line, str(err)
    assert message in err.message, str(err)
    assert err.fix and fix in err.fix, str(err)


def test_openapi_path_is_relative_to_the_schema_file(tmp_path):
    write(tmp_path, OPENAPI, "specs/api.yaml")
    schema = load_schema_file(write(tmp_path, BASE.replace(
        "    routes:", "    openapi: specs/api.yaml\n    routes:")))
    assert route_dim(schema).openapi_routes == ("/v1/patients/{patientid}/records",
                                                "/v1/wards")


def test_changing_declared_routes_needs_a_version_bump(tmp_path):
    running = SchemaSet.from_schemas([load_schema_file(write(tmp_path, BASE, "a.yaml"))])
    changed = SchemaSet.from_schemas([load_schema_file(write(
        tmp_path, BASE.replace("/v1/orders/{id}", "/v1/orders/{id}/items"), "b.yaml"))])
    with pytest.raises(SchemaError, match="version is still 1"):
        check_compatible(running, changed)


# ----------------------------------------------------------------------------- compiled


def _route_of(schemas: SchemaSet, route: object, url: object) -> object:
    event = {"type": "http_request", "tenant_id": "acme", "ts": 1795168800000,
             "user": {"id": "u1"}, "url": url, "method": "GET", "status": 200}
    if route is not None:
        event["route"] = route
    cs = schemas.compiled[0]
    got, want = cs.extract(event), cs.extract_reference(event)
    assert got == want
    return got.dims[cs.dimension_names.index("route")]


COMPILED_CASES = [
    # (id, route field, url, expected with declarations, expected with shipped words only)
    ("declared-shape-from-url", None, "https://x.example/v1/accounts/acct_9/members/alice.smith",
     "/v1/accounts/{id}/members/{member}", "/v1/accounts/{word}/members/{word}"),
    ("declared-literal-name-like", None, "/internal/ashworth-report",
     "/internal/ashworth-report", "/internal/{word}"),
    ("openapi-camel-literal", "/v1/storefront/getUserProfile", None,
     "/v1/storefront/getuserprofile", "/v1/{word}/{word}"),
    ("openapi-shape-from-route-field", "/v1/orders/{order}", None, "/v1/orders/{orderid}",
     "/v1/orders/{order}"),
    ("name-in-route-field", "/v1/patients/johnsmith/records", None,
     "/v1/patients/{word}/records", "/v1/patients/{word}/records"),
    ("name-in-url", None, "/v1/users/alice.smith/profile", "/v1/users/{word}/profile",
     "/v1/users/{word}/profile"),
]


@pytest.mark.parametrize("case_id,route,url,declared,shipped", COMPILED_CASES,
                         ids=[c[0] for c in COMPILED_CASES])
def test_compiled_schema_uses_its_declared_routes(tmp_path, case_id, route, url, declared,
                                                  shipped):
    with_declarations = SchemaSet.from_schemas([load_schema_file(DECLARED)])
    assert _route_of(with_declarations, route, url) == declared
    plain = DECLARED.read_text().replace("    routes:\n", "    x_routes:\n")
    plain = "\n".join(line for line in plain.splitlines()
                      if "x_routes" not in line and not line.startswith("      - ")
                      and "openapi:" not in line) + "\n"
    without = SchemaSet.from_schemas([load_schema_file(write(tmp_path, plain))])
    assert route_dim(without.schemas[0]).declared_routes == ()
    assert _route_of(without, route, url) == shipped


# ----------------------------------------------------------------------------- check, central


def test_schema_check_reports_route_literal_sources():
    (line,) = route_literal_sources(load_schema_file(DECLARED))
    assert "route literals of 'route'" in line
    assert "2 declared templates" in line
    assert "OpenAPI openapi/shop.yaml (8 templates)" in line
    assert "shipped route words" in line and "{word}" in line
    assert "ashworth" not in line        # counts only, never the words


def _aggregate(route: str) -> bytes:
    return orjson.dumps({
        "schema": "declared_routes", "schema_version": 1, "region": "eu",
        "window": {"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T10:01:00Z"},
        "dims": {"method": "GET", "route": route, "status": 200},
        "measures": {"count": 5, "errors": 0}})


@pytest.mark.parametrize("route,accepted", [
    ("/internal/ashworth-report", True),       # declared literal
    ("/v1/storefront/getuserprofile", True),   # imported from OpenAPI
    ("/v1/accounts/{id}/members/{member}", True),
    ("/v1/users/{word}/profile", True),
    ("/v1/users/alice.smith/profile", False),  # a name: not known anywhere
    ("/v1/patients/johnsmith/records", False),
    ("/internal/ashworth", False),
    ("/v1/users/{alice}", False),
])
def test_central_applies_the_same_literal_rules(tmp_path, route, accepted):
    copy = tmp_path / "schemas"
    copy.mkdir()
    shutil.copy(DECLARED, copy / "declared_routes.yaml")
    shutil.copytree(TESTDATA / "openapi", copy / "openapi")
    schemas = SchemaSet.from_schemas([load_schema_file(copy / "declared_routes.yaml")])
    validator = AggregateValidator(schemas, now_ms=lambda: 1795168800000)
    result = validator.validate(_aggregate(route))
    # the route rule on its own, as central applies it to this schema's route dimension
    (route_dim,) = [d for d in schemas.compiled[0].schema.dimensions if d.type == "route"]
    assert is_valid_route(route, RouteVocabulary(route_dim.declared_routes)) is accepted
    if accepted:
        assert isinstance(result, Accepted), result
    else:
        # names are also caught by the output guard, which central runs first
        assert isinstance(result, Rejected), result
        assert result.reason in ("invalid_dimension", "guard_hit"), result

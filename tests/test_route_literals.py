"""Issue 9, case 1, end to end: person names in routes are never published, however many
users visit them, while the generator's ordinary route templates still are."""

from __future__ import annotations

import orjson
import pytest

from deidentify.generate import TelemetryGenerator
from deidentify.pipeline import Pipeline
from deidentify.schema import default_schema_dir, load_schemas

SCHEMAS = load_schemas(default_schema_dir())
TS = 1_795_168_801_000   # 2026-11-20T10:00:01Z

# (id, route field or None, url, the published route, the name parts that must not appear)
NAMED_ROUTES = [
    ("first-dot-last-url", None, "https://api.example.com/v1/users/alice.smith/profile",
     "/v1/users/{word}/profile", ["alice", "smith"]),
    ("firstlast-route-field", "/v1/patients/johnsmith/records",
     "https://api.example.com/v1/patients/johnsmith/records", "/v1/patients/{word}/records",
     ["johnsmith"]),
    ("first-underscore-last", None, "https://api.example.com/v1/authors/priyanka_ashworth/posts",
     "/v1/authors/{word}/posts", ["priyanka", "ashworth"]),
    ("last-first-file", None, "https://cdn.example.com/ashworth/ignatius/avatar.png",
     "/{word}/{word}/avatar.png", ["ashworth", "ignatius"]),
    ("camel-case", "/v1/users/GraceHopper", "https://api.example.com/v1/users/GraceHopper",
     "/v1/users/{word}", ["grace", "hopper"]),
    ("encoded-space", None, "https://api.example.com/v1/users/grace%20hopper/profile",
     "/v1/users/{seg}/profile", ["grace", "hopper"]),
    ("route-field-placeholder-name", "/v1/users/{marywollstonecraft}",
     "https://api.example.com/v1/users/x", "/v1/users/{param}", ["marywollstonecraft"]),
]


@pytest.mark.parametrize("route,url,published,names", [c[1:] for c in NAMED_ROUTES],
                         ids=[c[0] for c in NAMED_ROUTES])
def test_names_in_routes_are_never_published(route, url, published, names):
    pipeline = Pipeline(SCHEMAS, region="eu")
    for i in range(60):                       # sixty distinct users: far above k
        event = {"type": "http_request", "ts": TS + i, "tenant_id": "acme", "method": "GET",
                 "url": url, "status": 200, "latency_ms": 5, "user": {"id": f"u{i}"}}
        if route is not None:
            event["route"] = route
        pipeline.process(orjson.dumps(event), offset=i)
    out = [a.value for a in pipeline.close_all()]
    text = orjson.dumps(out).decode().lower()
    for name in names:
        assert name not in text
    routes = {a["dims"]["route"] for a in out if a["schema"] == "http_requests"}
    assert routes == {published}


def test_generator_route_templates_are_still_published():
    """Every route template of the shipped generator's API is published from its traffic,
    and none of its users' names (``/v1/accounts/acct_x/members/alice.smith``) is."""
    from deidentify.generate.traffic import ROUTES
    from deidentify.generate.words import FIRST_NAMES, LAST_NAMES, ascii_fold
    generator = TelemetryGenerator(seed=3, start_ms=TS)
    pipeline = Pipeline(SCHEMAS, region="eu")
    for i, (_, line) in enumerate(generator.encoded(20_000)):
        pipeline.process(line, offset=i)
    routes = {a.value["dims"]["route"] for a in pipeline.close_all()
              if a.value["schema"] == "http_requests"}
    templates = {r.template for r in ROUTES}
    assert templates <= routes, sorted(templates - routes)
    names = {ascii_fold(n) for n in FIRST_NAMES + LAST_NAMES}
    words = {w for r in routes for seg in r.split("/") for w in seg.replace("_", ".").split(".")}
    assert not names & words, sorted(names & words)

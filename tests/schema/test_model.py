"""Schema loading: every shipped schema loads; every broken schema names file, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from deidentify.errors import SchemaError
from deidentify.schema import default_schema_dir, load_schema_file, load_schemas
from deidentify.schema.model import OTHER

GOOD = """\
name: demo
version: 2
description: a test schema
source: {type: http_request, topic: raw.http}
window: {size: 60s, grace: 5s}
dimensions:
  method: {type: enum, field: method, values: http_methods}
  route: {type: route, field: route, url_field: url}
  status: {type: status, field: status}
measures:
  latency_ms: {type: histogram, field: latency_ms, buckets: [10, 100], min: 0, max: 1000}
  errors: {type: count_if, field: status, gte: 500}
privacy:
  subjects: [user.id, client_ip]
  k: 5
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_schemas_load():
    schemas = load_schemas(default_schema_dir())
    names = {s.name for s in schemas.schemas}
    assert names == {"http_requests", "billing_totals", "webhook_deliveries"}
    assert set(schemas.by_type) == {"http_request", "billing_charge", "webhook_delivery"}
    for schema in schemas.schemas:
        assert schema.examples, f"{schema.name} ships no examples"
        assert schema.privacy.k >= 5


def test_good_schema_parses_to_frozen_model(tmp_path):
    schema = load_schema_file(write(tmp_path, GOOD))
    assert schema.name == "demo" and schema.version == 2
    assert schema.window.size_ms == 60_000 and schema.window.grace_ms == 5_000
    assert schema.dimension_names == ("method", "route", "status")
    assert [m.name for m in schema.measures] == ["latency_ms", "errors"]
    assert schema.privacy.cap_of("route") == 500
    assert schema.privacy.max_cells == 2000
    with pytest.raises(AttributeError):
        schema.name = "other"  # type: ignore[misc]


# (case id, text replacement (old, new), expected line, fragment of message, fragment of fix)
BROKEN = [
    ("unknown-top-key", ("version: 2", "version: 2\nowner: sre"), 3, "unknown key 'owner'",
     "allowed keys"),
    ("typo-suggests", ("privacy:\n  subjects", "privacy:\n  subject"), 14,
     "unknown key 'subject'", "did you mean 'subjects'"),
    ("missing-window", ("window: {size: 60s, grace: 5s}\n", ""), 1, "missing 'window'",
     "add 'window:'"),
    ("unknown-dim-type", ("{type: status, field: status}", "{type: string, field: status}"), 9,
     "unknown type 'string'", "no type that copies a raw string"),
    ("measure-on-text-field", ("gte: 500", "gte: high"), 12, "'gte' must be a number", "gte: 500"),
    ("bad-duration", ("size: 60s", "size: 60"), 5, "duration with a unit", "10s"),
    ("unsorted-buckets", ("buckets: [10, 100]", "buckets: [100, 10]"), 11, "strictly ascending",
     "sort"),
    ("k-not-int", ("k: 5", "k: five"), 15, "'k' must be an integer", "whole number"),
    ("personal-dimension", ("{type: status, field: status}", "{type: enum, field: user.email, values: [a]}"),
     9, "identifies a person", "subjects"),
    ("customer-id-dimension", ("{type: status, field: status}", "{type: id, field: customer_id}"),
     9, "identifies a person", "subjects"),
    ("unknown-vocabulary", ("values: http_methods", "values: verbs"), 7, "unknown vocabulary",
     "http_methods"),
    ("bad-yaml", ("k: 5", "k: [5"), 16, "not valid YAML", "indentation"),
    ("declared-count", ("errors: {", "count: {type: sum, field: x, min: 0, max: 1}\n  errors: {"),
     12, "'count' is always published", "implicit"),
    ("cap-unknown-dim", ("k: 5", "k: 5\n  caps: {path: 10}"), 16, "unknown dimension 'path'",
     "method"),
    ("min-above-max", ("min: 0, max: 1000", "min: 10, max: 1"), 11, "'min' must be below",
     "max"),
    ("k-below-floor", ("k: 5", "k: 1"), 15, "below this deployment's k floor of 5", "k: 5"),
    ("k-just-below-floor", ("k: 5", "k: 4"), 15, "k floor of 5", "DEIDENTIFY_K_FLOOR"),
]


@pytest.mark.parametrize("case_id,replace,line,message,fix", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_schema_names_file_line_and_fix(tmp_path, case_id, replace, line, message, fix):
    old, new = replace
    assert old in GOOD, case_id
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(SchemaError) as info:
        load_schema_file(path)
    err = info.value
    assert err.file == str(path)
    assert err.line == line, str(err)
    assert message in err.message, str(err)
    assert err.fix and fix in err.fix, str(err)
    assert str(err).startswith(f"{path}:{line}: ")


def test_empty_directory_fails_closed(tmp_path):
    with pytest.raises(SchemaError, match="empty allowlist publishes nothing"):
        load_schemas(tmp_path)


def test_duplicate_schema_names_refused(tmp_path):
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(SchemaError, match="also used by"):
        load_schemas(tmp_path)


def test_empty_file_and_aliases_refused(tmp_path):
    with pytest.raises(SchemaError, match="empty"):
        load_schema_file(write(tmp_path, ""))
    aliased = GOOD.replace("source: {type: http_request, topic: raw.http}",
                           "source: &src {type: http_request, topic: raw.http}\nx: *src")
    with pytest.raises(SchemaError, match="alias"):
        load_schema_file(write(tmp_path, aliased))


def test_an_unknown_enum_value_becomes_the_placeholder_the_dashboard_shows(tmp_path):
    """The roll-up placeholder is one value across the path: what extraction emits for a
    value outside the vocabulary is what the dashboard renders as "other (rolled up)"."""
    import deidentify.central
    from deidentify.schema.compile import compile_dimension

    schema = load_schema_file(write(tmp_path, GOOD))
    (method,) = [d for d in schema.dimensions if d.name == "method"]
    extract = compile_dimension(method, None, None)
    assert (extract({"method": "GET"}), extract({"method": "BREW"})) == ("GET", OTHER)
    app_js = Path(deidentify.central.__file__).with_name("static") / "app.js"
    assert f'const OTHER = "{OTHER}";' in app_js.read_text()


def test_reload_refuses_a_changed_schema_without_version_bump(tmp_path):
    from deidentify.schema import SchemaSet, check_compatible
    running = SchemaSet.from_schemas([load_schema_file(write(tmp_path, GOOD, "a.yaml"))])
    same = SchemaSet.from_schemas([load_schema_file(write(
        tmp_path, GOOD.replace("description: a test schema", "description: reworded"),
        "b.yaml"))])
    check_compatible(running, same)                     # wording only: fine
    changed = SchemaSet.from_schemas([load_schema_file(write(
        tmp_path, GOOD.replace("k: 5", "k: 6"), "c.yaml"))])
    with pytest.raises(SchemaError, match="version is still 2") as info:
        check_compatible(running, changed)
    assert "bump 'version' to 3" in str(info.value)
    bumped = SchemaSet.from_schemas([load_schema_file(write(
        tmp_path, GOOD.replace("k: 5", "k: 6").replace("version: 2", "version: 3"),
        "d.yaml"))])
    check_compatible(running, bumped)
    with pytest.raises(SchemaError, match="went down"):
        check_compatible(bumped, running)


def test_k_floor_default_is_5_and_a_raised_floor_refuses_the_whole_directory(tmp_path):
    write(tmp_path, GOOD, "a.yaml")                        # k: 5
    assert load_schemas(tmp_path).schemas[0].privacy.k == 5
    with pytest.raises(SchemaError) as info:
        load_schemas(tmp_path, k_floor=8)
    assert str(info.value).startswith(f"{tmp_path / 'a.yaml'}:15: privacy 'k' is 5, below "
                                      "this deployment's k floor of 8 (fix: write k: 8 or more")


@pytest.mark.parametrize("floor", [0, -1, 1001, True, 2.5])
def test_an_unusable_k_floor_is_a_programming_error(tmp_path, floor):
    with pytest.raises(ValueError, match="k_floor"):
        load_schema_file(write(tmp_path, GOOD), k_floor=floor)

"""Issue 9, case 2: k can never be lowered under open windows, and never below the floor.

A reload with a version bump may change ``privacy.k``. A window keeps the privacy settings of
the schema version that opened it: cells collected under k=8 are never published because a
later version says k=5. The tests marked "issue 9 case 2" fail on the code where
``Pipeline.swap_schemas`` replaced the k of windows already open, and where ``k: 1`` loaded.
They use the shipped schemas with only ``version`` and ``k`` changed (k >= 5, the floor).
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deidentify.errors import SchemaError
from deidentify.pipeline import Pipeline
from deidentify.schema import SchemaSet, default_schema_dir, load_schemas

T0 = 1_795_168_800_000          # 2026-11-20T10:00:00Z, the start of a window
OTHER = "__other__"
SHIPPED = Path(default_schema_dir())


def schema_dir(base: Path, *, version: int, k: int) -> Path:
    """The shipped schemas, with http_requests at ``version`` and ``k``."""
    directory = base / f"v{version}-k{k}"
    directory.mkdir(exist_ok=True)
    for path in SHIPPED.glob("*.yaml"):
        text = path.read_text()
        if path.name == "http_requests.yaml":
            text = re.sub(r"^version: \d+$", f"version: {version}", text, count=1, flags=re.M)
            text = re.sub(r"^  k: \d+$", f"  k: {k}", text, count=1, flags=re.M)
        (directory / path.name).write_text(text)
    return directory


def schemas_with(base: Path, *, version: int, k: int) -> SchemaSet:
    schemas = load_schemas(schema_dir(base, version=version, k=k))
    http = schemas.by_name("http_requests")
    assert (http.version, http.privacy.k) == (version, k)
    return schemas


def requests(cell: int, subjects: int, *, first_user: int, offset_ms: int = 0) -> list[bytes]:
    """``subjects`` events of one cell (``GET /v1/orders``, status ``200 + cell``), each from
    a distinct user, in the window starting at T0."""
    return [orjson.dumps({
        "type": "http_request", "ts": T0 + offset_ms + i * 100, "tenant_id": "acme",
        "method": "GET", "url": "https://api.example.com/v1/orders", "route": "/v1/orders",
        "status": 200 + cell, "latency_ms": 10, "user": {"id": f"user-{first_user + i}"}})
        for i in range(subjects)]


def feed(pipeline: Pipeline, lines: list[bytes]) -> None:
    pipeline.process_batch(list(enumerate(lines)))


def published_http(aggregates) -> dict[tuple[int, object], int]:
    """(schema_version, status or __other__) -> count, for http_requests cells."""
    out = {}
    for agg in aggregates:
        value = agg.value
        if value["schema"] == "http_requests":
            out[(value["schema_version"], value["dims"]["status"])] = \
                value["measures"]["count"]
    return out


def test_reload_that_lowers_k_does_not_apply_to_open_windows(tmp_path):
    """Issue 9 case 2 (fails before the fix): cells of 5 and 6 distinct subjects collected
    under k=8 stay unpublished after a reload to a version with k=5; the 8-subject cell is
    published; the roll-up of the small cells reaches 8 subjects and is published as
    ``__other__`` only."""
    pipeline = Pipeline(schemas_with(tmp_path, version=1, k=8), region="eu")
    feed(pipeline, requests(0, 5, first_user=0) + requests(1, 6, first_user=100)
         + requests(2, 8, first_user=200))
    pipeline.swap_schemas(schemas_with(tmp_path, version=2, k=5))
    got = published_http(pipeline.close_all())
    assert got == {(1, 202): 8, (1, OTHER): 11}


def test_reload_that_lowers_k_keeps_small_cells_out_of_the_rollup_too(tmp_path):
    """Issue 9 case 2 (fails before the fix): with one small cell only, the roll-up has 5
    subjects: under the window's k=8 nothing of it is published."""
    pipeline = Pipeline(schemas_with(tmp_path, version=1, k=8), region="eu")
    feed(pipeline, requests(0, 5, first_user=0))
    pipeline.swap_schemas(schemas_with(tmp_path, version=2, k=5))
    assert published_http(pipeline.close_all()) == {}


def test_reload_that_raises_k_never_publishes_below_either_k(tmp_path):
    """k raised by a reload: cells of the old window need at least the old k, cells of the
    new version's window the new k. Never weaker than the version that collected them."""
    pipeline = Pipeline(schemas_with(tmp_path, version=1, k=5), region="eu")
    feed(pipeline, requests(0, 4, first_user=0) + requests(1, 5, first_user=100))
    pipeline.swap_schemas(schemas_with(tmp_path, version=2, k=8))
    feed(pipeline, requests(2, 6, first_user=200, offset_ms=1000)
         + requests(3, 8, first_user=300, offset_ms=1000))
    got = published_http(pipeline.close_all())
    assert (1, 200) not in got and (2, 202) not in got
    assert got.get((2, 203)) == 8
    for (version, _status), count in got.items():
        assert count >= {1: 5, 2: 8}[version]


@settings(deadline=None, max_examples=min(settings().max_examples, 60),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(k_old=st.integers(5, 10), k_new=st.integers(5, 10),
       before=st.lists(st.integers(1, 12), min_size=1, max_size=4),
       after=st.lists(st.integers(1, 12), max_size=3))
def test_no_published_cell_has_fewer_subjects_than_the_k_it_was_collected_under(
        tmp_path_factory, k_old, k_new, before, after):
    """Issue 9 case 2 (fails before the fix whenever k_new < k_old): every published cell,
    ``__other__`` included, has at least the k of the schema version that opened its window,
    whatever reload (with a version bump) happened while it was open."""
    base = tmp_path_factory.mktemp("k")
    pipeline = Pipeline(schemas_with(base, version=1, k=k_old), region="eu")
    user = 0
    lines = []
    for i, n in enumerate(before):
        lines += requests(i, n, first_user=user)
        user += n
    feed(pipeline, lines)
    pipeline.swap_schemas(schemas_with(base, version=2, k=k_new))
    lines = []
    for i, n in enumerate(after):
        lines += requests(5 + i, n, first_user=user, offset_ms=1000)
        user += n
    feed(pipeline, lines)
    k_of = {1: k_old, 2: k_new}
    for (version, _status), count in published_http(pipeline.close_all()).items():
        # every event comes from a distinct user: count == distinct subjects
        assert count >= k_of[version]


@pytest.mark.parametrize("k", [1, 4])
def test_a_schema_below_the_k_floor_is_refused_with_file_and_line(tmp_path, k):
    """Issue 9 case 2 (fails before the fix: ``k: 1`` loaded): the deployment-wide floor
    (default 5) refuses a lower k at load time, naming the file and the line of ``k``."""
    directory = schema_dir(tmp_path, version=1, k=k)
    line = next(i for i, text in enumerate(
        (directory / "http_requests.yaml").read_text().splitlines(), 1)
        if text.strip().startswith("k:"))
    with pytest.raises(SchemaError) as info:
        load_schemas(directory)
    assert info.value.file is not None and info.value.file.endswith("http_requests.yaml")
    assert info.value.line == line

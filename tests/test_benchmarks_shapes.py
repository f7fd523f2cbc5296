"""``benchmarks/shapes.py`` rewrites the benchmark events the way other producers write them.

Each rewrite must keep every event valid, and the ones that change only how an event is
written must not change what the pipeline publishes: otherwise the shape benchmark would
compare different work. No timing is measured here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import shapes  # noqa: E402
from benchmarks.dataset import ensure_dataset  # noqa: E402
from deidentify.pipeline import Pipeline  # noqa: E402
from deidentify.schema import load_schemas  # noqa: E402

EVENTS = 3000
SCHEMAS = load_schemas()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return ensure_dataset(EVENTS, cache_dir=tmp_path_factory.mktemp("shapes"))


def _run(path: str) -> tuple[Pipeline, list[tuple[bytes, bytes]]]:
    """The pipeline after the file, and what it published: (key, value) sorted."""
    pipeline = Pipeline(SCHEMAS, region="bench")
    with open(path, "rb") as fh:
        pipeline.process_batch(enumerate(line.rstrip(b"\n") for line in fh))
    closed = pipeline.close_all()
    return pipeline, sorted((a.key, orjson.dumps(a.value, option=orjson.OPT_SORT_KEYS))
                            for a in closed)


def _counted(published: list[tuple[bytes, bytes]]) -> int:
    return sum(orjson.loads(value)["measures"]["count"] for _, value in published)


def _refused(pipeline: Pipeline) -> dict:
    """Events refused, by schema and reason (cells of fewer than k subjects, which are
    counted as ``below_k`` when their window closes, are not refused events)."""
    return {(schema, reason): n for schema, reasons in pipeline.drop_report().items()
            for reason, n in reasons.items() if reason != "below_k"}


@pytest.fixture(scope="module")
def original(dataset):
    return _run(dataset.path)


@pytest.mark.parametrize("shape", shapes.ALL)
def test_every_shape_keeps_every_event_valid(dataset, original, shape):
    before, published = original
    assert before.events_in == EVENTS and published
    assert _refused(before) == {}
    path = shapes.shaped_path(dataset, shape)
    after, reshaped = _run(path)
    assert after.events_in == EVENTS
    assert _refused(after) == {}
    assert after.valid == before.valid
    if shape in shapes.SAME_AGGREGATES:
        assert reshaped == published
        assert after.drop_report() == before.drop_report()
    else:
        assert reshaped != published        # routes now come from the URLs
        assert _counted(reshaped) == _counted(published) > 0


def test_shapes_rewrite_what_they_say(dataset):
    lines = {shape: Path(shapes.shaped_path(dataset, shape)).read_bytes().splitlines()
             for shape in shapes.ALL}
    assert lines["as-generated"] == Path(dataset.path).read_bytes().splitlines()
    for i, raw in enumerate(lines["as-generated"]):
        event = orjson.loads(raw)
        assert list(orjson.loads(lines["type-last"][i]))[-1] == "type"
        assert orjson.loads(lines["type-last"][i]) == event
        assert list(orjson.loads(lines["sorted-keys"][i])) == sorted(event)
        assert b'", "' in lines["spaced"][i] and orjson.loads(lines["spaced"][i]) == event
        ts = orjson.loads(lines["microseconds"][i])["ts"]
        assert len(ts) == len("2026-11-26T10:00:00.000000Z") and ts.endswith("Z")
        for shape in ("no-route", "unique-ids"):
            assert "route" not in orjson.loads(lines[shape][i])
    # every placeholder position of a route became a token that no other event has
    tokens = [seg for raw in lines["unique-ids"]
              for seg in orjson.loads(raw).get("url", "").split("?")[0].split("/")
              if seg.startswith("u") and seg[1:].isalnum() and len(seg) >= 10]
    assert len(tokens) > EVENTS // 4
    assert len(set(tokens)) == len(tokens)


def test_unique_ids_never_publish_a_token(dataset):
    _, published = _run(shapes.shaped_path(dataset, "unique-ids"))
    text = b"\n".join(key + value for key, value in published)
    assert published and b"/v1/orders/{" in text          # the URLs' routes are published
    checked = 0
    for raw in Path(shapes.shaped_path(dataset, "unique-ids")).read_bytes().splitlines():
        for seg in orjson.loads(raw).get("url", "").split("?")[0].split("/"):
            if seg.startswith("u0"):
                assert seg.encode() not in text
                checked += 1
    assert checked > EVENTS // 4


def test_microseconds_keep_the_millisecond():
    event = {"type": "http_request", "ts": 1795687200123}
    out = orjson.loads(shapes.microseconds(dict(event), 5))
    assert out["ts"] == "2026-11-26T10:00:00.123595Z"       # 5 * 7919 % 1000 = 595 µs
    iso = {"type": "http_request", "ts": "2026-11-26T10:00:00.042Z"}
    assert orjson.loads(shapes.microseconds(dict(iso), 0))["ts"] == "2026-11-26T10:00:00.042000Z"

"""Partial cells of ``--stages split`` (no broker): wire form, exact merge, the close rule,
order-independent caps, and stage one + stage two against the one-process pipeline."""

from __future__ import annotations

import random

import orjson
import pytest

from deidentify.partials import (
    BAD_RECORD,
    LATE_PARTIAL,
    WRONG_KEY,
    Mark,
    Partial,
    RegionWindows,
    UncappedWindows,
    decode_record,
    encode_mark,
    encode_partial,
    merge_summaries,
)
from deidentify.pipeline import Pipeline
from deidentify.privacy.sketch import SubjectKey
from deidentify.schema.model import OTHER
from tests.helpers import MINUTE, T0, call, schema_set

KEY = SubjectKey(b"k" * 40)
OTHER_KEY = SubjectKey(b"x" * 40)


def stage_one(schemas, records: list[tuple[int, bytes]], source) -> list:
    """One raw partition through stage one, every window closed: its partial records."""
    pipeline = Pipeline(schemas, region="eu")
    pipeline.windows = UncappedWindows(idle_ms=None, subject_hash=KEY.hasher())
    pipeline.process_batch(records, source, wall_ms=T0 + 3_600_000)
    return [encode_partial(w, source, KEY.key_id) for w in pipeline.windows.close_all()]


def stage_two(schemas, partials: list[bytes], sources, *, shuffle: int | None = None) -> list:
    """Merge partial records (optionally in a shuffled order), every source marked past
    everything; the aggregates the one-process code formats from the merged windows."""
    if shuffle is not None:
        partials = list(partials)
        random.Random(shuffle).shuffle(partials)
    region = RegionWindows()
    resolve = {(cs.name, cs.version): cs for cs in schemas.compiled}
    for offset, data in enumerate(partials):
        region.add(decode_record(data, KEY.key_id), offset, lambda n, v: resolve.get((n, v)))
    for i, source in enumerate(sources):
        mark = encode_mark(source, T0 + 3_600_000, KEY.key_id)
        region.add(decode_record(mark, KEY.key_id), len(partials) + i, None)
    closed = region.due(lambda name: sources)
    assert region.open_window_count == 0
    return Pipeline(schemas, region="eu")._publish(closed)


def one_process(schemas, by_source: dict) -> list:
    pipeline = Pipeline(schemas, region="eu")
    for source, records in by_source.items():
        pipeline.process_batch(records, source, wall_ms=T0 + 3_600_000)
    return pipeline.close_all()


def as_bytes(aggregates) -> list:
    return sorted((a.key, a.to_json()) for a in aggregates)


def random_split(seed: int, partitions: int, events: int, users: int) -> dict:
    rng = random.Random(seed)
    by_source: dict = {("raw.calls", p): [] for p in range(partitions)}
    clocks = dict.fromkeys(by_source, T0)
    for _ in range(events):
        source = rng.choice(list(by_source))
        clocks[source] += rng.randrange(0, 4_000)
        records = by_source[source]
        records.append((len(records), call(clocks[source],
                                           method=rng.choice(("GET", "POST", "PUT")),
                                           user=f"u{rng.randrange(users)}",
                                           latency_ms=rng.randrange(0, 900),
                                           bytes=rng.randrange(0, 5_000),
                                           status=rng.choice((200, 200, 503)))))
    return by_source


# --------------------------------------------------------------------------- wire form


def test_partial_round_trip_keeps_cells_and_summaries():
    schemas = schema_set(k=3)
    records = [(i, call(T0 + i * 1_000, user=f"u{i}" if i % 2 else f"u{i % 4}",
                        method="GET" if i % 2 else "POST"))
               for i in range(10)]
    (data,) = stage_one(schemas, records, ("raw.calls", 2))
    got = decode_record(data, KEY.key_id)
    assert type(got) is Partial
    assert got.source == ("raw.calls", 2) and got.schema == "calls" and got.k == 3
    assert got.start_ms == T0 and got.close_at_ms == T0 + MINUTE + 10_000
    assert got.cells[("GET",)][0] == 5 and got.cells[("POST",)][0] == 5
    assert got.cells[("GET",)][1] == 3                   # reached k: the number, no hashes
    assert type(got.cells[("POST",)][1]) is set and len(got.cells[("POST",)][1]) == 2
    assert b'"u1"' not in data and b'"u2"' not in data      # keyed hashes, never subjects


def test_records_of_another_key_or_garbage_are_refused():
    mark = encode_mark(("raw.calls", 0), T0, KEY.key_id)
    assert decode_record(mark, KEY.key_id) == Mark(("raw.calls", 0), T0)
    assert decode_record(mark, OTHER_KEY.key_id) == WRONG_KEY
    for bad in (None, b"", b"{", b"[]", b'{"v": 1, "key": "%s"}' % KEY.key_id.hex().encode(),
                mark.replace(b'"m"', b'"z"'), b'{"v": 9}'):
        assert decode_record(bad, KEY.key_id) == BAD_RECORD


def test_merged_summaries_decide_k_exactly():
    assert merge_summaries({1, 2}, {2, 3}, 4) == {1, 2, 3}
    assert merge_summaries({1, 2}, {3, 4}, 4) == 4
    assert merge_summaries({1}, 4, 4) == 4
    assert merge_summaries(3, {1}, 4) == 3       # reached under an older k: not k now


# --------------------------------------------------------------------------- the close rule


def test_a_window_closes_only_when_every_source_has_passed_it():
    schemas = schema_set(k=1)
    sources = [("raw.calls", p) for p in range(3)]
    partial = stage_one(schemas, [(0, call(T0 + 5))], sources[0])[0]
    close_at = T0 + MINUTE + 10_000
    region = RegionWindows()
    cs = schemas.compiled[0]
    region.add(decode_record(partial, KEY.key_id), 0, lambda n, v: cs)
    offset = 1

    def mark(source, ms):
        nonlocal offset
        region.add(decode_record(encode_mark(source, ms, KEY.key_id), KEY.key_id), offset,
                   None)
        offset += 1

    mark(sources[0], close_at + 99_999)
    mark(sources[1], close_at)
    assert region.due(lambda name: sources) == []            # sources[2] never marked
    mark(sources[2], close_at - 1)
    assert region.due(lambda name: sources) == []            # ... and is not past it yet
    assert region.safe_offset() == 0                         # the open window's partial
    mark(sources[2], close_at)
    (closed,) = region.due(lambda name: sources)
    assert closed.start_ms == T0 and sum(c[0] for c in closed.cells.values()) == 1
    assert region.safe_offset() == offset                    # nothing open: everything read
    assert region.closed_through() == {"calls": T0 + MINUTE}
    # a replayed partial of the published window is skipped, not merged again
    region.add(decode_record(partial, KEY.key_id), offset, lambda n, v: cs)
    assert region.rejected[("calls", LATE_PARTIAL)] == 1
    assert region.open_window_count == 0


def test_an_older_mark_never_moves_a_source_back():
    region = RegionWindows()
    region.add(Mark(("t", 0), 500), 0, None)
    region.add(Mark(("t", 0), 100), 1, None)
    assert region.marks() == {("t", 0): 500}


# --------------------------------------------------------------------------- caps


def test_caps_keep_the_values_with_most_events_whatever_the_arrival_order():
    schemas = schema_set(k=1, cap=2)
    counts = {"GET": 5, "POST": 3, "PUT": 3, "DELETE": 1}
    records = [(0, call(T0 + 1, method=m, user=f"u{i}"))
               for m, n in counts.items() for i in range(n)]
    results = set()
    for seed in range(6):
        shuffled = list(records)
        random.Random(seed).shuffle(shuffled)
        by_source = {("raw.calls", p): [] for p in range(3)}
        for i, (_, value) in enumerate(shuffled):
            lst = by_source[("raw.calls", i % 3)]
            lst.append((len(lst), value))
        partials = [d for s, r in by_source.items() for d in stage_one(schemas, r, s)]
        out = stage_two(schemas, partials, list(by_source), shuffle=seed)
        results.add(tuple(as_bytes(out)))
    assert len(results) == 1
    dims = {tuple(orjson.loads(key)[4]): orjson.loads(value)["measures"]["count"]
            for key, value in next(iter(results))}
    # GET (5) and, of the tie POST/PUT (3 each), POST (first by value) pass the cap
    assert dims == {("GET",): 5, ("POST",): 3, (OTHER,): 4}


def test_max_cells_rolls_the_smallest_cells_into_other():
    schemas = schema_set(k=1, max_cells=2)
    records = [(i, call(T0 + 1, method=m, user=f"u{i}"))
               for i, m in enumerate(["PUT"] * 4 + ["GET"] * 2 + ["POST"] * 3 + ["DELETE"])]
    partials = stage_one(schemas, records, ("raw.calls", 0))
    out = stage_two(schemas, partials, [("raw.calls", 0)])
    dims = {tuple(orjson.loads(a.key)[4]): a.value["measures"]["count"] for a in out}
    assert dims == {("PUT",): 4, ("POST",): 3, (OTHER,): 3}


# --------------------------------------------------------------------------- against one process


@pytest.mark.parametrize("seed", range(8))
def test_split_stages_publish_what_one_process_publishes(seed):
    """Events of every subject scattered over partitions; integer measures (float sums can
    differ in the last bits when added in another order), under the caps."""
    schemas = schema_set(k=4)
    by_source = random_split(seed, partitions=4, events=400, users=7)
    partials = [d for s, r in by_source.items() for d in stage_one(schemas, r, s)]
    split = stage_two(schemas, partials, list(by_source), shuffle=seed)
    single = one_process(schemas, by_source)
    assert split, "nothing published: the comparison would prove nothing"
    assert as_bytes(split) == as_bytes(single)


def test_a_subject_spread_over_partitions_counts_once():
    """k = 3 distinct subjects: u1 in every partition is one subject, not three."""
    schemas = schema_set(k=3)
    by_source = {("raw.calls", p): [(0, call(T0 + p, user="u1"))] for p in range(3)}
    partials = [d for s, r in by_source.items() for d in stage_one(schemas, r, s)]
    assert stage_two(schemas, partials, list(by_source)) == []
    by_source[("raw.calls", 2)].append((1, call(T0 + 9, user="u2")))
    by_source[("raw.calls", 1)].append((1, call(T0 + 9, user="u3")))
    partials = [d for s, r in by_source.items() for d in stage_one(schemas, r, s)]
    (agg,) = stage_two(schemas, partials, list(by_source))
    assert agg.value["measures"]["count"] == 5
    assert as_bytes([agg]) == as_bytes(one_process(schemas, by_source))


def test_stage_one_hashes_every_subject_with_the_region_key():
    """Partials of different processes merge only if a subject hashes the same everywhere:
    str subjects too must go through the region key, never the window's per-process hash()."""
    schemas = schema_set(k=50)
    users = [f"user-{i}" for i in range(7)]
    records = [(i, call(T0 + i * 1_000, user=u)) for i, u in enumerate(users)]
    (data,) = stage_one(schemas, records, ("raw.calls", 0))
    partial = decode_record(data, KEY.key_id)
    summaries = [cell[1] for cell in partial.cells.values()]
    assert summaries == [{KEY.hasher()(u) for u in users}]

"""Window semantics without a broker: feed events with timestamps, assert what closes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deidentify.pipeline import Pipeline
from tests.helpers import MINUTE, T0, call, schema_set


def pipeline(**kw) -> Pipeline:
    return Pipeline(schema_set(**kw), region="eu")


def counts(aggs):
    return {(a.value["window"]["start"], a.value["dims"]["method"]): a.value["measures"]["count"]
            for a in aggs}


def test_window_closes_only_after_end_plus_grace():
    p = pipeline(grace="10s")
    p.process(call(T0 + 1_000), offset=0)
    p.process(call(T0 + MINUTE + 9_000), offset=1)     # stream time = end + 9s: still open
    assert p.close_due() == []
    p.process(call(T0 + MINUTE + 10_000), offset=2)    # stream time = end + grace: closes
    closed = p.close_due()
    assert counts(closed) == {("2026-11-20T10:00:00Z", "GET"): 1}
    assert p.close_due() == []                          # emitted exactly once


def test_event_within_grace_is_merged_late_event_is_dropped():
    p = pipeline(grace="10s")
    p.process(call(T0 + 1_000), offset=0)
    p.process(call(T0 + MINUTE + 5_000), offset=1)
    p.process(call(T0 + 59_000), offset=2)               # out of order, inside grace
    p.process(call(T0 + MINUTE + 10_000), offset=3)
    assert counts(p.close_due()) == {("2026-11-20T10:00:00Z", "GET"): 2}
    p.process(call(T0 + 30_000), offset=4)               # its window already closed
    assert p.drops == {("calls", "late"): 1}
    assert counts(p.close_all()) == {("2026-11-20T10:01:00Z", "GET"): 2}


@pytest.mark.parametrize("inline", [True, False])
def test_each_millisecond_at_a_window_edge_lands_in_its_own_window(inline):
    """Within a batch a schema reuses the window it last wrote to while event time stays in
    its [start, end): the last millisecond of a window, the first of the next and back
    again, in one batch (generated loop and fused calls), each count where it belongs."""
    p = pipeline(grace="0s")
    p.inline_bodies = inline
    edge = T0 + MINUTE
    times = [T0, edge - 1, edge, edge - 1, edge + MINUTE - 1, edge + MINUTE, edge, T0 - 1]
    methods = ["GET", "GET", "PUT", "GET", "PUT", "POST", "PUT", "DELETE"]
    batch = [(i, call(ts, method=m)) for i, (ts, m) in enumerate(zip(times, methods, strict=True))]
    p.process_batch(batch, wall_ms=edge + 10 * MINUTE)
    assert counts(p.close_all()) == {("2026-11-20T09:59:00Z", "DELETE"): 1,
                                     ("2026-11-20T10:00:00Z", "GET"): 3,
                                     ("2026-11-20T10:01:00Z", "PUT"): 3,
                                     ("2026-11-20T10:02:00Z", "POST"): 1}


def test_watermark_is_min_over_partitions():
    p = pipeline(grace="0s")
    p.process_batch([(0, call(T0 + 1_000))], partition=0)
    p.process_batch([(0, call(T0 + 5 * MINUTE))], partition=1)
    assert p.close_due() == []                 # partition 0 still at minute 0
    p.process_batch([(1, call(T0 + 2 * MINUTE))], partition=0)
    assert counts(p.close_due()) == {("2026-11-20T10:00:00Z", "GET"): 1}


# ----------------------------------------------------------------- watermarks and idleness
# A fake wall clock: every call passes wall_ms explicitly. "caught up" is the runtime's
# evidence (a fresh fetch response showed position >= end offset); here it is fed by hand.

WALL = T0 + 120 * MINUTE      # the fake wall clock: two hours after the events
IDLE = 30_000


def idle_pipeline(grace: str = "0s") -> Pipeline:
    return Pipeline(schema_set(grace=grace), region="eu", idle_ms=IDLE)


def started(p: Pipeline, partitions) -> None:
    for partition in partitions:
        p.windows.track_partition(partition)


def test_idle_only_when_caught_up_for_the_idle_duration():
    p = idle_pipeline()
    started(p, [0, 1])
    p.process_batch([(0, call(T0 + 1_000))], partition=0, wall_ms=WALL)
    p.process_batch([(0, call(T0 + 5 * MINUTE))], partition=1, wall_ms=WALL)
    # silence is not idleness: without evidence of being caught up, partition 0 holds
    assert p.close_due(wall_ms=WALL + 10 * IDLE) == []
    p.windows.mark_caught_up(0, WALL + 10 * IDLE)
    assert p.close_due(wall_ms=WALL + 11 * IDLE - 1) == []      # caught up, not idle yet
    closed = p.close_due(wall_ms=WALL + 11 * IDLE)               # idle: stops holding
    assert counts(closed) == {("2026-11-20T10:00:00Z", "GET"): 1}
    assert p.windows.watermark(WALL + 11 * IDLE) == T0 + 5 * MINUTE   # partition 1 holds


def test_broker_unreachable_nothing_is_idle_and_nothing_closes():
    p = idle_pipeline()
    started(p, [0, 1])
    p.process_batch([(0, call(T0 + 1_000))], partition=0, wall_ms=WALL)
    p.process_batch([(0, call(T0 + 5 * MINUTE))], partition=1, wall_ms=WALL)
    p.windows.mark_caught_up(0, WALL)
    p.windows.mark_caught_up(1, WALL)
    # the broker goes away before the idle duration passed: no fresh evidence any more
    p.windows.mark_not_caught_up(0)
    p.windows.mark_not_caught_up(1)
    for wall in (WALL + IDLE, WALL + 100 * IDLE):
        assert p.close_due(wall_ms=wall) == []
        assert p.windows.watermark(wall) == T0 + 1_000         # data, not the clock
    # back: caught up again, and the idle duration counts from the new evidence
    p.windows.mark_caught_up(0, WALL + 100 * IDLE)
    p.windows.mark_caught_up(1, WALL + 100 * IDLE)
    assert p.close_due(wall_ms=WALL + 101 * IDLE - 1) == []
    assert len(p.close_due(wall_ms=WALL + 101 * IDLE)) == 2    # every partition idle


def test_new_records_restart_the_idle_clock():
    p = idle_pipeline()
    started(p, [0, 1])
    p.process_batch([(0, call(T0 + 1_000))], partition=0, wall_ms=WALL)
    p.process_batch([(0, call(T0 + 5 * MINUTE))], partition=1, wall_ms=WALL)
    p.windows.mark_caught_up(0, WALL)
    p.process_batch([(1, call(T0 + 2_000))], partition=0, wall_ms=WALL + IDLE - 1)
    p.windows.mark_caught_up(0, WALL + IDLE - 1)                # still caught up after it
    assert p.close_due(wall_ms=WALL + IDLE) == []              # records 1 ms ago: not idle
    assert p.close_due(wall_ms=WALL + 2 * IDLE - 2) == []
    assert counts(p.close_due(wall_ms=WALL + 2 * IDLE - 1)) == {
        ("2026-11-20T10:00:00Z", "GET"): 2}


def test_unseen_partition_holds_everything_unless_known_caught_up():
    p = idle_pipeline()
    started(p, [0, 1, 2])                   # 2 was assigned but has delivered nothing yet
    p.process_batch([(0, call(T0 + 1_000))], partition=0, wall_ms=WALL)
    p.process_batch([(0, call(T0 + 5 * MINUTE))], partition=1, wall_ms=WALL)
    p.process_batch([(1, call(T0 + 5 * MINUTE))], partition=0, wall_ms=WALL)
    assert p.windows.watermark(WALL + 100 * IDLE) is None     # 2 may hold older events
    assert p.close_due(wall_ms=WALL + 100 * IDLE) == []
    p.windows.mark_caught_up(2, WALL + 100 * IDLE)             # empty: holds nothing
    assert counts(p.close_due(wall_ms=WALL + 100 * IDLE)) == {
        ("2026-11-20T10:00:00Z", "GET"): 1}
    p.windows.forget_partition(2)                               # revoked: no longer counts
    assert p.windows.watermark(WALL) == T0 + 5 * MINUTE


def test_uneven_backlog_closes_windows_as_the_data_arrives():
    """The heavy partition holds the watermark at its own stream time; partitions that fell
    silent early are caught up and idle, so they hold nothing: each window closes as soon as
    the heavy partition's data passes it, not one window per wall-clock minute."""
    p = idle_pipeline()
    started(p, [0, 1, 2])
    wall = WALL
    # partitions 1 and 2 had three minutes of traffic, then fell silent; read at once
    p.process_batch([(i, call(T0 + i * 20_000)) for i in range(9)], partition=1, wall_ms=wall)
    p.process_batch([(0, call(T0 + 2 * MINUTE + 30_000))], partition=2, wall_ms=wall)
    p.windows.mark_caught_up(1, wall)
    p.windows.mark_caught_up(2, wall)
    closed_at: dict[str, int] = {}
    # partition 0: a 40-minute backlog, one minute of event time per 100 ms of wall time
    for minute in range(40):
        wall += 100
        p.process_batch([(minute, call(T0 + minute * MINUTE + 30_000))], partition=0,
                        wall_ms=wall)
        p.windows.mark_not_caught_up(0)                         # still a backlog
        for agg in p.close_due(wall_ms=wall + IDLE):            # silent ones are idle now
            closed_at.setdefault(agg.value["window"]["start"], minute)
    assert len(closed_at) == 39                         # all but the heavy partition's last
    for start, minute in closed_at.items():
        window_minute = (iso_minute(start))
        assert minute == window_minute + 1, "a window closed later than its data allowed"
    # caught up and idle everywhere: the watermark follows the wall clock, the last closes
    p.windows.mark_caught_up(0, wall)
    assert p.close_due(wall_ms=wall + IDLE - 1) == []
    (last,) = p.close_due(wall_ms=wall + IDLE)
    assert last.value["window"]["start"] == "2026-11-20T10:39:00Z"


def iso_minute(iso: str) -> int:
    hours, minutes = iso[11:16].split(":")
    return (int(hours) - 10) * 60 + int(minutes)


def test_safe_offsets_hold_back_to_first_offset_of_open_window():
    p = pipeline(grace="0s")
    p.process_batch([(10, call(T0 + 1_000)), (11, call(T0 + 2_000))], partition=0)
    assert p.safe_offsets() == {0: 10}
    p.process_batch([(12, call(T0 + MINUTE + 1_000))], partition=0)
    p.close_due()                                # minute 0 closes; minute 1 still open
    assert p.safe_offsets() == {0: 12}
    p.close_all()
    assert p.safe_offsets() == {0: 13}


def test_restored_watermark_skips_published_windows():
    p = pipeline(grace="0s")
    p.restore_closed_through({"calls": T0 + MINUTE})
    p.process(call(T0 + 1_000), offset=0)
    assert p.drops == {("calls", "late"): 1}
    p.process(call(T0 + MINUTE + 1), offset=1)
    assert counts(p.close_all()) == {("2026-11-20T10:01:00Z", "GET"): 1}


def test_measures_histogram_sum_and_conditional_count():
    p = pipeline()
    p.process(call(T0, latency_ms=5, bytes=7, status=200))
    p.process(call(T0, latency_ms=50, bytes=3, status=503))
    p.process(call(T0, latency_ms=5000, bytes=-4, status=500))   # clamped to max / min
    (agg,) = p.close_all()
    m = agg.value["measures"]
    assert m["count"] == 3
    assert m["errors"] == 2
    assert m["bytes"] == 10
    assert m["latency_ms"] == {"sum": 1055, "buckets": {"10": 1, "100": 1, "+Inf": 1}}


def test_dimension_cap_and_cell_cap_roll_into_other():
    p = pipeline(cap=2)
    for i, method in enumerate(["GET", "POST", "PUT", "DELETE"]):
        p.process(call(T0 + i, method=method), offset=i)
    got = counts(p.close_all())
    assert got == {("2026-11-20T10:00:00Z", "GET"): 1, ("2026-11-20T10:00:00Z", "POST"): 1,
                   ("2026-11-20T10:00:00Z", "__other__"): 2}
    assert p.rolled_up == {("calls", "over_cap"): 2}
    p = pipeline(max_cells=1)
    for i, method in enumerate(["GET", "POST", "PUT"]):
        p.process(call(T0 + i, method=method), offset=i)
    assert counts(p.close_all()) == {("2026-11-20T10:00:00Z", "GET"): 1,
                                     ("2026-11-20T10:00:00Z", "__other__"): 2}


# --------------------------------------------------------------------------- k under reload


def by_version(aggs):
    return {(a.value["schema_version"], a.value["dims"]["method"]): a.value["measures"]["count"]
            for a in aggs}


def users(method, names, ts=T0 + 1_000):
    return [call(ts, method=method, user=u) for u in names]


def feed(p, events, first_offset=0):
    p.process_batch(list(enumerate(events, first_offset)))


def test_a_reload_that_lowers_k_never_applies_to_windows_already_open():
    p = pipeline(k=5, grace="10m")
    feed(p, users("GET", "abc") + users("POST", "abcde"))       # v1 window, k 5
    p.swap_schemas(schema_set(k=2, version=2, grace="10m"))    # reviewed down to 2, v2
    feed(p, users("PUT", "xy"), 10)                             # the same minute, now v2
    got = by_version(p.close_all())
    # v1 keeps k 5: GET (3 people) is neither published nor rolled up into a publishable
    # __other__; POST (5) is. The v2 window has k 2 from its own version.
    assert got == {(1, "POST"): 5, (2, "PUT"): 2}
    assert p.drops == {("calls", "below_k"): 3}


def test_a_reload_that_raises_k_applies_to_open_windows_and_fails_closed():
    def run(reload_k):
        p = pipeline(k=2, grace="10m")
        feed(p, users("GET", "abc") + users("POST", "abcdefg"))  # both past k 2: sets dropped
        if reload_k:
            p.swap_schemas(schema_set(k=reload_k, version=2, grace="10m"))
        return p, by_version(p.close_all())
    _, before = run(None)
    assert before == {(1, "GET"): 3, (1, "POST"): 7}
    p, after = run(4)
    # GET has 3 < 4 people; POST's set was dropped at 2, so 4 cannot be proven any more:
    # both roll up, and the roll-up proves only 2 distinct people -> nothing is published
    assert after == {}
    assert p.drops == {("calls", "below_k"): 10}


def test_an_unchanged_reload_keeps_publishing_windows_as_before():
    p = pipeline(k=3, grace="10m")
    feed(p, users("GET", "abc"))
    p.swap_schemas(schema_set(k=3, grace="10m"))               # same version, same meaning
    feed(p, users("GET", "de"), 10)
    assert by_version(p.close_all()) == {(1, "GET"): 5}



# --------------------------------------------------------------------------- event time sanity

YEAR_2286 = 9_999_999_999_000


@pytest.mark.parametrize("partitions", [1, 2])
def test_a_far_future_burst_neither_stalls_nor_skips_windows(partitions):
    """Minute after minute, normal events arrive on each partition; in minute 3 partition 0
    also gets a burst from the year 2286 and events 4 minutes ahead (inside the bound).
    Every minute's window is published exactly once with all of its events."""
    p = pipeline(grace="10s")
    published = []
    offsets = {0: 0, 1: 0}
    for minute in range(10):
        wall = T0 + minute * MINUTE + 30_000
        for part in range(partitions):
            batch = [call(T0 + minute * MINUTE + 1_000 * (i + 1), user=f"u{part}{i}")
                     for i in range(3)]
            if minute == 3 and part == 0:
                batch += [call(YEAR_2286 + i, user=f"f{i}") for i in range(50)]
                batch += [call(wall + 4 * MINUTE, user=f"n{i}") for i in range(2)]
            p.process_batch(list(enumerate(batch, offsets[part])), partition=part,
                            wall_ms=wall)
            offsets[part] += len(batch)
        published += p.close_due(wall)
    published += p.close_all()
    got = {}
    for agg in published:
        start = agg.value["window"]["start"]
        assert start not in got, "a window was published twice"
        got[start] = agg.value["measures"]["count"]
    want = {f"2026-11-20T10:{m:02d}:00Z": 3 * partitions + (2 if m == 7 else 0)
            for m in range(10)}
    assert got == want
    assert p.drops == {("calls", "future_timestamp"): 50}


def test_stream_time_never_runs_ahead_of_the_wall_clock():
    p = pipeline(grace="0s")
    wall = T0 + 30_000
    p.process_batch([(0, call(T0 + 1_000)), (1, call(wall + 4 * MINUTE))], wall_ms=wall)
    assert p.close_due(wall) == []                 # minute 0 is not final yet
    p.process_batch([(2, call(T0 + 59_000))], wall_ms=wall + 20_000)
    assert p.drops == {}                           # not late
    closed = p.close_due(T0 + MINUTE)
    assert counts(closed) == {}                    # stream time stays at the last batch
    p.process_batch([(3, call(T0 + MINUTE + 1))], wall_ms=T0 + MINUTE + 1)
    assert counts(p.close_due()) == {("2026-11-20T10:00:00Z", "GET"): 2}


def test_restored_watermarks_beyond_the_wall_clock_are_ignored():
    p = pipeline(grace="0s")
    ignored = p.restore_closed_through({"calls": YEAR_2286, "gone": T0},
                                       wall_ms=T0 + MINUTE)
    assert ignored == ["calls"] and p.ignored_marks == 1
    assert p.closed_through() == {"gone": T0}
    p.process(call(T0 + 1_000), offset=0)
    assert p.drops == {}
    assert counts(p.close_all()) == {("2026-11-20T10:00:00Z", "GET"): 1}
    # a sane mark (at most max_future_ms ahead) is kept
    p = pipeline(grace="0s")
    assert p.restore_closed_through({"calls": T0 + MINUTE + 5 * MINUTE},
                                    wall_ms=T0 + MINUTE) == []
    assert p.closed_through() == {"calls": T0 + 6 * MINUTE}


_METHODS = ("GET", "POST", "PUT", "DELETE")
_EVENTS = st.lists(st.tuples(st.sampled_from(_METHODS), st.integers(0, 7)), max_size=40)


def _distinct_users(published: dict, events: list) -> dict:
    """Per published method of one window, the distinct users really behind it."""
    named = {m for m in published if m != "__other__"}
    out: dict = {}
    for method, user in events:
        key = method if method in named else "__other__"
        out.setdefault(key, set()).add(user)
    return {m: len(out.get(m, ())) for m in published}


@given(k1=st.integers(2, 6), k2=st.integers(2, 6), before=_EVENTS, after=_EVENTS)
def test_property_no_window_is_published_under_a_weaker_k_than_it_was_collected_under(
        k1, k2, before, after):
    p = pipeline(k=k1, grace="10m")
    feed(p, [call(T0 + 1_000, method=m, user=f"u{u}") for m, u in before])
    p.swap_schemas(schema_set(k=k2, version=2, grace="10m"))
    feed(p, [call(T0 + 2_000, method=m, user=f"u{u}") for m, u in after], 100)
    got = by_version(p.close_all())
    for version, events, k in ((1, before, max(k1, k2)), (2, after, k2)):
        published = {m: n for (v, m), n in got.items() if v == version}
        for method, people in _distinct_users(published, events).items():
            assert people >= k, (version, method, people, k)
    published_events = sum(got.values())
    assert published_events + p.drops.get(("calls", "below_k"), 0) == len(before) + len(after)


# ----------------------------------------------------------------- generated extract + add


def _state(p: Pipeline) -> dict:
    return {"windows": {(w.schema.name, w.start_ms): (dict(w.cells), dict(w.first_offsets),
                                                     w.over_cap_events)
                        for w in p.windows.open_windows()},
            "watermark": p.windows.watermark()}


def test_fused_extract_add_equals_extract_then_add():
    """The decoded path's generated extract+add against the generated extract, then
    ``WindowAggregator.add``: the same outcome per event, the same cells and counts."""
    import itertools

    import orjson

    from deidentify.contract import DropReason
    from deidentify.generate import TelemetryGenerator
    from deidentify.schema import load_schemas

    schemas = load_schemas()
    gen = TelemetryGenerator(seed=3, start_ms=T0)
    events = [orjson.dumps(e) for e in gen.events(3000)]
    events += [b'{"type":"http_request","tenant_id":"acme","ts":1,"url":"/x","status":99}',
               b'{"type":"webhook_delivery","tenant_id":"bad id","ts":"2026-11-20T10:00:00Z"}']
    fused, plain = Pipeline(schemas, region="eu"), Pipeline(schemas, region="eu")
    decoder = schemas.decoder
    horizon = T0 + 1_000                          # later events lie beyond it
    outcomes = set()
    for offset, raw in enumerate(itertools.chain(events, events)):
        event = decoder.decode(raw)
        partition = offset % 3
        for cs, extract in decoder.by_class[event.__class__]:
            fused.windows.begin_batch(partition)        # a batch of one, as add() does
            got = fused.windows.extract_adder(cs, extract)(event, partition, offset, horizon)
            fused.windows.end_batch(partition)
            x = extract(event)
            want = (x if type(x) is DropReason
                    else plain.windows.add(cs, x, partition, offset, horizon))
            assert got == want
            outcomes.add(got)
        if offset == len(events) - 1:
            opened = _state(fused)
            assert opened and opened == _state(plain)
            assert fused.windows.close_all() and plain.windows.close_all()  # then: late
    assert {None, DropReason.LATE, DropReason.FUTURE_TIMESTAMP,
            DropReason.INVALID_FIELD, DropReason.REJECTED_ID} <= outcomes
    assert dict(fused.windows.take_received()) == dict(plain.windows.take_received())

"""Window semantics without a broker: feed events with timestamps, assert what closes."""

from __future__ import annotations

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

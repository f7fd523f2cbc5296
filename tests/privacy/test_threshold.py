"""Layer 3 on its own: k distinct subjects per cell, roll-up into __other__."""

from __future__ import annotations

from deidentify.pipeline import Pipeline
from tests.helpers import T0, call, schema_set


def run(events, k):
    p = Pipeline(schema_set(k=k), region="eu")
    for i, event in enumerate(events):
        p.process(event, offset=i)
    return p, {a.value["dims"]["method"]: a.value["measures"]["count"] for a in p.close_all()}


def test_cell_with_k_distinct_subjects_is_published():
    p, got = run([call(T0, user=f"u{i}") for i in range(3)], k=3)
    assert got == {"GET": 3}
    assert p.drops == {}


def test_repeated_subject_does_not_count_twice():
    p, got = run([call(T0, user="same") for _ in range(10)], k=2)
    assert got == {}
    assert p.drops == {("calls", "below_k"): 10}


def test_small_cells_roll_up_and_publish_when_rollup_reaches_k():
    events = [call(T0, method="GET", user=f"g{i}") for i in range(3)]
    events += [call(T0, method="POST", user="p1"), call(T0, method="PUT", user="p2"),
               call(T0, method="DELETE", user="p3")]
    p, got = run(events, k=3)
    assert got == {"GET": 3, "__other__": 3}
    assert p.rolled_up == {("calls", "below_k"): 3}
    assert p.drops == {}


def test_rollup_below_k_is_suppressed_and_counted():
    events = [call(T0, method="GET", user=f"g{i}") for i in range(3)]
    events += [call(T0, method="POST", user="p1"), call(T0, method="POST", user="p1")]
    p, got = run(events, k=3)
    assert got == {"GET": 3}
    assert p.drops == {("calls", "below_k"): 2}


def test_events_without_subject_never_make_k():
    p, got = run([call(T0, user=None) for _ in range(20)], k=1)
    assert got == {}
    assert p.drops == {("calls", "below_k"): 20}


def test_suppressed_cells_are_counted_by_reason():
    events = [call(T0, method="POST", user="p1"), call(T0, method="PUT", user="p1")]
    p, got = run(events, k=3)
    assert got == {}
    assert p.suppressed_cells == {("calls", "below_k"): 2}

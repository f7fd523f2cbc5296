"""The garbage-collector policy (deidentify/runtime/heap.py): what settle() freezes, and
that a cycle frozen by one settle is collected by the next."""

from __future__ import annotations

import gc
import weakref

import pytest

from deidentify.runtime import heap


class _Node:
    """A container that can take part in a reference cycle."""

    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def restored_gc():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def _cycle() -> weakref.ref:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_settle_freezes_the_survivors_and_raises_the_young_threshold(restored_gc) -> None:
    kept = _Node()
    frozen = heap.settle()
    assert frozen == gc.get_freeze_count() > 0
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, heap.MIDDLE_THRESHOLD,
                                  heap.OLD_THRESHOLD)
    assert all(o is not kept for o in gc.get_objects())    # frozen: not tracked by any generation
    del kept


def test_a_cycle_frozen_alive_is_collected_by_the_next_settle(restored_gc) -> None:
    ref = _cycle()
    holder = [ref()]                     # alive while frozen
    heap.settle()
    holder.clear()                       # now garbage, but frozen: a collection skips it
    gc.collect()
    assert ref() is not None
    heap.settle()                        # unfreezes first, so this collection finds it
    assert ref() is None


def test_garbage_cycles_made_after_settle_are_still_collected(restored_gc) -> None:
    heap.settle()
    ref = _cycle()
    gc.collect()
    assert ref() is None


def test_settle_without_collecting_freezes_the_garbage_too(restored_gc) -> None:
    ref = _cycle()                       # garbage already, not yet collected
    frozen = heap.settle(collect=False)
    assert frozen == gc.get_freeze_count() > 0
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, heap.MIDDLE_THRESHOLD,
                                  heap.OLD_THRESHOLD)
    gc.collect()
    assert ref() is not None             # frozen with the rest: no collection sees it
    heap.settle()                        # the next full settle collects it
    assert ref() is None

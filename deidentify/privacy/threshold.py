"""Privacy layer 3: k distinct subjects per published cell, with an ``__other__`` roll-up.

When a window closes, every cell is classified:

* publishable (:attr:`ThresholdResult.publishable`) — at least ``k`` distinct subjects
  (keyed hashes) contributed to it;
* cells under ``k`` are merged into the window's single roll-up cell, whose every dimension
  is ``__other__``. The roll-up is publishable only if *it* reaches ``k`` distinct subjects
  (the union of the merged cells' subject hashes); otherwise all of its events are
  suppressed and counted as ``below_k``.

Invariant: every event of a closed window is in exactly one published cell or counted as
suppressed; nothing is published for a group of fewer than ``k`` people.

Cost: a cell that reached ``k`` already dropped its hash set while aggregating (keeping the
number it reached, a lower bound of its distinct subjects), so the roll-up only unions sets
of fewer than ``k`` hashes each: O(cells * k). A cell whose lower bound is below the ``k``
applied here (the window's ``k`` was raised by a reload after the cell reached the old one)
does not count as reached: it is rolled up, never published on a weaker proof.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from deidentify.contract import OTHER
from deidentify.measures import kind_of
from deidentify.schema.model import Measure
from deidentify.window import COUNT, FIRST_MEASURE, SUBJECTS, ClosedWindow, initial_measure


@dataclass(frozen=True, slots=True)
class ThresholdResult:
    publishable: list          # [(dims tuple, cell list)] in a stable order
    rolled_up_cells: int       # cells under k merged into the roll-up
    rolled_up_events: int
    suppressed_cells: int      # cells whose events were not published at all (roll-up < k)
    suppressed_events: int


def distinct_lower_bound(subjects: set | int) -> int:
    """Distinct subjects a cell is known to have: its set's size, or the k it reached."""
    return subjects if isinstance(subjects, int) else len(subjects)


Merger = Callable[[Any, Any], Any]


def measure_mergers(measures: Iterable[Measure]) -> tuple[Merger, ...]:
    """Each measure's merge (its kind's; see :mod:`deidentify.measures`), in schema order."""
    return tuple(kind_of(m).merge(m) for m in measures)


def merge_cell(into: list, cell: list, mergers: tuple[Merger, ...]) -> None:
    into[COUNT] += cell[COUNT]
    mine, theirs = into[SUBJECTS], cell[SUBJECTS]
    if type(mine) is set and type(theirs) is set:
        mine.update(theirs)
    else:   # a union has at least as many distinct subjects as its largest part
        into[SUBJECTS] = max(distinct_lower_bound(mine), distinct_lower_bound(theirs))
    for idx, merge in enumerate(mergers, FIRST_MEASURE):
        into[idx] = merge(into[idx], cell[idx])


class SubjectThreshold:
    """Applies ``k`` to the cells of a closed window."""

    def __init__(self, k: int) -> None:
        if k < 1:
            raise ValueError("k cannot be smaller than 1")
        self.k = k

    def reached(self, cell: list) -> bool:
        return distinct_lower_bound(cell[SUBJECTS]) >= self.k

    def apply(self, window: ClosedWindow) -> ThresholdResult:
        n_dims = len(window.schema.dimension_names)
        other_key = tuple(OTHER for _ in range(n_dims))
        mergers = measure_mergers(window.schema.measures)
        rollup: list[Any] = [0, set()] + [initial_measure(m) for m in window.schema.measures]
        publishable = []
        rolled_cells = rolled_events = 0
        for dims, cell in window.cells.items():
            if dims == other_key:
                merge_cell(rollup, cell, mergers)
            elif self.reached(cell):
                publishable.append((dims, cell))
            else:
                rolled_cells += 1
                rolled_events += cell[COUNT]
                merge_cell(rollup, cell, mergers)
        suppressed_cells = suppressed_events = 0
        if rollup[COUNT]:
            if self.reached(rollup):
                publishable.append((other_key, rollup))
            else:
                suppressed_cells = rolled_cells + (1 if other_key in window.cells else 0)
                suppressed_events = rollup[COUNT]
        publishable.sort(key=lambda item: tuple(map(str, item[0])))
        return ThresholdResult(publishable, rolled_cells, rolled_events, suppressed_cells,
                               suppressed_events)

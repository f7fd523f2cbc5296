"""Privacy layer 4 on its own: the per-window cap decision (deidentify.privacy.caps)."""

from __future__ import annotations

from deidentify.contract import OTHER
from deidentify.privacy.caps import window_caps
from deidentify.schema.model import Privacy


def privacy(caps: tuple[int, ...], max_cells: int = 100) -> Privacy:
    return Privacy(subjects=("user",), k=1,
                   caps=tuple((f"d{i}", cap) for i, cap in enumerate(caps)), max_cells=max_cells)


def new_cells(admit, rows: list[tuple]) -> tuple[dict, list[bool]]:
    """Feed rows as the aggregator does: admit only when the cell does not exist yet."""
    cells: dict = {}
    capped = []
    for dims in rows:
        if dims in cells:
            capped.append(False)
            continue
        key, was_capped = admit(dims, cells)
        cells.setdefault(key, [])
        capped.append(was_capped)
    return cells, capped


def test_values_beyond_a_dimension_cap_become_other_and_are_flagged():
    admit = window_caps(privacy((2, 10)))
    cells, capped = new_cells(admit, [("a", 1), ("b", 1), ("c", 1), ("a", 2), ("d", 2)])
    assert set(cells) == {("a", 1), ("b", 1), (OTHER, 1), ("a", 2), (OTHER, 2)}
    assert capped == [False, False, True, False, True]


def test_a_cell_beyond_max_cells_becomes_the_all_other_cell():
    admit = window_caps(privacy((10, 10), max_cells=2))
    cells, capped = new_cells(admit, [("a", 1), ("b", 2), ("c", 3), ("d", 4)])
    assert set(cells) == {("a", 1), ("b", 2), (OTHER, OTHER)}
    assert capped == [False, False, True, True]


def test_each_window_has_its_own_distinct_value_sets():
    p = privacy((1,))
    first, second = window_caps(p), window_caps(p)
    assert first(("a",), {}) == (("a",), False)
    assert first(("b",), {("a",): []}) == ((OTHER,), True)
    assert second(("b",), {}) == (("b",), False)       # a new window starts empty


def test_a_schema_without_dimensions_is_capped_by_max_cells_only():
    admit = window_caps(privacy((), max_cells=1))
    assert admit((), {}) == ((), False)

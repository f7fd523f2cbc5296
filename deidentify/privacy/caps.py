"""Privacy layer 4: cardinality caps per dimension and per schema window.

The window aggregator asks this layer once per *new* cell (never per event: an event whose
cell exists is not capped again) which cell the event belongs to:

* a dimension value not yet seen in this window, when the dimension already holds its cap
  of distinct values (``privacy.caps``), becomes ``__other__``;
* a cell that would be the window's ``max_cells + 1``-th becomes the all-``__other__`` cell.

:func:`window_caps` prepares, per open window, one closure ``admit(dims, cells) -> (dims,
capped)``; ``capped`` tells the aggregator to count the event under ``over_cap`` (rolled
up, still published if the roll-up reaches k). The window keeps the caps of the schema
version that opened it, because the aggregator calls :func:`window_caps` with that
version's settings when it opens the window.

Layering: ``window.py`` does not import this module (``privacy/`` sits above the window,
whose closed cells it filters); the pipeline, which composes the layers, hands
:func:`window_caps` to :class:`~deidentify.window.WindowAggregator`.

Invariants: at most ``cap`` distinct values per dimension and at most ``max_cells`` + 1
cells (the all-``__other__`` one) per window; no value is logged or raised.

Memory: per open window, one set of distinct values per dimension, bounded by its cap.
"""

from __future__ import annotations

from deidentify.contract import OTHER
from deidentify.schema.model import Privacy
from deidentify.window import CellAdmit

__all__ = ["window_caps"]


def window_caps(privacy: Privacy) -> CellAdmit:
    """The cap decision of one open window, with its own distinct-value sets."""
    caps = tuple(cap for _, cap in privacy.caps)
    seen: tuple[set, ...] = tuple(set() for _ in caps)
    max_cells = privacy.max_cells
    all_other = tuple(OTHER for _ in caps)

    def admit(dims: tuple, cells: dict) -> tuple[tuple, bool]:
        capped = False
        if dims:
            new_dims = []
            for value, held, cap in zip(dims, seen, caps, strict=True):
                if value not in held:
                    if len(held) >= cap:
                        value = OTHER
                        capped = True
                    else:
                        held.add(value)
                new_dims.append(value)
            dims = tuple(new_dims)
        if dims not in cells and len(cells) >= max_cells:
            return all_other, True
        return dims, capped
    return admit

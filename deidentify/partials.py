"""Partial cells of ``--stages split``: what stage one publishes and how stage two merges it.

Pure (no Kafka). The runtime is :mod:`deidentify.sidecar.split`; the design is
``docs/scale-out.md``.

Stage one runs the ordinary pipeline on one raw partition, but with
:class:`UncappedWindows`: no cardinality cap is applied while aggregating (caps decided in
arrival order differ with the interleaving of partitions), and subject hashes use the
region's shared key (:class:`~deidentify.privacy.sketch.SubjectKey`), so the summaries of two
processes merge. When a window closes on that partition, its cells become one *partial*
record (:func:`encode_partial`); the partition's close watermark becomes a *mark* record
(:func:`encode_mark`).

A cell's subject summary is the window's own: the exact set of fewer than ``k`` keyed hashes,
or the number ``k`` once ``k`` distinct were seen (the window stops hashing then). It merges
exactly: the union of sets, *reached* if any part reached or the union holds ``k``. (The
bottom-k sketch of ``privacy/sketch.py`` merges exactly too; this summary is smaller for
cells that reached ``k``, keeps the window's stop-hashing shortcut and needs no second
per-event path.)

Stage two (:class:`RegionWindows`, one per internal partition) keeps every partial of an open
window by source (raw topic and partition) and a mark per source. A window closes when
*every* raw partition of its schema's topic has a mark at or past the window's close time
(end + grace): each source sends a window's partial before (or in the same transaction as)
the mark that passes it, in the same internal partition, so nothing of the window is still
to come. Then the partials are merged in source order (deterministic, whatever the arrival
order), caps are applied order-independently (:func:`cap_cells`), and the result is an
ordinary :class:`~deidentify.window.ClosedWindow` for ``k``, the roll-up and the guard.

Caps in split mode (order-independent, so every process count gives the same output): per
dimension, the ``cap`` values with the most events in the merged window are kept (ties by
value), the rest become ``__other__``; then, if more than ``max_cells`` cells remain, the
``max_cells`` cells with most events are kept (ties by dims) and the rest merge into the
all-``__other__`` cell. Below the caps nothing changes, so split mode publishes what
``preview`` publishes; above them it can differ from the single-process rule (first values
in arrival order).

Memory: stage one holds a partition's open windows without caps (cells are bounded by the
distinct dims of one partition's window, not by ``max_cells``); stage two holds each open
window's partials (cells x sources) until it closes. No record carries a subject, only keyed
hashes; nothing here logs.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Hashable, Iterable
from copy import deepcopy
from dataclasses import dataclass, field
from typing import NamedTuple

import orjson

from deidentify.contract import OTHER
from deidentify.privacy.caps import CellAdmit
from deidentify.privacy.threshold import measure_mergers
from deidentify.schema.compile import CompiledSchema
from deidentify.schema.model import Privacy
from deidentify.window import (
    COUNT,
    FIRST_MEASURE,
    SUBJECTS,
    ClosedWindow,
    WindowAggregator,
)

RECORD_VERSION = 1
PARTIAL, MARK = "p", "m"
# Why a record of the internal topic was not used (a closed set: usable as a metric label).
BAD_RECORD, WRONG_KEY, UNKNOWN_SCHEMA, LATE_PARTIAL = (
    "bad_record", "wrong_key", "unknown_schema", "late_partial")
RECORD_REJECTS = (BAD_RECORD, WRONG_KEY, UNKNOWN_SCHEMA, LATE_PARTIAL)

Source = tuple[str, int]          # raw topic, partition


def _no_caps(privacy: Privacy) -> CellAdmit:
    """Stage one admits every cell: caps are decided on the merged cells in stage two."""
    def admit(dims: tuple, cells: dict) -> tuple[tuple, bool]:
        return dims, False
    return admit


class UncappedWindows(WindowAggregator):
    """Stage one's windows: the region's subject hash, no caps while aggregating."""

    def __init__(self, *, idle_ms: int | None, subject_hash: Callable[[object], int]) -> None:
        super().__init__(window_caps=_no_caps, idle_ms=idle_ms)
        self._hash = subject_hash
        # Every subject, str included, goes through the region key: the window's inline
        # hash() of str subjects is keyed per process and would not merge across processes.
        self._str_hash_keyed = False


# --------------------------------------------------------------------------- wire form


class Partial(NamedTuple):
    source: Source
    schema: str
    version: int
    start_ms: int
    end_ms: int
    close_at_ms: int
    k: int
    cells: dict                  # dims tuple -> cell list (window layout)


class Mark(NamedTuple):
    source: Source
    mark_ms: int                 # every window of the source closing at or before is sent


def window_key(schema: str, start_ms: int) -> bytes:
    return f"{schema}:{start_ms}".encode()


def internal_partition(key: bytes, partitions: int) -> int:
    """Partition of the internal topic for a window (stable across processes)."""
    return zlib.crc32(key) % partitions


def _summary(subjects: set | int) -> int | list:
    return subjects if type(subjects) is int else sorted(subjects)


def encode_partial(window: ClosedWindow, source: Source, key_id: bytes) -> bytes:
    cs = window.schema
    cells = [[list(dims), cell[COUNT], _summary(cell[SUBJECTS]), cell[FIRST_MEASURE:]]
             for dims, cell in window.cells.items()]
    return orjson.dumps({"t": PARTIAL, "v": RECORD_VERSION, "key": key_id.hex(),
                         "src": list(source), "schema": cs.name, "version": cs.version,
                         "start": window.start_ms, "end": window.end_ms,
                         "close_at": window.end_ms + cs.grace_ms, "k": window.k,
                         "cells": cells})


def encode_mark(source: Source, mark_ms: int, key_id: bytes) -> bytes:
    return orjson.dumps({"t": MARK, "v": RECORD_VERSION, "key": key_id.hex(),
                         "src": list(source), "mark": mark_ms})


def decode_record(data: bytes | None, key_id: bytes) -> Partial | Mark | str:
    """A record of the internal topic, or the reason it is refused (never raises)."""
    try:
        obj = orjson.loads(data) if data is not None else None
        if type(obj) is not dict or obj.get("v") != RECORD_VERSION:
            return BAD_RECORD
        if obj.get("key") != key_id.hex():
            return WRONG_KEY
        topic, partition = obj["src"]
        source = (str(topic), int(partition))
        if obj["t"] == MARK:
            return Mark(source, int(obj["mark"]))
        if obj["t"] != PARTIAL:
            return BAD_RECORD
        cells = {}
        for dims, count, summary, states in obj["cells"]:
            subjects = summary if type(summary) is int else set(summary)
            cells[tuple(dims)] = [count, subjects, *states]
        return Partial(source, obj["schema"], int(obj["version"]), int(obj["start"]),
                       int(obj["end"]), int(obj["close_at"]), int(obj["k"]), cells)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return BAD_RECORD


# --------------------------------------------------------------------------- merging


def merge_summaries(a: set | int, b: set | int, k: int) -> set | int:
    """Exact: reached (``k``) if either part reached or the union holds ``k`` hashes."""
    if type(a) is int or type(b) is int:
        return max(a if type(a) is int else len(a), b if type(b) is int else len(b), 0)
    union = a | b
    return k if len(union) >= k else union


def merge_into(cells: dict, dims: tuple, cell: list, mergers: tuple, k: int) -> None:
    """Add ``cell`` into ``cells[dims]`` (copied on first use: inputs stay untouched)."""
    into = cells.get(dims)
    if into is None:
        subjects = cell[SUBJECTS]
        subjects = subjects if type(subjects) is int else set(subjects)
        cells[dims] = [cell[COUNT], subjects] + deepcopy(cell[FIRST_MEASURE:])
        return
    into[COUNT] += cell[COUNT]
    into[SUBJECTS] = merge_summaries(into[SUBJECTS], cell[SUBJECTS], k)
    for idx, merge in enumerate(mergers, FIRST_MEASURE):
        into[idx] = merge(into[idx], cell[idx])


def _order(value: object) -> bytes:
    return orjson.dumps(value)


def cap_cells(cs: CompiledSchema, cells: dict, k: int) -> tuple[dict, int]:
    """Caps and ``max_cells`` decided on the merged cells (module docstring): the capped
    cells and the number of events moved to ``__other__``."""
    privacy = cs.schema.privacy
    n = len(cs.dimension_names)
    if not n:
        return cells, 0
    keep: list[set | None] = []
    for i in range(n):
        totals: dict = {}
        for dims, cell in cells.items():
            value = dims[i]
            if value != OTHER:
                totals[value] = totals.get(value, 0) + cell[COUNT]
        cap = privacy.caps[i][1]
        if len(totals) <= cap:
            keep.append(None)
        else:
            ranked = sorted(totals, key=lambda v: (-totals[v], _order(v)))
            keep.append(set(ranked[:cap]))
    mergers = measure_mergers(cs.measures)
    moved = 0
    if any(allowed is not None for allowed in keep):
        capped: dict = {}
        for dims in sorted(cells, key=_order):
            cell = cells[dims]
            new = tuple(v if allowed is None or v in allowed or v == OTHER else OTHER
                        for v, allowed in zip(dims, keep, strict=True))
            if new != dims:
                moved += cell[COUNT]
            merge_into(capped, new, cell, mergers, k)
        cells = capped
    other = tuple(OTHER for _ in range(n))
    if len(cells) - (other in cells) > privacy.max_cells:
        ranked = sorted((d for d in cells if d != other),
                        key=lambda d: (-cells[d][COUNT], _order(d)))
        out = {d: cells[d] for d in ranked[:privacy.max_cells]}
        for dims in sorted(ranked[privacy.max_cells:], key=_order):
            moved += cells[dims][COUNT]
            merge_into(out, other, cells[dims], mergers, k)
        if other in cells:
            merge_into(out, other, cells[other], mergers, k)
        cells = out
    return cells, moved


@dataclass(slots=True)
class MergingWindow:
    schema: CompiledSchema
    start_ms: int
    end_ms: int
    close_at_ms: int
    k: int
    first_offset: int
    parts: dict = field(default_factory=dict)      # source -> [partial cells, ...]


class RegionWindows:
    """Stage two's state for one internal partition: open windows, marks, offsets."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, int, int], MergingWindow] = {}
        self._marks: dict[Source, int] = {}
        self._closed_through: dict[str, int] = {}
        self._next_offset: int | None = None
        self.rejected: dict[tuple[str, str], int] = {}     # (schema, reason) -> records
        self.late_events: dict[str, int] = {}      # schema -> events of late partials

    def _reject(self, schema: str, reason: str) -> None:
        key = (schema, reason)
        self.rejected[key] = self.rejected.get(key, 0) + 1

    def add(self, record: Partial | Mark | str, offset: int,
            resolve: Callable[[str, int], CompiledSchema | None]) -> None:
        """One record of the internal partition, in offset order."""
        self._next_offset = offset + 1
        if type(record) is str:
            self._reject("-", record)
        elif type(record) is Mark:
            if record.mark_ms > self._marks.get(record.source, -1):
                self._marks[record.source] = record.mark_ms
        else:
            self._add_partial(record, offset, resolve)

    def _add_partial(self, p: Partial, offset: int,
                     resolve: Callable[[str, int], CompiledSchema | None]) -> None:
        if p.end_ms <= self._closed_through.get(p.schema, -1):
            self._reject(p.schema, LATE_PARTIAL)
            events = sum(cell[COUNT] for cell in p.cells.values())
            self.late_events[p.schema] = self.late_events.get(p.schema, 0) + events
            return
        key = (p.schema, p.version, p.start_ms)
        win = self._windows.get(key)
        if win is None:
            cs = resolve(p.schema, p.version)
            if cs is None:
                self._reject(p.schema, UNKNOWN_SCHEMA)
                return
            win = MergingWindow(cs, p.start_ms, p.end_ms, p.close_at_ms, p.k, offset)
            self._windows[key] = win
        win.k = max(win.k, p.k)       # a reload raised k in some partition: fail closed
        win.parts.setdefault(p.source, []).append(p.cells)

    def due(self, sources_of: Callable[[str], Iterable[Source] | None]) -> list[ClosedWindow]:
        """Windows every source of their schema has passed (module docstring), merged."""
        closing = []
        for win in self._windows.values():
            sources = sources_of(win.schema.name)
            if sources is None:
                continue
            sources = list(sources)
            if sources and all(self._marks.get(s, -1) >= win.close_at_ms for s in sources):
                closing.append(win)
        closing.sort(key=lambda w: (w.start_ms, w.schema.name, w.schema.version))
        out = []
        for win in closing:
            cs = win.schema
            del self._windows[(cs.name, cs.version, win.start_ms)]
            if win.end_ms > self._closed_through.get(cs.name, -1):
                self._closed_through[cs.name] = win.end_ms
            out.append(merge_window(win))
        return out

    def safe_offset(self) -> int | None:
        """The offset a commit may move to: the first partial of an open window, else the
        next offset (``None``: nothing read)."""
        firsts = [w.first_offset for w in self._windows.values()]
        return min(firsts) if firsts else self._next_offset

    def closed_through(self) -> dict[str, int]:
        return dict(self._closed_through)

    def restore_closed_through(self, marks: dict[str, int]) -> None:
        for name, end in marks.items():
            if end > self._closed_through.get(name, -1):
                self._closed_through[name] = end

    @property
    def open_window_count(self) -> int:
        return len(self._windows)

    def oldest_open_end(self) -> int | None:
        return min((w.end_ms for w in self._windows.values()), default=None)

    def marks(self) -> dict[Hashable, int]:
        return dict(self._marks)


def merge_window(win: MergingWindow) -> ClosedWindow:
    """The partials of a window merged in source order, then capped (deterministic)."""
    cs = win.schema
    mergers = measure_mergers(cs.measures)
    cells: dict = {}
    for source in sorted(win.parts):
        for part in win.parts[source]:
            for dims in sorted(part, key=_order):
                merge_into(cells, dims, part[dims], mergers, win.k)
    for cell in cells.values():               # a set that holds k: reached
        subjects = cell[SUBJECTS]
        if type(subjects) is set and len(subjects) >= win.k:
            cell[SUBJECTS] = win.k
    cells, moved = cap_cells(cs, cells, win.k)
    return ClosedWindow(cs, win.start_ms, win.end_ms, cells, moved, win.k)


__all__ = ["MARK", "PARTIAL", "RECORD_REJECTS", "Mark", "Partial", "RegionWindows",
           "UncappedWindows", "cap_cells", "decode_record", "encode_mark", "encode_partial",
           "internal_partition", "merge_summaries", "merge_window", "window_key"]

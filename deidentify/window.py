"""Event-time tumbling windows with per-partition stream time and final-only emission.

Semantics (Kafka Streams' "final results" model):

* An event with event time ``ts_ms`` belongs to the window ``[start, start + size)`` with
  ``start = ts_ms - ts_ms % size``.
* Stream time is tracked per partition: the highest event time seen on it. The close
  watermark is the minimum stream time over the partitions that feed this aggregator
  (see "Watermarks and idleness" below).
* A window closes when the watermark reaches ``end + grace``; it is emitted exactly once,
  with its final cells. An event for a window that has already closed is *late*: it is
  dropped and counted, never merged into something already published.
* Offsets: every open window remembers, per partition, the first offset that fed it. The
  safe commit offset of a partition is the smallest such offset over open windows (or the
  next offset after everything seen when no open window holds its events), so a replay
  from the committed offsets rebuilds every open window exactly.

Watermarks and idleness (Flink-style; the runtime feeds the evidence, this module stays pure):

* A partition is *caught up* only on evidence: the runtime calls :meth:`mark_caught_up`
  when fresh evidence (the sidecar: a fetch response) shows that everything up to the end
  offset has been processed, and :meth:`mark_not_caught_up` when records are unread or
  when it has no fresh evidence at all (broker unreachable, fetch failing). No evidence
  never counts as caught up, so a broker outage cannot make a partition look idle.
* A partition is *idle* when it has been caught up, with no new records, for ``idle_ms``
  of wall-clock time (``caught_up_since`` and the last record's wall time, both kept here).
  An idle partition stops holding the watermark back.
* Every other partition holds the watermark at its own stream time. A partition that has
  delivered no event yet (tracked with :meth:`track_partition`, e.g. just assigned) holds
  everything back unless it is known caught up: it may still hold older events.
* When every partition is idle, the watermark follows the wall clock (never below the
  lowest stream time), so a quiet region still closes its windows; a backlog is closed as
  fast as it is read, not one window per wall-clock minute.

Cardinality caps (privacy layer 4) are applied when a cell is created (never again for an
event whose cell exists): the aggregator calls the window's prepared cap decision, built
when the window opens by the ``window_caps`` factory it was given
(:func:`deidentify.privacy.caps.window_caps`, handed in by the pipeline: this module does
not import ``privacy/``, which sits above it). A dimension value beyond its per-window cap
becomes ``__other__``; a cell beyond the window's ``max_cells`` becomes the
all-``__other__`` cell.

Privacy settings under reload: a window keeps the ``k``, caps and ``max_cells`` of the
schema version that opened it (windows are keyed by schema name *and* version). A reload can
raise an open window's ``k`` (:meth:`WindowAggregator.raise_k`: never less than the highest
``k`` loaded for its schema name while it was open) but never lower it. A cell that reached
the window's ``k`` forgets its hashes and keeps only that number (a lower bound of its
distinct subjects); if ``k`` is raised later, such a cell no longer proves the new ``k`` and
is rolled up (fail closed) rather than re-checked.

Memory: per open window, one entry per cell (a small list) plus, per cell, at most ``k``
subject hashes (a cell that reached ``k`` distinct subjects drops its set), plus one set of
distinct values per dimension (bounded by the caps). So it is O(cells * k) whatever the
number of distinct subjects. Per schema version seen, a few generated functions (``add``,
the decoded path's extract+add) and their namespace, kept for the process's life.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from hashlib import blake2b
from os import urandom

from deidentify.contract import DropReason
from deidentify.measures import build_updater, kind_of, update_body
from deidentify.schema.compile import CompiledSchema, Extracted
from deidentify.schema.model import Measure, Privacy

INF = float("inf")     # the horizon of a direct add: no event time is beyond it
NO_TIME = -(1 << 62)   # below every event time (RFC 3339 years from 0001 included)
# A schema's hot window [start, OpenWindow, end] when it has none: ``start <= ts < end`` holds
# for no event time.
NO_HOT = (0, None, 0)
# The last line of a generated extractor (deidentify/schema/codegen.py).
_EXTRACTED_RETURN = re.compile(
    r"( *)return make\(Extracted, \(ts, (\([^()]*\)), (\([^()]*\)), s\)\)$")

# Cell layout: [count, subjects, *measures]; subjects is a set of keyed hashes, or once the
# window's k distinct subjects were seen, the int k it reached (a lower bound, set dropped).
COUNT = 0
SUBJECTS = 1
FIRST_MEASURE = 2

CellAdmit = Callable[[tuple, dict], tuple[tuple, bool]]
"""A window's cap decision for a new cell: ``(dims, cells) -> (dims to use, capped?)``."""


def make_subject_hasher() -> Callable[[object], int]:
    """Keyed hash of a subject value. The key lives only in this process's memory.

    With hash randomisation on (CPython's default) ``hash(str)`` is SipHash keyed by a
    per-process random secret that is never written anywhere; values are turned into
    strings first, because ``hash(int)`` is not keyed. When randomisation is off
    (PYTHONHASHSEED set), a BLAKE2b MAC with a fresh random key is used instead.
    """
    if sys.flags.hash_randomization:
        def siphash(value: object) -> int:
            return hash(value if type(value) is str else repr(value))
        return siphash
    key = urandom(32)

    def mac(value: object) -> int:
        text = value if type(value) is str else repr(value)
        digest = blake2b(text.encode("utf-8", "surrogatepass"), key=key, digest_size=8)
        return int.from_bytes(digest.digest(), "little")
    return mac


@dataclass(slots=True)
class OpenWindow:
    schema: CompiledSchema
    start_ms: int
    end_ms: int
    close_at_ms: int
    k: int                # distinct subjects a cell needs; only ever raised while open
    admit: CellAdmit      # privacy layer 4: the caps of the version that opened it
    cells: dict = field(default_factory=dict)
    first_offsets: dict = field(default_factory=dict)
    over_cap_events: int = 0


@dataclass(frozen=True, slots=True)
class ClosedWindow:
    """A window that has just closed, with its final cells (before privacy filtering)."""

    schema: CompiledSchema
    start_ms: int
    end_ms: int
    cells: dict           # dims tuple -> cell list (see layout above)
    over_cap_events: int
    k: int                # the k this window is published under


class WindowAggregator:
    """Aggregates extracted events into open windows and closes them by stream time.

    ``add`` returns ``None`` when the event was aggregated, or ``DropReason.LATE`` when its
    window has already closed.
    """

    def __init__(self, *, window_caps: Callable[[Privacy], CellAdmit],
                 idle_ms: int | None = None) -> None:
        self._window_caps = window_caps      # privacy layer 4, one decision per open window
        self._windows: dict[tuple[str, int, int], OpenWindow] = {}
        self._closed_through: dict[str, int] = {}   # schema name -> end of last closed window
        self._stream_time: dict[Hashable, int] = {}
        self._last_wall: dict[Hashable, int] = {}         # wall time of the last records
        self._caught_up_since: dict[Hashable, int] = {}   # known caught up since wall time
        self._tracked: set[Hashable] = set()              # assigned, whether or not seen
        self._next_offset: dict[Hashable, int] = {}
        self._idle_ms = idle_ms
        self._hash = make_subject_hasher()
        self._str_hash_keyed = bool(sys.flags.hash_randomization)   # hash(str) is SipHash
        # Keyed by the CompiledSchema object itself (identity), never by id(): after a hot
        # reload an id could be reused by a new schema with other measures.
        self._adders: dict[CompiledSchema, Callable] = {}
        self._add_states: dict[CompiledSchema, dict] = {}
        self._fused: dict[Callable, Callable] = {}     # generated extract -> extract+add
        # Per schema, the window it last wrote to ([start, OpenWindow]): consecutive events
        # mostly share it, and an open window cannot be late. Forgotten whenever a window
        # closes.
        self._hot: list[list] = []
        # Per compiled schema: events ``add`` took within the horizon since the last
        # :meth:`take_received` (late ones included).
        self._received: list[tuple[str, list[int]]] = []
        # The stream time of the partition of the batch being added (see begin_batch):
        # one list slot the generated functions compare with, not a dict lookup per event.
        self._batch_time: list[int] = [NO_TIME]

    # ----------------------------------------------------------------- hot path

    def add(self, cs: CompiledSchema, x: Extracted, partition: Hashable = 0,
            offset: int = -1, horizon: float = INF) -> DropReason | None:
        """Aggregate one extracted event: ``None``, or ``DropReason.LATE`` when its window
        has closed, or ``DropReason.FUTURE_TIMESTAMP`` when its event time is beyond
        ``horizon`` (then it touches nothing, stream time included). A batch of one."""
        adder = self._adders.get(cs)
        if adder is None:
            adder = self.adder(cs)
        self.begin_batch(partition)
        try:
            return adder(x, partition, offset, horizon)
        finally:
            self.end_batch(partition)

    def begin_batch(self, partition: Hashable) -> None:
        """Records of ``partition`` follow, through :meth:`adder` / :meth:`extract_adder`
        functions, until :meth:`end_batch`: the generated functions take the batch's
        partition stream time from one slot, and each schema's first event of the batch
        looks its window up again, which records the partition's first offset there (a
        window switch is the only place the generated code checks first offsets)."""
        self._batch_time[0] = self._stream_time.get(partition, NO_TIME)
        for hot in self._hot:
            hot[:] = NO_HOT

    def end_batch(self, partition: Hashable) -> None:
        """Stores the batch's stream time of ``partition`` (see :meth:`begin_batch`)."""
        st = self._batch_time[0]
        if st != NO_TIME:
            self._stream_time[partition] = st
        self._batch_time[0] = NO_TIME

    def adder(self, cs: CompiledSchema) -> Callable[[Extracted, Hashable, int, float],
                                                    DropReason | None]:
        """``add`` for one schema, ``(x, partition, offset, horizon) -> None | reason``,
        compiled once into a single straight-line function: the horizon check, the
        received count, stream time, the window (the one this schema last wrote to, else
        looked up or opened, with the first offset), the cell, its count and subjects, and
        the measure updates (each measure kind's lines, :func:`deidentify.measures.update_body`).
        Called between :meth:`begin_batch` and :meth:`end_batch` of ``partition``."""
        adder = self._adders.get(cs)
        if adder is not None:
            return adder
        lines, namespace = self._add_body(cs)
        source = "\n".join(["def add(x, partition, offset, horizon):",
                            "    ts, dims, values, subject = x",
                            *["    " + line for line in lines], ""])
        exec(compile(source, f"<deidentify add {cs.name} v{cs.version}>", "exec"), namespace)
        adder = namespace["add"]
        adder.__source__ = source
        self._adders[cs] = adder
        return adder

    def extract_adder(self, cs: CompiledSchema, extract: Callable) -> Callable[
            [object, Hashable, int, float], DropReason | None]:
        """``extract`` (a generated extractor, :mod:`deidentify.schema.codegen`) and
        :meth:`adder` as one function, ``(event, partition, offset, horizon) -> None |
        reason``: the extractor's lines, then, where it would return its ``Extracted``
        tuple, the add lines (no tuple is built, one call per event less). Same outcome,
        the same state (window, counts) as ``add(extract(event), ...)``."""
        fused = self._fused.get(extract)
        if fused is not None:
            return fused
        source: str = getattr(extract, "__source__", "")
        lines = source.split("\n")
        ret = [(i, m) for i, line in enumerate(lines) if (m := _EXTRACTED_RETURN.match(line))]
        if lines[0] != "def extract(event):" or len(ret) != 1:
            raise ValueError("not a generated extractor")   # pragma: no cover
        at, match = ret[0]
        ind, dims, values = match.groups()
        subject = "s"
        # The add lines read the extractor's own variables: its measure values by name (no
        # tuple is built and unpacked per event) and its subject ``s``.
        names = [v.strip() for v in values.strip("()").split(",") if v.strip()]
        add_lines, add_namespace = self._add_body(cs, names, subject)
        namespace = dict(extract.__globals__)
        if set(add_namespace) & set(namespace) - {"__builtins__", "bisect_left"}:
            raise ValueError("generated names collide")     # pragma: no cover
        namespace.update(add_namespace)
        lines[at:at + 1] = [f"{ind}dims = {dims}", *[ind + line for line in add_lines]]
        lines[0] = "def extract_add(event, partition, offset, horizon):"
        source = "\n".join(lines)
        exec(compile(source, f"<deidentify extract+add {cs.name} v{cs.version}>", "exec"),
             namespace)
        fused = namespace["extract_add"]
        fused.__source__ = source
        self._fused[extract] = fused
        return fused

    def _add_body(self, cs: CompiledSchema, names: list[str] | None = None,
                  subject: str = "subject") -> tuple[list[str], dict]:
        """The lines of ``add`` after ``ts``, ``dims`` and the subject (the variable named
        ``subject``) are bound, with the measure values in the tuple ``values`` or, given
        ``names``, in variables of those names; and their namespace, built once per schema,
        so every function built from it shares the schema's hot window and received
        count."""
        lines, consts = update_body(cs.measures, FIRST_MEASURE, names=names)
        namespace = self._add_states.get(cs)
        if namespace is None:
            namespace = self._add_states[cs] = self._add_state(cs, consts)
        return self._add_lines(subject) + lines + ["return None"], namespace

    def _add_state(self, cs: CompiledSchema, consts: dict) -> dict:
        """The namespace of a schema's add lines: its constants and its window state."""
        namespace = dict(consts)
        hot: list = list(NO_HOT)       # [start, OpenWindow, end] this schema last wrote to
        self._hot.append(hot)
        received = [0]
        self._received.append((cs.name, received))
        namespace.update(
            HOT=hot, SIZE=cs.size_ms, CS=cs, LATE=DropReason.LATE, RECEIVED=received,
            FUTURE=DropReason.FUTURE_TIMESTAMP,
            BATCH_TIME=self._batch_time, find_window=self._find_window, new_cell=self._new_cell, HASH=self._hash)
        return namespace

    def _add_lines(self, subject: str) -> list[str]:
        """The add lines up to the measure updates, the subject in the variable ``subject``."""
        # A str subject is hashed inline when hash() is keyed (see make_subject_hasher).
        hashed = (f"hash({subject}) if {subject}.__class__ is str else HASH({subject})"
                  if self._str_hash_keyed else f"HASH({subject})")
        return [
            "if ts > horizon:",
            "    return FUTURE",
            "RECEIVED[0] += 1",
            "if ts > BATCH_TIME[0]:",
            "    BATCH_TIME[0] = ts",
            "if HOT[0] <= ts < HOT[2]:",
            "    win = HOT[1]",
            "else:",
            "    start = ts - ts % SIZE",
            "    win = find_window(CS, start)",
            "    if win is None:",
            "        return LATE",
            "    HOT[0] = start",
            "    HOT[1] = win",
            "    HOT[2] = start + SIZE",
            "    if offset >= 0 and partition not in win.first_offsets:",
            "        win.first_offsets[partition] = offset",
            "cell = win.cells.get(dims)",
            "if cell is None:",
            "    cell = new_cell(win, CS, dims)",
            "cell[0] += 1",
            f"if {subject} is not None:",
            "    subjects = cell[1]",
            "    if subjects.__class__ is set:",
            f"        subjects.add({hashed})",
            "        if len(subjects) >= win.k:",
            "            cell[1] = win.k"]

    def take_received(self) -> Iterator[tuple[str, int]]:
        """``(schema name, events)`` that ``add`` took within the horizon (late ones
        included) since the last call, for the schemas that took any; resets the counts."""
        for name, received in self._received:
            if received[0]:
                yield name, received[0]
                received[0] = 0

    def _find_window(self, cs: CompiledSchema, start: int) -> OpenWindow | None:
        """The open window of ``cs`` starting at ``start`` (opened if need be), or None
        when that window has already closed (the event is late)."""
        size = cs.size_ms
        if start + size <= self._closed_through.get(cs.name, -1):
            return None
        key = (cs.name, cs.version, start)
        win = self._windows.get(key)
        if win is None:
            privacy = cs.schema.privacy
            win = OpenWindow(cs, start, start + size, start + size + cs.grace_ms,
                             privacy.k, self._window_caps(privacy))
            self._windows[key] = win
        return win

    def _new_cell(self, win: OpenWindow, cs: CompiledSchema, dims: tuple) -> list:
        dims, capped = win.admit(dims, win.cells)
        if capped:
            win.over_cap_events += 1
        cell = win.cells.get(dims)
        if cell is None:
            cell = [0, set()] + [initial_measure(m) for m in cs.measures]
            win.cells[dims] = cell
        return cell

    # ----------------------------------------------------------------- privacy under reload

    def raise_k(self, name: str, k: int) -> int:
        """A schema version with ``k`` was loaded for ``name``: no window of that name that
        is open now is published under less. Returns how many open windows were raised."""
        raised = 0
        for win in self._windows.values():
            if win.schema.name == name and win.k < k:
                win.k = k
                raised += 1
        return raised

    # ----------------------------------------------------------------- time and closing

    def mark_consumed(self, partition: Hashable, next_offset: int) -> None:
        """Every record of ``partition`` before ``next_offset`` has been processed (once per
        batch: accepted, late and rejected records alike)."""
        self._next_offset[partition] = next_offset

    def cap_stream_time(self, partition: Hashable, wall_ms: int) -> None:
        """Stream time never runs ahead of the wall clock: a window is not final before the
        wall clock has passed its end plus grace, whatever event times say."""
        st = self._stream_time.get(partition)
        if st is not None and st > wall_ms:
            self._stream_time[partition] = wall_ms

    def mark_activity(self, partition: Hashable, wall_ms: int) -> None:
        """Records of ``partition`` were processed at ``wall_ms``: its idle clock restarts."""
        self._last_wall[partition] = wall_ms

    def track_partition(self, partition: Hashable) -> None:
        """``partition`` feeds this aggregator (assigned): until it delivers an event or is
        known caught up, it holds every window open."""
        self._tracked.add(partition)

    def mark_caught_up(self, partition: Hashable, wall_ms: int) -> None:
        """Fresh evidence at ``wall_ms``: everything up to the partition's end offset has
        been processed. Caught up since the first such evidence, until contradicted."""
        if partition not in self._caught_up_since:
            self._caught_up_since[partition] = wall_ms

    def mark_not_caught_up(self, partition: Hashable) -> None:
        """Records are unread on ``partition``, or there is no fresh evidence that none are
        (broker unreachable, fetch failed): it is not idle and holds the watermark."""
        self._caught_up_since.pop(partition, None)

    def is_idle(self, partition: Hashable, wall_ms: int | None) -> bool:
        """Caught up, with no new records, for at least ``idle_ms`` of wall-clock time."""
        if self._idle_ms is None or wall_ms is None:
            return False
        since = self._caught_up_since.get(partition)
        if since is None:
            return False
        last = self._last_wall.get(partition)
        if last is not None and last > since:
            since = last
        return wall_ms - since >= self._idle_ms

    def watermark(self, wall_ms: int | None = None) -> int | None:
        """The close watermark (see the module docstring), or ``None``: nothing may close."""
        stream_time = self._stream_time
        partitions = self._tracked.union(stream_time)
        if not partitions:
            return None
        held: int | None = None
        every_idle = True
        for partition in partitions:
            if self.is_idle(partition, wall_ms):
                continue
            every_idle = False
            st = stream_time.get(partition)
            if st is None:
                if partition in self._caught_up_since:
                    continue          # nothing unread there and nothing seen: holds nothing
                return None           # may still hold events older than any stream time
            if held is None or st < held:
                held = st
        if held is not None:
            return held
        if every_idle and wall_ms is not None:
            lowest = min(stream_time.values(), default=wall_ms)
            return max(wall_ms, lowest)
        return None

    def oldest_open_end(self) -> int | None:
        """Event time at which the oldest open window ends (``None`` when none is open)."""
        return min((w.end_ms for w in self._windows.values()), default=None)

    def close_due(self, wall_ms: int | None = None) -> list[ClosedWindow]:
        mark = self.watermark(wall_ms)
        if mark is None:
            return []
        return self._close(lambda w: w.close_at_ms <= mark)

    def close_all(self) -> list[ClosedWindow]:
        return self._close(lambda w: True)

    def _close(self, due: Callable[[OpenWindow], bool]) -> list[ClosedWindow]:
        closing = [w for w in self._windows.values() if due(w)]
        closing.sort(key=lambda w: (w.start_ms, w.schema.name, w.schema.version))
        if closing:
            for hot in self._hot:
                hot[:] = NO_HOT
        out = []
        for win in closing:
            del self._windows[(win.schema.name, win.schema.version, win.start_ms)]
            name = win.schema.name
            if win.end_ms > self._closed_through.get(name, -1):
                self._closed_through[name] = win.end_ms
            out.append(ClosedWindow(win.schema, win.start_ms, win.end_ms, win.cells,
                                    win.over_cap_events, win.k))
        return out

    # ----------------------------------------------------------------- offsets and recovery

    def safe_offsets(self) -> dict[Hashable, int]:
        """Per partition, the offset up to which a commit loses nothing still open."""
        safe = dict(self._next_offset)
        for win in self._windows.values():
            for partition, first in win.first_offsets.items():
                if first < safe.get(partition, first + 1):
                    safe[partition] = first
        return safe

    def closed_through(self) -> dict[str, int]:
        return dict(self._closed_through)

    def restore_closed_through(self, marks: dict[str, int]) -> None:
        for name, end in marks.items():
            if end > self._closed_through.get(name, -1):
                self._closed_through[name] = end

    def forget_partition(self, partition: Hashable) -> None:
        """A partition was revoked: it no longer holds the watermark back."""
        self._stream_time.pop(partition, None)
        self._last_wall.pop(partition, None)
        self._caught_up_since.pop(partition, None)
        self._tracked.discard(partition)
        self._next_offset.pop(partition, None)

    def open_windows(self) -> Iterator[OpenWindow]:
        return iter(list(self._windows.values()))

    @property
    def open_window_count(self) -> int:
        return len(self._windows)


# --------------------------------------------------------------------------- measures


def initial_measure(measure: Measure) -> object:
    """A new cell's value for ``measure`` (its kind's initial value)."""
    return kind_of(measure).initial(measure)


def make_updater(cs: CompiledSchema) -> Callable[[list, tuple], None]:
    """Compile the measure updates of one schema into a single straight-line function
    (each measure kind's update lines; see :func:`deidentify.measures.build_updater`)."""
    return build_updater(cs.measures, FIRST_MEASURE)

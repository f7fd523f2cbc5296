"""The pure pipeline: raw bytes in, published aggregates and drop counts out.

``deidentify preview`` and the regional sidecar run this very object; they differ only in
where bytes come from and where aggregates go. No Kafka, no faust, no I/O here.

Stages for each raw message, and the :class:`~deidentify.contract.DropReason` counted when
a stage drops it::

    decode (size, UTF-8 JSON, object)   -> INVALID_JSON | NOT_AN_OBJECT | TOO_LARGE
    pick schemas by "type"              -> UNKNOWN_TYPE
                                           (allowlist decode: only the fields the schemas
                                           name become Python objects; a line it refuses is
                                           decided by orjson, see deidentify/schema/decoder.py)
    extract (compiled schema closures)  -> INVALID_FIELD | REJECTED_ID | INVALID_TIMESTAMP
                                           (``CompiledSchema.extract`` returns the member)
    event time <= wall clock + bound    -> FUTURE_TIMESTAMP
    window (event time, caps)           -> LATE (``WindowAggregator.add`` returns it)
                                           (decoded path: extract, bound and window run
                                           as one generated function per schema,
                                           ``WindowAggregator.extract_adder``, inlined
                                           into the generated per-record loop,
                                           ``deidentify/batchloop.py``)
  and when a window closes:
    k distinct subjects + roll-up       -> BELOW_K (``ThresholdResult.suppressed_*``)
    output guard (dims, 12+ digit measures) -> GUARD_HIT (+ the ``Detector``)
    format                              -> an :class:`~deidentify.contract.Aggregate`

Filtering is not an error: drops are counted in :attr:`Pipeline.drops` by ``(schema,
reason)`` from the closed set :data:`DROP_REASONS`, and nothing here ever logs, raises or
stores an event value.

Event time stays sane: an event more than ``max_future_ms`` (default 5 minutes) ahead of
the batch's wall clock is rejected as ``future_timestamp``, and after every batch the
partition's stream time is capped at that wall clock, so no input (a far-future burst, a
skewed clock) can close windows before their time or make later events late. Watermarks
restored from commit metadata are checked the same way (:meth:`Pipeline.restore_closed_through`).

Conservation (tested): for every schema, the ``measures.count`` of published aggregates plus
the events counted under ``late``, ``below_k`` and ``guard_hit`` equals the events that
passed extraction.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from deidentify.batchloop import NO_SCHEMA, BatchLoop, build_batch_loop
from deidentify.contract import (
    GUARD_ALLOW,
    REGION_PATTERN,
    REGION_RE,
    Aggregate,
    DropReason,
    RollupReason,
    aggregate,
    iso_utc,
)
from deidentify.errors import SettingsError
from deidentify.measures import kind_of
from deidentify.privacy.caps import window_caps
from deidentify.privacy.guard import Detector, OutputGuard
from deidentify.privacy.threshold import SubjectThreshold
from deidentify.schema import SchemaSet
from deidentify.schema.compile import REJECT_REASONS, CompiledSchema
from deidentify.schema.decoder import EventDecoder
from deidentify.window import COUNT, FIRST_MEASURE, ClosedWindow, WindowAggregator

LATE = DropReason.LATE
BELOW_K = DropReason.BELOW_K
GUARD_HIT = DropReason.GUARD_HIT
DROP_REASONS = REJECT_REASONS + (LATE, BELOW_K, GUARD_HIT)

DEFAULT_MAX_EVENT_BYTES = 1024 * 1024
DEFAULT_MAX_FUTURE_MS = 5 * 60_000     # events further ahead of the wall clock: rejected
NUMBER_SCAN_BOUND = 10 ** 11      # measure numbers of 12+ digits are checked by the guard


def scan_measure_numbers(guard: OutputGuard, measures: object) -> Detector | None:
    """The guard over the numbers of a cell's measures (counts, sums, bucket counts; ints
    and floats) that have 12+ digits, read as their integral decimal digits: a sum of
    4242424242424242 is a card number before it is a sum. Shared with the central
    re-validation, so a cell the sidecar publishes is never a central guard hit."""
    stack: list[Any] = [measures]
    while stack:
        item = stack.pop()
        t = type(item)
        if t is dict:
            stack.extend(item.values())
        elif t is list:
            stack.extend(item)
        elif t is int or (t is float and math.isfinite(item)):
            if -NUMBER_SCAN_BOUND < item < NUMBER_SCAN_BOUND:
                continue
            hit = guard.check(str(abs(int(item))))
            if hit is not None:
                return hit
    return None


def measure_formatter(cs: CompiledSchema) -> Callable[[list], dict]:
    """Cell -> its ``measures`` object: ``count`` then each measure as its kind formats it
    (:mod:`deidentify.measures`). Built once per closed window, called per cell."""
    steps = tuple((m.name, FIRST_MEASURE + i, kind_of(m).format(m))
                  for i, m in enumerate(cs.measures))

    def format_measures(cell: list) -> dict:
        out: dict = {"count": cell[COUNT]}
        for name, idx, fmt in steps:
            out[name] = fmt(cell[idx])
        return out
    return format_measures


def format_measures(cs: CompiledSchema, cell: list) -> dict:
    return measure_formatter(cs)(cell)


def _refuse(value: bytes) -> Any:
    """The decode of a schema set that names no event type: every line takes the reference
    path (which finds its type unknown)."""
    raise ValueError("no event type")


class Pipeline:
    """Decode, extract, window, filter, publish. Build once; feed batches; close windows."""

    inline_bodies = True
    """Inline each event type's extract+add into the generated batch loop
    (:mod:`deidentify.batchloop`); False calls the fused function per event instead (the
    same outcome: the differential tests compare both)."""

    def __init__(self, schemas: SchemaSet, *, region: str, idle_ms: int | None = None,
                 max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
                 max_future_ms: int = DEFAULT_MAX_FUTURE_MS,
                 now_ms: Callable[[], int] | None = None) -> None:
        if not REGION_RE.match(region or ""):
            raise SettingsError(f"region must match {REGION_PATTERN} (e.g. eu, us-east)")
        if max_future_ms < 0:
            raise SettingsError("max_future_ms cannot be smaller than 0ms")
        self.region = region
        self.max_future_ms = max_future_ms
        self._now_ms = now_ms or (lambda: int(time.time() * 1000))
        self.ignored_marks = 0          # restored watermarks refused as beyond the wall clock
        self.max_event_bytes = max_event_bytes
        self.guard = OutputGuard(allow=GUARD_ALLOW)
        self.drops: dict[tuple[str, str], int] = {}
        self.guard_hits: dict[tuple[str, str], int] = {}
        self.rolled_up: dict[tuple[str, str], int] = {}
        self.suppressed_cells: dict[tuple[str, str], int] = {}   # (schema, reason) -> cells
        self.published: dict[str, int] = {}          # schema -> cells published
        self.events_in = 0
        self.valid: dict[str, int] = {}              # schema -> events that passed extraction
        self._thresholds: dict[int, SubjectThreshold] = {}     # k -> threshold
        self.windows = WindowAggregator(window_caps=window_caps, idle_ms=idle_ms)
        self.schemas = schemas
        self._loop_of: EventDecoder | None = None
        self._loop: BatchLoop | None = None
        self.swap_schemas(schemas)

    # ----------------------------------------------------------------- configuration

    def swap_schemas(self, schemas: SchemaSet) -> None:
        """Use a new schema set for new events; open windows finish under their own schema.

        An open window keeps the privacy settings (k, caps, max_cells) of the version that
        opened it; a new version with a higher k raises the k of the name's open windows,
        one with a lower k applies only to windows it opens itself.
        """
        for cs in schemas.compiled:
            self.windows.raise_k(cs.name, cs.schema.privacy.k)
        self.schemas = schemas
        self._decoder = schemas.decoder or EventDecoder(schemas.compiled)

    def _batch_loop(self, decoder: EventDecoder) -> BatchLoop:
        """The generated per-record loop of ``decoder`` (:mod:`deidentify.batchloop`), built
        once per decoder over, per decoded class, each schema with its extractor and window
        ``add`` fused into one generated function (:meth:`WindowAggregator.extract_adder`)."""
        loop = self._loop
        if loop is None or self._loop_of is not decoder:
            fuse = self.windows.extract_adder
            by_class = {cls: tuple((cs, fuse(cs, extract)) for cs, extract in targets)
                        for cls, targets in decoder.by_class.items()}
            loop = self._loop = build_batch_loop(by_class, inline=self.inline_bodies)
            self._loop_of = decoder
        return loop

    # ----------------------------------------------------------------- hot path

    def _drop(self, schema: str, reason: str, n: int = 1) -> None:
        key = (schema, reason)
        self.drops[key] = self.drops.get(key, 0) + n

    def _suppress(self, schema: str, reason: str, cells: int) -> None:
        key = (schema, reason)
        self.suppressed_cells[key] = self.suppressed_cells.get(key, 0) + cells

    def process_batch(self, records: Iterable[tuple[int, bytes]], partition: Hashable = 0,
                      wall_ms: int | None = None) -> int:
        """Feed ``(offset, value)`` pairs from one partition. Returns events accepted.

        ``wall_ms`` is the wall clock of this batch (read once); without it the pipeline
        reads its own clock. It bounds event time (``future_timestamp``) and caps the
        partition's stream time, and with ``idle_ms`` it marks the partition active.
        """
        wall = self._now_ms() if wall_ms is None else wall_ms
        horizon = wall + self.max_future_ms
        decoder = self._decoder
        run = self._batch_loop(decoder)
        windows = self.windows
        windows.begin_batch(partition)
        try:
            n, late, offset = run(records, partition, horizon, decoder.decode or _refuse,
                                  self._reference, self._drop, self.max_event_bytes)
        finally:
            windows.end_batch(partition)
        valid = self.valid
        self.events_in += n
        accepted = -late
        for name, received in windows.take_received():
            valid[name] = valid.get(name, 0) + received
            accepted += received
        if offset >= 0:
            windows.mark_consumed(partition, offset + 1)
        windows.cap_stream_time(partition, wall)
        if wall_ms is not None:
            self.windows.mark_activity(partition, wall_ms)
        return accepted

    def _reference(self, value: bytes, partition: Hashable, offset: int,
                   horizon: float) -> int:
        """A line the allowlist decoder did not take, the reference way (orjson, the
        closure extractors, :meth:`WindowAggregator.adder`); returns the late events."""
        got = self._decoder.read_reference(value)
        if isinstance(got, str):
            self._drop(NO_SCHEMA, got)
            return 0
        event, targets = got
        adder = self.windows.adder
        late = 0
        for cs, extract in targets:
            x = extract(event)
            refused = x if type(x) is DropReason else adder(cs)(x, partition, offset, horizon)
            if refused is not None:
                late += refused is LATE
                self._drop(cs.name, refused)
        return late

    def process(self, value: bytes, partition: Hashable = 0, offset: int = -1) -> int:
        return self.process_batch(((offset, value),), partition)

    # ----------------------------------------------------------------- closing

    def close_due(self, wall_ms: int | None = None) -> list[Aggregate]:
        return self._publish(self.windows.close_due(wall_ms))

    def close_all(self) -> list[Aggregate]:
        return self._publish(self.windows.close_all())

    def _publish(self, closed: list[ClosedWindow]) -> list[Aggregate]:
        out: list[Aggregate] = []
        for window in closed:
            cs = window.schema
            name = cs.name
            if window.over_cap_events:
                key = (name, RollupReason.OVER_CAP)
                self.rolled_up[key] = self.rolled_up.get(key, 0) + window.over_cap_events
            threshold = self._thresholds.get(window.k)
            if threshold is None:
                threshold = self._thresholds[window.k] = SubjectThreshold(window.k)
            result = threshold.apply(window)
            if result.rolled_up_events:
                key = (name, RollupReason.BELOW_K)
                self.rolled_up[key] = self.rolled_up.get(key, 0) + result.rolled_up_events
            if result.suppressed_events:
                self._drop(name, BELOW_K, result.suppressed_events)
                self._suppress(name, BELOW_K, result.suppressed_cells)
            win = {"start": iso_utc(window.start_ms), "end": iso_utc(window.end_ms)}
            names = cs.dimension_names
            format_measures = measure_formatter(cs)
            published = 0
            for dims, cell in result.publishable:
                dims_obj = dict(zip(names, dims, strict=True))
                measures = format_measures(cell)
                hit = self.guard.scan(dims_obj) or scan_measure_numbers(self.guard, measures)
                if hit is not None:
                    self._drop(name, GUARD_HIT, cell[COUNT])
                    self._suppress(name, GUARD_HIT, 1)
                    gkey = (name, hit.value)
                    self.guard_hits[gkey] = self.guard_hits.get(gkey, 0) + 1
                    continue
                out.append(aggregate(name, cs.version, self.region, win, dims_obj, measures))
                published += 1
            self.published[name] = self.published.get(name, 0) + published
        return out

    # ----------------------------------------------------------------- offsets and recovery

    def safe_offsets(self) -> dict[Hashable, int]:
        return self.windows.safe_offsets()

    def closed_through(self) -> dict[str, int]:
        return self.windows.closed_through()

    def restore_closed_through(self, marks: dict[str, int],
                               wall_ms: int | None = None) -> list[str]:
        """Restore watermarks read from commit metadata; returns the names of the marks
        ignored because they lie beyond the wall clock plus ``max_future_ms`` (no window
        can have closed there, so such a mark is corrupt or was poisoned by a far-future
        event before this check existed: trusting it would drop every event as late)."""
        horizon = (self._now_ms() if wall_ms is None else wall_ms) + self.max_future_ms
        sane = {name: end for name, end in marks.items() if end <= horizon}
        ignored = sorted(name for name in marks if name not in sane)
        self.ignored_marks += len(ignored)
        self.windows.restore_closed_through(sane)
        return ignored

    def forget_partition(self, partition: Hashable) -> None:
        self.windows.forget_partition(partition)

    def drop_report(self) -> dict[str, dict[str, int]]:
        """Drops by schema and reason: names and counts only (plain ``str`` keys, JSON-ready)."""
        report: dict[str, dict[str, int]] = {}
        for (schema, reason), n in sorted(self.drops.items()):
            report.setdefault(schema, {})[str(reason)] = n
        return report

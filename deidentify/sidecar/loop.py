"""The sidecar's hot path: ``getmany`` batches -> pipeline -> transactions to the central topic.

One :class:`BatchLoop` is one *session*: a transactional producer, a consumer and a fresh
:class:`~deidentify.pipeline.Pipeline`. A session that fails (broker gone, transaction
timed out, ...) is thrown away whole and the next one starts exactly like a restarted
process: the new producer's ``InitProducerId`` fences the old one and settles its last
transaction (committed or aborted), then committed offsets and the closed-window watermark
are read back and the open windows are rebuilt by replay. So "recover in process" and
"recover after kill -9" are the same code path.

Exactly-once, per step::

    records = getmany(max_records)                     no per-event coroutine, no decoding
    pipeline.process_batch(records of one partition)   for each partition in the batch
    tell the windows which partitions are caught up    fresh fetch response, position >= end
    aggregates += pipeline.close_due(wall clock)       windows closed by event time / idle
    if aggregates or (offsets moved and commit interval passed):
        begin transaction
          send every aggregate (key=agg.key, value=agg.to_json()) to the central topic
          send_offsets_to_transaction({tp: (safe offset, {"closed_through": ...})}, group)
        commit transaction

The safe offset of a partition is the earliest offset still feeding an open window, so a
replay from it rebuilds every open window; ``closed_through`` (per schema, the end of the
last published window) travels in the same transaction, and after a restart windows at or
before it are skipped (counted as ``late``), so nothing is published twice.

Rebalance (:meth:`BatchLoop._on_revoked` / :meth:`_on_assigned`): before partitions are
revoked, what is due is published and every held partition's safe offset committed; the
revoked partitions then stop holding the watermark back (``forget_partition``). A partition
assigned again in the same session resumes at this session's own position (its events are
still in the open windows); a partition new to the session is paused until its committed
metadata has been read and ``closed_through`` restored. A restored mark beyond the wall
clock plus ``--max-future`` is ignored, counted (``deid_sidecar_watermarks_ignored_total``)
and logged with the schema names only: no window can have closed there, and trusting it
would drop every later event as ``late`` (see :meth:`Pipeline.restore_closed_through`).
Every assigned partition is tracked by the windows (``track_partition``) and holds them all open until it has delivered
records or is known to be caught up.

Watermark evidence (:meth:`BatchLoop._observe_progress`): after every fetch, each assigned
partition is reported to the windows as caught up (a fresh fetch response's end offset
reached) or not (records unread, or no fresh response: the broker is unreachable). Only a
partition caught up for ``--idle`` stops holding the watermark back; while the broker is
down no partition is idle, so no window closes early.

Nothing here logs an event value, a message key or payload: logs carry topic/partition
numbers, counts, schema names and error class names.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from operator import attrgetter

import orjson
from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from deidentify.contract import Aggregate
from deidentify.errors import BrokerUnavailable, DeidentifyError, SettingsError
from deidentify.metrics import SidecarMetrics
from deidentify.pipeline import Pipeline
from deidentify.schema import SchemaSet
from deidentify.sidecar import kafka
from deidentify.sidecar.health import HealthState
from deidentify.sidecar.settings import SidecarSettings

log = logging.getLogger("deidentify.sidecar")

METADATA_VERSION = 1
MAX_COMMIT_METADATA_BYTES = 3_800      # Kafka's offset.metadata.max.bytes defaults to 4096
CLIENT_STOP_TIMEOUT_S = 5.0
KEEPALIVE_TRANSACTION_S = 10.0   # with nothing new, still one transaction this often: a
                                 # producer fenced by another instance finds out
LAG_REFRESH_S = 1.0
STALE_FETCH_FACTOR = 5           # a fetch response older than 5 x fetch_max_wait ...
STALE_FETCH_MIN_MS = 2_000       # ... and than 2 s proves nothing about "caught up"

_offset_value = attrgetter("offset", "value")


def now_ms() -> int:
    return int(time.time() * 1000)


def commit_metadata(closed_through: dict[str, int]) -> str:
    return orjson.dumps({"v": METADATA_VERSION, "closed_through": closed_through},
                        option=orjson.OPT_SORT_KEYS).decode()


def parse_commit_metadata(metadata: str | None) -> dict[str, int] | None:
    """``closed_through`` from one partition's commit metadata; ``None`` if not ours."""
    if not metadata:
        return None
    try:
        obj = orjson.loads(metadata)
    except orjson.JSONDecodeError:
        return None
    marks = obj.get("closed_through") if isinstance(obj, dict) else None
    if not isinstance(marks, dict):
        return None
    return {k: v for k, v in marks.items() if isinstance(k, str) and type(v) is int}


def check_metadata_fits(schemas: SchemaSet) -> None:
    """Refuse a schema set whose watermark could not fit in Kafka's commit metadata."""
    worst = commit_metadata({s.name: 9_999_999_999_999 for s in schemas.schemas})
    if len(worst.encode()) > MAX_COMMIT_METADATA_BYTES:
        raise SettingsError(f"{len(schemas.schemas)} schemas make the commit metadata larger "
                            f"than {MAX_COMMIT_METADATA_BYTES} bytes; use fewer schemas or "
                            "shorter names per sidecar")


class Failpoint:
    """Test-only fault injection, from ``DEIDENTIFY_FAILPOINT=POINT:N[:ACTION][,...]``.

    Each entry fires once per process, at the ``N``-th occurrence of ``POINT``:

    * ``session_start`` -- the ``N``-th session (process-wide) has started, before its
      first fetch;
    * ``before_fetch`` / ``after_fetch`` -- before the fetch that follows the ``N``-th
      non-empty batch of a session / after that batch was aggregated, before windows close;
    * ``after_send`` (aggregates sent, offsets not yet), ``before_commit`` (everything sent,
      commit not called), ``after_commit`` -- in the ``N``-th transaction of a session that
      publishes aggregates.

    Actions: ``kill`` (default: the process SIGKILLs itself), ``raise`` (the session fails
    with :class:`~deidentify.errors.BrokerUnavailable` and the sidecar recovers in
    process), ``hold`` (the session waits: it creates ``POINT-N.hit`` in the directory named
    by ``DEIDENTIFY_FAILPOINT_DIR`` and goes on once a test has deleted it -- the test does
    something to the broker meanwhile, at an exact point). Unset in production.
    """

    POINTS = ("session_start", "before_fetch", "after_fetch", "after_send", "before_commit",
              "after_commit")
    ACTIONS = ("kill", "raise", "hold")
    HOLD_POLL_S = 0.05

    def __init__(self, spec: str | None, hold_dir: str | None = None) -> None:
        self.armed: dict[tuple[str, int], str] = {}
        self.hold_dir = hold_dir
        self.sessions = 0
        for entry in (spec or "").split(","):
            if not entry.strip():
                continue
            point, _, rest = entry.strip().partition(":")
            n, _, action = rest.partition(":")
            action = action or "kill"
            if point not in self.POINTS or not n.isdigit() or action not in self.ACTIONS:
                raise SettingsError(f"DEIDENTIFY_FAILPOINT: '{entry}' is not "
                                    "POINT:N[:ACTION] with POINT one of "
                                    f"{', '.join(self.POINTS)} and ACTION one of "
                                    f"{', '.join(self.ACTIONS)}")
            if action == "hold" and not hold_dir:
                raise SettingsError("DEIDENTIFY_FAILPOINT: 'hold' needs "
                                    "DEIDENTIFY_FAILPOINT_DIR")
            self.armed[(point, int(n))] = action

    @property
    def point(self) -> str | None:
        """An armed point (``None`` when nothing is armed)."""
        return next(iter(self.armed), (None,))[0]

    def session_started(self) -> int:
        self.sessions += 1
        return self.sessions

    async def reached(self, point: str, n: int) -> None:
        """Like :meth:`hit`, and ``hold`` waits here (without blocking the event loop)."""
        action = self.armed.get((point, n))
        if action != "hold":
            self.hit(point, n)
            return
        del self.armed[(point, n)]
        marker = os.path.join(self.hold_dir, f"{point}-{n}.hit")
        log.warning("failpoint hit: point=%s n=%d action=hold", point, n)
        with open(marker, "w"):
            pass
        while os.path.exists(marker):
            await asyncio.sleep(self.HOLD_POLL_S)
        log.warning("failpoint released: point=%s n=%d", point, n)

    def hit(self, point: str, n: int) -> None:
        action = self.armed.get((point, n))
        if action is None or action == "hold":
            return
        del self.armed[(point, n)]
        log.warning("failpoint hit: point=%s n=%d action=%s", point, n, action)
        if action == "raise":
            raise BrokerUnavailable(f"failpoint {point} at {n}")
        logging.shutdown()
        os.kill(os.getpid(), signal.SIGKILL)


class _CounterSync:
    """Exports a pipeline's cumulative counter dicts to Prometheus counters by delta."""

    def __init__(self) -> None:
        self._marks: dict[tuple, int] = {}

    def sync(self, name: str, counter, values: dict[tuple[str, ...], int]) -> None:
        for labels, total in values.items():
            key = (name, labels)
            delta = total - self._marks.get(key, 0)
            if delta > 0:
                counter.labels(*labels).inc(delta)
                self._marks[key] = total


class BatchLoop:
    """One session of the sidecar: start(), run(stopping), finish(), close()."""

    def __init__(self, settings: SidecarSettings, schemas: SchemaSet, metrics: SidecarMetrics,
                 health: HealthState, *, failpoint: Failpoint | None = None) -> None:
        check_metadata_fits(schemas)
        self.settings = settings
        self.schemas = schemas
        self.metrics = metrics
        self.health = health
        self.pipeline = Pipeline(schemas, region=settings.region, idle_ms=settings.idle_ms,
                                 max_future_ms=settings.max_future_ms)
        self.failpoint = failpoint or Failpoint(None)
        self._consumer = None
        self._producer = None
        self._admin = None
        self._topics: list[str] = []
        self._assigned: set[TopicPartition] = set()
        self._positions: dict[TopicPartition, int] = {}   # next offset to process, this session
        self._batches = 0                                  # non-empty batches, this session
        self._pending: list[Aggregate] = []                # closed, not yet committed
        self._committed: dict[TopicPartition, int] = {}    # last offsets we committed
        self._last_commit = time.monotonic()
        self._last_txn = time.monotonic()
        self._last_lag = 0.0
        self._txn_lock = asyncio.Lock()
        self._failure: DeidentifyError | None = None
        self._txn_number = 0                               # transactions that published
        self._sync = _CounterSync()
        self._consumed_by_topic: dict[str, object] = {}
        self._closed = False

    # ----------------------------------------------------------------- lifecycle

    def raw_topics(self, schemas: SchemaSet | None = None) -> list[str]:
        schemas = schemas or self.schemas
        return sorted(self.settings.raw_topic(t) for t in schemas.topics)

    async def start(self) -> None:
        s = self.settings
        await kafka.preflight(s)
        self._admin = kafka.make_admin(s)
        with kafka.translated("start admin client"):
            await self._admin.start()
        self._topics = self.raw_topics()
        created = await kafka.ensure_topics(self._admin, s, self._topics)
        if created:
            log.info("created topics: %s", ",".join(created))
        # The producer first: InitProducerId fences an older instance with the same
        # transactional id and settles its last transaction, so the committed offsets read
        # afterwards are final.
        self._producer = kafka.make_producer(s)
        with kafka.translated("start transactional producer"):
            await self._producer.start()
        self._consumer = kafka.make_consumer(s)
        with kafka.translated("start consumer"):
            await self._consumer.start()
        self._subscribe(self._topics)
        self.health.session_up = True
        self.health.broker_ok = time.monotonic()
        self.health.broker_failing = False
        for schema in self.schemas.schemas:
            self.metrics.schema_version.labels(schema.name).set(schema.version)
        log.info("session started: group=%s instance=%s transactional_id=%s topics=%s",
                 s.group_id, s.instance_id, s.transactional_id, ",".join(self._topics))

    def _subscribe(self, topics: list[str]) -> None:
        listener = kafka.RebalanceListener(self._on_revoked, self._on_assigned)
        self._consumer.subscribe(topics=topics, listener=listener)

    async def run(self, stopping: asyncio.Event) -> None:
        await self.failpoint.reached("session_start", self.failpoint.session_started())
        while not stopping.is_set():
            await self.step()

    async def step(self) -> int:
        """Fetch one batch, aggregate it, publish/commit when due. Returns records fetched."""
        self._raise_failure()
        s = self.settings
        if self._batches:
            await self.failpoint.reached("before_fetch", self._batches)
        with kafka.translated("fetch"):
            batch = await self._consumer.getmany(timeout_ms=s.fetch_max_wait_ms,
                                                 max_records=s.max_batch_records)
        async with self._txn_lock:
            self._raise_failure()
            wall = now_ms()
            mono = time.monotonic()
            fetched = 0
            process = self.pipeline.process_batch
            for tp, msgs in batch.items():
                if not msgs or tp not in self._assigned:
                    continue   # revoked meanwhile: re-fetched from our position if reassigned
                process(map(_offset_value, msgs), tp, wall)
                self._positions[tp] = msgs[-1].offset + 1
                n = len(msgs)
                fetched += n
                child = self._consumed_by_topic.get(tp.topic)
                if child is None:
                    child = self._consumed_by_topic[tp.topic] = \
                        self.metrics.events_consumed.labels(tp.topic)
                child.inc(n)
            if fetched:
                log.debug("batch: records=%d partitions=%d", fetched, len(batch))
                self.metrics.batch_size.observe(fetched)
                self.metrics.last_fetch_timestamp.set(time.time())
                self.health.last_fetch = self.health.broker_ok = mono
                self.health.broker_failing = False
                if self.health.uncommitted_since is None:
                    self.health.uncommitted_since = mono
                self._batches += 1
                await self.failpoint.reached("after_fetch", self._batches)
            self._observe_progress(wall)
            await self._close_due(wall)
            if self._pending or (mono - self._last_commit) * 1000 >= s.commit_interval_ms:
                await self._commit_locked()
            self._export_metrics(mono)
        return fetched

    async def finish(self, timeout_s: float) -> None:
        """Graceful stop: publish what is due, commit safe offsets. Open windows stay open."""
        async with asyncio.timeout(timeout_s):
            async with self._txn_lock:
                self._raise_failure()
                await self._close_due(now_ms())
                await self._commit_locked()
                self._export_metrics(time.monotonic())

    async def close(self) -> None:
        """Stop the clients (bounded); safe to call twice and after a failed start."""
        if self._closed:
            return
        self._closed = True
        self.health.session_up = False
        self.health.assigned = 0
        self.metrics.assigned_partitions.set(0)
        for tp in list(self._assigned):
            self._remove_lag(tp)
        for name, client in (("consumer", self._consumer), ("producer", self._producer),
                             ("admin", self._admin)):
            if client is None:
                continue
            try:
                stop = client.close() if name == "admin" else client.stop()
                await asyncio.wait_for(stop, CLIENT_STOP_TIMEOUT_S)
            except (Exception, asyncio.CancelledError) as exc:
                log.warning("stopping the %s failed: error=%s", name, type(exc).__name__)

    # ----------------------------------------------------------------- transactions

    async def _commit_locked(self) -> None:
        offsets = {tp: off for tp, off in self.pipeline.safe_offsets().items()
                   if tp in self._assigned}
        aggregates = self._pending
        now = time.monotonic()
        if not aggregates and offsets == self._committed and \
                (not offsets or now - self._last_txn < KEEPALIVE_TRANSACTION_S):
            self._last_commit = now
            self.health.uncommitted_since = None
            return
        metadata = commit_metadata(self.pipeline.closed_through())
        commit = {tp: OffsetAndMetadata(off, metadata) for tp, off in offsets.items()}
        producer = self._producer
        topic = self.settings.publish_topic
        if aggregates:
            self._txn_number += 1
        started = time.perf_counter()
        sent: list[asyncio.Future] = []
        try:
            async with asyncio.timeout(self.settings.transaction_timeout_ms / 1000):
                if not self.settings.exactly_once:
                    await self._publish_then_commit(aggregates, commit, sent)
                else:
                    with kafka.translated("transaction"):
                        await producer.begin_transaction()
                        for agg in aggregates:
                            sent.append(await producer.send(topic, agg.to_json(), key=agg.key))
                        if aggregates:
                            await self.failpoint.reached("after_send", self._txn_number)
                        if commit:
                            await producer.send_offsets_to_transaction(commit,
                                                                       self.settings.group_id)
                        if aggregates:
                            await self.failpoint.reached("before_commit",
                                                         self._txn_number)
                        await producer.commit_transaction()
        except TimeoutError:
            self.metrics.transactions.labels("failed").inc()
            raise BrokerUnavailable("transaction: not committed within "
                                    f"{self.settings.transaction_timeout_ms} ms") from None
        except DeidentifyError:
            self.metrics.transactions.labels("failed").inc()
            raise
        finally:
            # delivery errors surface through commit_transaction(); the per-record futures
            # are only collected, so a failed transaction logs no "never retrieved" noise
            for fut in sent:
                fut.add_done_callback(_collect)
        elapsed = time.perf_counter() - started
        if aggregates:
            await self.failpoint.reached("after_commit", self._txn_number)
        self.metrics.transaction_seconds.observe(elapsed)
        self.metrics.transactions.labels("committed").inc()
        per_schema: dict[str, int] = {}
        for agg in aggregates:
            name = agg.value["schema"]
            per_schema[name] = per_schema.get(name, 0) + 1
        for name, n in per_schema.items():
            self.metrics.cells_published.labels(name).inc(n)
        self._pending = []
        self._committed = offsets
        mono = time.monotonic()
        self._last_commit = self._last_txn = mono
        self.health.last_commit = self.health.broker_ok = mono
        self.health.broker_failing = False
        self.health.uncommitted_since = None
        self.metrics.last_commit_timestamp.set(time.time())
        if aggregates:
            log.info("transaction committed: cells=%d partitions=%d seconds=%.3f",
                     len(aggregates), len(commit), elapsed)

    async def _publish_then_commit(self, aggregates: list, commit: dict,
                                   sent: list[asyncio.Future]) -> None:
        """At-least-once: publish, wait for every acknowledgement, then commit the offsets.

        A crash between the two republishes the windows after the replay; the central
        collector deduplicates them by key. Only a benchmark baseline: exactly-once is the
        default and what docs/sidecar.md documents.
        """
        producer = self._producer
        topic = self.settings.publish_topic
        with kafka.translated("publish"):
            for agg in aggregates:
                sent.append(await producer.send(topic, agg.to_json(), key=agg.key))
            if aggregates:
                await self.failpoint.reached("after_send", self._txn_number)
            for fut in sent:
                await fut
            if aggregates:
                await self.failpoint.reached("before_commit", self._txn_number)
        if commit:
            with kafka.translated("commit offsets"):
                await self._consumer.commit(commit)

    async def _close_due(self, wall_ms: int) -> None:
        """Close what the watermark allows (see ``deidentify/window.py``)."""
        self._pending.extend(self.pipeline.close_due(wall_ms))

    def _observe_progress(self, wall_ms: int) -> None:
        """Tell the windows which assigned partitions are known to be caught up.

        A partition is caught up when the last fetch response for it is fresh (at most
        :meth:`_stale_ms` old) and the consumer's position has reached the end offset it
        reported. Anything else -- records still unread or buffered, a paused partition, no
        response yet, or responses that stopped coming because the broker is unreachable --
        is "not caught up": the partition is not idle and holds the watermark. So a broker
        outage can never let a window close before its partitions delivered their data.
        """
        consumer = self._consumer
        windows = self.pipeline.windows
        stale_ms = self._stale_ms()
        for tp in self._assigned:
            progress = kafka.fetch_progress(consumer, tp)
            if progress is not None and wall_ms - progress.fetched_at_ms <= stale_ms \
                    and progress.position >= progress.end:
                windows.mark_caught_up(tp, wall_ms)
            else:
                windows.mark_not_caught_up(tp)

    def _stale_ms(self) -> int:
        """Age after which a fetch response no longer proves a partition caught up: a
        caught-up partition gets an (empty) response every ``fetch_max_wait`` at most."""
        return max(STALE_FETCH_FACTOR * self.settings.fetch_max_wait_ms, STALE_FETCH_MIN_MS)

    # ----------------------------------------------------------------- rebalance

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._txn_lock:
            if revoked and self._failure is None and not self._closed:
                try:
                    await self._close_due(now_ms())
                    await self._commit_locked()
                except DeidentifyError as exc:
                    self._failure = exc
                    log.warning("commit before revoke failed: error=%s", type(exc).__name__)
            for tp in revoked:
                self.pipeline.forget_partition(tp)
                self._remove_lag(tp)
            self._assigned -= revoked
            self._set_assigned()
            if revoked:
                log.info("partitions revoked: %s", _tps(revoked))

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = self._consumer
        new = {tp for tp in assigned if tp not in self._positions}
        for tp in assigned - new:       # ours this session: continue where we were
            consumer.seek(tp, self._positions[tp])
        if new:
            consumer.pause(*new)        # no record of a new partition before the restore
        async with self._txn_lock:
            if new:
                try:
                    marks = await self._committed_marks(new)
                except DeidentifyError as exc:
                    self._failure = exc
                    log.warning("reading committed offsets failed: error=%s",
                                type(exc).__name__)
                    return
                if marks:
                    ignored = self.pipeline.restore_closed_through(marks, now_ms())
                    if ignored:
                        self.metrics.watermarks_ignored.inc(len(ignored))
                        known = [n for n in ignored if self.schemas.by_name(n) is not None]
                        log.warning("ignored %d committed closed_through mark(s) beyond the "
                                    "wall clock + max_future_ms (schemas: %s); windows "
                                    "before them may be published again and are deduplicated "
                                    "centrally", len(ignored), ",".join(known) or "-")
                consumer.resume(*new)
            self._assigned = set(assigned)
            for tp in assigned:   # holds every window until it delivers or is caught up
                self.pipeline.windows.track_partition(tp)
            self._set_assigned()
            log.info("partitions assigned: %s (closed_through restored for %d schemas)",
                     _tps(assigned), len(self.pipeline.closed_through()))

    async def _committed_marks(self, partitions: set[TopicPartition]) -> dict[str, int]:
        with kafka.translated("read committed offsets"):
            committed = await asyncio.wait_for(
                self._admin.list_consumer_group_offsets(self.settings.group_id,
                                                        partitions=sorted(partitions)),
                kafka.REQUEST_TIMEOUT_MS / 1000)
        marks: dict[str, int] = {}
        foreign = 0
        for tp, om in committed.items():
            if om is None or om.offset is None or om.offset < 0:
                continue
            parsed = parse_commit_metadata(om.metadata)
            if parsed is None:
                foreign += 1
                continue
            self._committed.setdefault(tp, om.offset)
            for name, end in parsed.items():
                if end > marks.get(name, -1):
                    marks[name] = end
        if foreign:
            log.warning("committed offsets without deidentify metadata on %d partitions; "
                        "windows before them cannot be recognised as published", foreign)
        return marks

    def _set_assigned(self) -> None:
        self.health.assigned = len(self._assigned)
        self.metrics.assigned_partitions.set(len(self._assigned))

    # ----------------------------------------------------------------- schema reload

    async def swap_schemas(self, schemas: SchemaSet) -> None:
        """Hot reload: new events use ``schemas``; resubscribe if the raw topics changed."""
        check_metadata_fits(schemas)
        topics = self.raw_topics(schemas)
        if topics != self._topics:
            await kafka.ensure_topics(self._admin, self.settings, topics)
        async with self._txn_lock:
            self.pipeline.swap_schemas(schemas)
            self.schemas = schemas
            for schema in schemas.schemas:
                self.metrics.schema_version.labels(schema.name).set(schema.version)
            if topics != self._topics:
                self._topics = topics
                self._subscribe(topics)
                log.info("resubscribed: topics=%s", ",".join(topics))

    # ----------------------------------------------------------------- health and metrics

    async def probe(self) -> None:
        """A metadata request: tells /readyz the broker answers when no events flow."""
        if self._admin is None or self._closed:
            return
        try:
            with kafka.translated("metadata probe"):
                await asyncio.wait_for(self._admin.describe_cluster(), 5.0)
        except (TimeoutError, DeidentifyError):
            self.health.broker_failing = True
            return
        self.health.broker_failing = False
        self.health.broker_ok = time.monotonic()

    def fail(self, exc: DeidentifyError) -> None:
        """Make the session fail at its next step (the supervisor starts a new one)."""
        if self._failure is None:
            self._failure = exc

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _export_metrics(self, mono: float) -> None:
        p = self.pipeline
        m = self.metrics
        sync = self._sync.sync
        sync("dropped", m.events_dropped, p.drops)
        sync("rolled_up", m.events_rolled_up, p.rolled_up)
        sync("guard", m.guard_hits, p.guard_hits)
        sync("suppressed", m.cells_suppressed, p.suppressed_cells)
        m.windows_open.set(p.windows.open_window_count)
        if mono - self._last_lag >= LAG_REFRESH_S:
            self._last_lag = mono
            oldest_end = p.windows.oldest_open_end()
            m.oldest_open_window_age.set(
                0 if oldest_end is None else max(0.0, (now_ms() - oldest_end) / 1000))
            for tp in self._assigned:
                progress = kafka.fetch_progress(self._consumer, tp)
                if progress is None:
                    continue
                m.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                    max(0, progress.end - progress.position))

    def _remove_lag(self, tp: TopicPartition) -> None:
        try:
            self.metrics.consumer_lag.remove(tp.topic, str(tp.partition))
        except KeyError:
            pass


def _collect(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()


def _tps(tps: set[TopicPartition]) -> str:
    return ",".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(tps)) or "-"


__all__ = ["BatchLoop", "Failpoint", "commit_metadata", "parse_commit_metadata"]

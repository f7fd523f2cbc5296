"""The sidecar's hot path: ``getmany`` batches -> pipeline -> transactions to the central topic.

One :class:`BatchLoop` is one *session*: a producer, a consumer and a fresh
:class:`~deidentify.pipeline.Pipeline`. A session that fails (broker gone, transaction
timed out, ...) is thrown away whole and the next one starts exactly like a restarted
process: the new producer's ``InitProducerId`` fences the old one and settles its last
transaction (committed or aborted), then committed offsets and the closed-window watermark
are read back and the open windows are rebuilt by replay. So "recover in process" and
"recover after kill -9" are the same code path.

The loop wires units that each do one job:

==========================================  ==============================================
``offsets.OffsetBook``                      positions, safe offsets, commit metadata
                                            (``closed_through``), read-back after assign
``publish.Publisher``                       delivery: one transaction (exactly-once, the
                                            default) or publish-then-commit (at-least-once)
``gate.WindowCloseGate``                    when windows may close: caught-up / idle
                                            evidence per assigned partition
``failpoints.Failpoint``                    test-only fault injection at named points
``session_metrics.SessionMetrics``          counters by delta, lag gauges
==========================================  ==============================================

Exactly-once, per step::

    records = getmany(max_records)                     no per-event coroutine, no decoding
    pipeline.process_batch(records of one partition)   for each partition in the batch
    gate.observe(assigned partitions)                  fresh fetch response, position >= end
    aggregates += gate.close_due(wall clock)           windows closed by event time / idle
    if aggregates or (offsets moved and commit interval passed):
        publisher.publish(aggregates, {tp: (safe offset, {"closed_through": ...})})
          = begin transaction; send every aggregate; send_offsets_to_transaction; commit

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
Every assigned partition is tracked by the windows (``track_partition``) and holds them all
open until it has delivered records or is known to be caught up (see ``gate.py``).

Nothing here logs an event value, a message key or payload: logs carry topic/partition
numbers, counts, schema names and error class names.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import TopicPartition

from deidentify.contract import Aggregate
from deidentify.errors import DeidentifyError
from deidentify.metrics import SidecarMetrics
from deidentify.pipeline import Pipeline
from deidentify.schema import SchemaSet
from deidentify.sidecar import kafka
from deidentify.sidecar.failpoints import Failpoint
from deidentify.sidecar.gate import WindowCloseGate
from deidentify.sidecar.health import HealthState
from deidentify.sidecar.offsets import (
    OffsetBook,
    check_metadata_fits,
    commit_metadata,
    parse_commit_metadata,
)
from deidentify.sidecar.publish import Publisher, make_publisher
from deidentify.sidecar.session_base import SessionBase
from deidentify.sidecar.session_metrics import SessionMetrics
from deidentify.sidecar.settings import SidecarSettings

log = logging.getLogger("deidentify.sidecar")

CLIENT_STOP_TIMEOUT_S = 5.0

def now_ms() -> int:
    return int(time.time() * 1000)


class BatchLoop(SessionBase):
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
        self.offsets = OffsetBook()
        self.gate = WindowCloseGate(self.pipeline, settings.fetch_max_wait_ms)
        self.session_metrics = SessionMetrics(metrics)
        self.publisher: Publisher | None = None
        self._consumer = None
        self._producer = None
        self._admin = None
        self._topics: list[str] = []
        self._assigned: set[TopicPartition] = set()
        self._batches = 0                                  # non-empty batches, this session
        self._pending: list[Aggregate] = []                # closed, not yet committed
        self._last_commit = time.monotonic()
        self._last_txn = time.monotonic()
        self._txn_lock = asyncio.Lock()
        self._failure: DeidentifyError | None = None
        self._txn_number = 0                               # transactions that published
        self._closed = False

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        s = self.settings
        created = await self._start_admin()
        if created:
            log.info("created topics: %s", ",".join(created))
        # The producer first: InitProducerId fences an older instance with the same
        # transactional id and settles its last transaction, so the committed offsets read
        # afterwards are final.
        self._producer = kafka.make_producer(s)
        with kafka.translated("start transactional producer"):
            await self._producer.start()
        self._consumer = kafka.make_consumer(s, pairs=True)
        with kafka.translated("start consumer"):
            await self._consumer.start()
        self.publisher = make_publisher(s, self._producer, self._consumer, self.failpoint)
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
            offsets_and_values = kafka.offsets_and_values
            consumed = self.offsets.consumed
            count = self.session_metrics.consumed
            for tp, msgs in batch.items():
                if not msgs or tp not in self._assigned:
                    continue   # revoked meanwhile: re-fetched from our position if reassigned
                records, after = offsets_and_values(msgs)
                process(records, tp, wall)
                consumed(tp, after)
                n = len(msgs)
                fetched += n
                count(tp.topic, n)
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
            self.gate.observe(self._consumer, self._assigned, wall)
            self._pending.extend(self.gate.close_due(wall))
            if self._pending or (mono - self._last_commit) * 1000 >= s.commit_interval_ms:
                await self._commit_locked()
            self._export_metrics(mono)
        return fetched

    async def finish(self, timeout_s: float) -> None:
        """Graceful stop: publish what is due, commit safe offsets. Open windows stay open."""
        async with asyncio.timeout(timeout_s):
            async with self._txn_lock:
                self._raise_failure()
                self._pending.extend(self.gate.close_due(now_ms()))
                await self._commit_locked()
                self._export_metrics(time.monotonic())

    async def close(self) -> None:
        """Stop the clients (bounded); safe to call twice and after a failed start."""
        if self._closed:
            return
        self._closed = True
        self.health.session_up = False
        self.health.assigned = 0
        self.session_metrics.assigned(0)
        for tp in list(self._assigned):
            self.session_metrics.remove_lag(tp)
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
        book = self.offsets
        offsets = book.safe(self.pipeline.safe_offsets(), self._assigned)
        aggregates = self._pending
        now = time.monotonic()
        if not book.transaction_needed(offsets, bool(aggregates), now - self._last_txn):
            self._last_commit = now
            self.health.uncommitted_since = None
            return
        commit = book.commit_request(offsets, self.pipeline.closed_through())
        if aggregates:
            self._txn_number += 1
        started = time.perf_counter()
        try:
            await self.publisher.publish(aggregates, commit, self._txn_number)
        except DeidentifyError:
            self.session_metrics.transaction_failed()
            raise
        elapsed = time.perf_counter() - started
        if aggregates:
            await self.failpoint.reached("after_commit", self._txn_number)
        self.session_metrics.transaction_committed(aggregates, elapsed)
        self._pending = []
        book.mark_committed(offsets)
        mono = time.monotonic()
        self._last_commit = self._last_txn = mono
        self.health.last_commit = self.health.broker_ok = mono
        self.health.broker_failing = False
        self.health.uncommitted_since = None
        if aggregates:
            log.info("transaction committed: cells=%d partitions=%d seconds=%.3f",
                     len(aggregates), len(commit), elapsed)

    # ----------------------------------------------------------------- rebalance

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._txn_lock:
            if revoked and self._failure is None and not self._closed:
                try:
                    self._pending.extend(self.gate.close_due(now_ms()))
                    await self._commit_locked()
                except DeidentifyError as exc:
                    self._failure = exc
                    log.warning("commit before revoke failed: error=%s", type(exc).__name__)
            for tp in revoked:
                self.gate.forget(tp)
                self.session_metrics.remove_lag(tp)
            self._assigned -= revoked
            self._set_assigned()
            if revoked:
                log.info("partitions revoked: %s", _tps(revoked))

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = self._consumer
        new = self.offsets.new_to_session(assigned)
        for tp in assigned - new:       # ours this session: continue where we were
            consumer.seek(tp, self.offsets.positions[tp])
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
                    self._restore(marks)
                consumer.resume(*new)
            self._assigned = set(assigned)
            self.gate.track(assigned)   # holds every window until it delivers or is caught up
            self._set_assigned()
            log.info("partitions assigned: %s (closed_through restored for %d schemas)",
                     _tps(assigned), len(self.pipeline.closed_through()))

    def _restore(self, marks: dict[str, int]) -> None:
        ignored = self.pipeline.restore_closed_through(marks, now_ms())
        if ignored:
            self.metrics.watermarks_ignored.inc(len(ignored))
            known = [n for n in ignored if self.schemas.by_name(n) is not None]
            log.warning("ignored %d committed closed_through mark(s) beyond the "
                        "wall clock + max_future_ms (schemas: %s); windows "
                        "before them may be published again and are deduplicated "
                        "centrally", len(ignored), ",".join(known) or "-")

    async def _committed_marks(self, partitions: set[TopicPartition]) -> dict[str, int]:
        with kafka.translated("read committed offsets"):
            committed = await asyncio.wait_for(
                self._admin.list_consumer_group_offsets(self.settings.group_id,
                                                        partitions=sorted(partitions)),
                kafka.REQUEST_TIMEOUT_MS / 1000)
        read = self.offsets.read_back(committed)
        if read.foreign:
            log.warning("committed offsets without deidentify metadata on %d partitions; "
                        "windows before them cannot be recognised as published", read.foreign)
        return read.marks

    def _set_assigned(self) -> None:
        self.health.assigned = len(self._assigned)
        self.session_metrics.assigned(len(self._assigned))

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

    # ----------------------------------------------------------------- metrics

    def _export_metrics(self, mono: float) -> None:
        self.session_metrics.export(self.pipeline, self._consumer, self._assigned, mono,
                                    now_ms())


def _tps(tps: set[TopicPartition]) -> str:
    return ",".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(tps)) or "-"


__all__ = ["BatchLoop", "Failpoint", "check_metadata_fits", "commit_metadata",
           "parse_commit_metadata"]

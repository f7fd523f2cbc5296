"""``deidentify run --stages split``: a session running stage one and stage two as Kafka tasks.

Opt-in; the default ``--stages single`` session is :mod:`deidentify.sidecar.loop`, unchanged.
The design is ``docs/scale-out.md``; the pure parts (partial records, merging, the close rule,
order-independent caps) are :mod:`deidentify.partials`.

One :class:`SplitSession` holds two consumers of read_committed records, with dynamic group
membership (several processes of a region share the groups):

* **stage one**, group ``<group>``, the raw topics. A :class:`Stage1Task` per assigned raw
  partition: its own pipeline (uncapped windows, the region subject key) and its own
  transactional producer ``<group>-s1-<topic>-<partition>``. Whenever windows close on the
  partition, or offsets or its watermark moved (at most once per ``--commit-interval``
  otherwise), one transaction holds: the partial records of the closed windows (internal
  partition = hash of schema and window start), the partition's close watermark as a *mark*
  to every internal partition, and the raw partition's safe offset with its
  ``closed_through`` metadata (the one-process rules of ``offsets.py``).
* **stage two**, group ``<group>.s2``, the internal topic. A :class:`Stage2Task` per assigned
  internal partition, transactional producer ``<group>-s2-<partition>``: merges partials,
  closes a window when every raw partition of its schema's topic has marked past it, applies
  caps, ``k``, the roll-up and the guard (the single-process ``Pipeline`` code on the merged
  window), and publishes to the central topic in one transaction with its internal offset:
  the first partial of a still-open window (so a replay rebuilds it) and ``closed_through``
  (so a replay skips what was published).

Fencing without KIP-447: a task's transactional id belongs to the partition, not to the
process. The process that is assigned a partition starts the task's producer first
(``InitProducerId`` aborts or completes the previous owner's last transaction and fences it),
then reads the partition's committed offset and metadata and seeks there. A fenced producer
(the partition moved on while this process stalled) fails the session, which starts afresh.

Rebalance: before partitions are revoked, each task closes what is due, commits and stops;
the next owner replays from the committed offset. Nothing here logs an event value.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import NamedTuple

from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from deidentify.contract import Aggregate
from deidentify.errors import DeidentifyError, ProducerFenced, RuntimeFailure, TaskFenced
from deidentify.metrics import SidecarMetrics
from deidentify.partials import (
    BAD_RECORD,
    WRONG_KEY,
    RegionWindows,
    UncappedWindows,
    decode_record,
    encode_mark,
    encode_partial,
    internal_partition,
    window_key,
)
from deidentify.pipeline import LATE, Pipeline
from deidentify.privacy.sketch import SubjectKey
from deidentify.schema import SchemaSet
from deidentify.schema.compile import CompiledSchema
from deidentify.sidecar import kafka
from deidentify.sidecar.failpoints import Failpoint
from deidentify.sidecar.gate import WindowCloseGate
from deidentify.sidecar.health import HealthState
from deidentify.sidecar.offsets import (
    KEEPALIVE_TRANSACTION_S,
    check_metadata_fits,
    commit_metadata,
    parse_commit_metadata,
)
from deidentify.sidecar.publish import TransactionalPublisher
from deidentify.sidecar.session_base import SessionBase
from deidentify.sidecar.session_metrics import SessionMetrics
from deidentify.sidecar.settings import SidecarSettings

log = logging.getLogger("deidentify.sidecar")

INTERNAL_TOPIC_PARTITIONS = 6
INTERNAL_TOPIC_CONFIG = {"cleanup.policy": "delete", "retention.ms": str(24 * 3600 * 1000)}
STAGE2_GROUP_SUFFIX = ".s2"
CLIENT_STOP_TIMEOUT_S = 5.0
STEP_TIMEOUT_FACTOR = 2          # a step of both stages: at most two transaction timeouts
MARK_KEY = b"mark"



def now_ms() -> int:
    return int(time.time() * 1000)


def stage1_transactional_id(group: str, tp: TopicPartition) -> str:
    return f"{group}-s1-{tp.topic}-{tp.partition}"


def stage2_transactional_id(group: str, partition: int) -> str:
    return f"{group}-s2-{partition}"


class Stage1Task:
    """One raw partition: pipeline without caps, partial records, marks, raw offsets."""

    def __init__(self, tp: TopicPartition, settings: SidecarSettings, schemas: SchemaSet,
                 key: SubjectKey) -> None:
        self.tp = tp
        self.source = (tp.topic, tp.partition)
        self.pipeline = Pipeline(schemas, region=settings.region, idle_ms=settings.idle_ms,
                                 max_future_ms=settings.max_future_ms)
        self.pipeline.windows = UncappedWindows(idle_ms=settings.idle_ms,
                                                subject_hash=key.hasher())
        self.gate = WindowCloseGate(self.pipeline, settings.fetch_max_wait_ms)
        self.producer = None
        self.pending: list = []                    # ClosedWindows not yet sent
        self.committed: int | None = None
        self.sent_mark: int | None = None
        self.last_txn = time.monotonic()


class Stage2Task:
    """One internal partition: merged windows, aggregates, internal offsets."""

    def __init__(self, tp: TopicPartition) -> None:
        self.tp = tp
        self.windows = RegionWindows()
        self.publisher: TransactionalPublisher | None = None
        self.producer = None
        self.pending: list[Aggregate] = []
        self.committed: int | None = None
        self.last_txn = time.monotonic()


class SplitSession(SessionBase):
    """One session of ``--stages split``: start(), run(stopping), finish(), close()."""

    def __init__(self, settings: SidecarSettings, schemas: SchemaSet, metrics: SidecarMetrics,
                 health: HealthState, *, failpoint: Failpoint | None = None) -> None:
        check_metadata_fits(schemas)
        if settings.subject_key is None:
            raise RuntimeFailure("--stages split needs the region subject key")
        self.settings = settings
        self.schemas = schemas
        self.metrics = metrics
        self.health = health
        self.failpoint = failpoint or Failpoint(None)
        self.key = SubjectKey(settings.subject_key)
        self.key_id = self.key.key_id
        self.session_metrics = SessionMetrics(metrics)
        # stage two's k, roll-up, guard and formatting: the one-process code, per window
        self.stage2 = Pipeline(schemas, region=settings.region, idle_ms=settings.idle_ms,
                               max_future_ms=settings.max_future_ms)
        self.stage2_group = settings.group_id + STAGE2_GROUP_SUFFIX
        self.s1: dict[TopicPartition, Stage1Task] = {}
        self.s2: dict[TopicPartition, Stage2Task] = {}
        self._compiled: dict[tuple[str, int], CompiledSchema] = {}
        self._remember(schemas)
        self._raw_partitions: dict[str, int] = {}
        self._internal_partitions = 0
        self._raw = self._internal = self._admin = None
        self._topics: list[str] = []
        self._lock = asyncio.Lock()
        self._failure: DeidentifyError | None = None
        self._last_commit = time.monotonic()
        self._closed = False
        self._retired_drops: dict[tuple[str, str], int] = {}   # of tasks given up
        self._refused_logged = 0

    def _remember(self, schemas: SchemaSet) -> None:
        for cs in schemas.compiled:
            self._compiled[(cs.name, cs.version)] = cs

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        s = self.settings
        created = await self._start_admin()
        created += await self._ensure_internal_topic()
        if created:
            log.info("created topics: %s", ",".join(created))
        counts = await self._partition_counts([*self._topics, s.internal_topic])
        self._internal_partitions = counts.pop(s.internal_topic)
        self._raw_partitions = counts
        self._raw = kafka.make_consumer(s, static=False, pairs=True)
        self._internal = kafka.make_consumer(s, group_id=self.stage2_group, static=False)
        with kafka.translated("start consumers"):
            await self._raw.start()
            await self._internal.start()
        self._raw.subscribe(topics=self._topics, listener=kafka.RebalanceListener(
            self._s1_revoked, self._s1_assigned))
        self._internal.subscribe(topics=[s.internal_topic], listener=kafka.RebalanceListener(
            self._s2_revoked, self._s2_assigned))
        self.health.session_up = True
        self.health.broker_ok = time.monotonic()
        self.health.broker_failing = False
        for schema in self.schemas.schemas:
            self.metrics.schema_version.labels(schema.name).set(schema.version)
        log.info("split session started: group=%s stage_two_group=%s internal_topic=%s "
                 "internal_partitions=%d topics=%s", s.group_id, self.stage2_group,
                 s.internal_topic, self._internal_partitions, ",".join(self._topics))

    async def _ensure_internal_topic(self) -> list[str]:
        from aiokafka.admin import NewTopic
        topic = self.settings.internal_topic
        with kafka.translated("list topics"):
            existing = set(await self._admin.list_topics())
            cluster = await self._admin.describe_cluster()
        if topic in existing:
            return []
        replication = min(kafka.MAX_REPLICATION_FACTOR, len(cluster.get("brokers", ())) or 1)
        with kafka.translated("create the internal topic"):
            await self._admin.create_topics([NewTopic(
                topic, INTERNAL_TOPIC_PARTITIONS, replication,
                topic_configs=dict(INTERNAL_TOPIC_CONFIG))])
        return [topic]

    async def _partition_counts(self, topics: list[str]) -> dict[str, int]:
        deadline = time.monotonic() + kafka.REQUEST_TIMEOUT_MS / 1000
        while True:
            with kafka.translated("describe topics"):
                described = await self._admin.describe_topics(topics)
            counts = {d["topic"]: len(d.get("partitions") or ()) for d in described
                      if not d.get("error_code")}
            if all(counts.get(t) for t in topics):
                return counts
            if time.monotonic() > deadline:
                missing = ",".join(t for t in topics if not counts.get(t))
                raise RuntimeFailure(f"describe topics: no partitions for {missing}")
            await asyncio.sleep(0.2)

    async def run(self, stopping: asyncio.Event) -> None:
        await self.failpoint.reached("session_start", self.failpoint.session_started())
        limit_s = self.settings.transaction_timeout_ms / 1000 * STEP_TIMEOUT_FACTOR
        while not stopping.is_set():
            step = asyncio.ensure_future(self.step())
            done, _ = await asyncio.wait({step}, timeout=limit_s)
            if not done:
                # A step waits on the broker for many tasks; one that cannot finish (a
                # transaction the broker keeps refusing) fails the session: a new one
                # starts fresh producers, which settles the tasks' last transactions.
                where = _awaiting(step.get_coro())
                step.cancel()
                await asyncio.gather(step, return_exceptions=True)
                raise RuntimeFailure(f"split step did not finish within {limit_s:.0f}s "
                                     f"(waiting in {where or '-'})")
            step.result()

    async def step(self) -> int:
        """Stage one on a raw batch, then stage two on an internal batch."""
        self._raise_failure()
        s = self.settings
        with kafka.translated("fetch"):
            raw = await self._raw.getmany(timeout_ms=s.fetch_max_wait_ms,
                                          max_records=s.max_batch_records)
        fetched = 0
        async with self._lock:
            self._raise_failure()
            wall = now_ms()
            for tp, msgs in raw.items():
                task = self.s1.get(tp)
                if not msgs or task is None:
                    continue
                task.pipeline.process_batch(kafka.offsets_and_values(msgs)[0], tp, wall)
                fetched += len(msgs)
                self.session_metrics.consumed(tp.topic, len(msgs))
            if fetched:
                mono = time.monotonic()
                self.health.last_fetch = self.health.broker_ok = mono
                self.metrics.batch_size.observe(fetched)
                self.metrics.last_fetch_timestamp.set(time.time())
            due = (time.monotonic() - self._last_commit) * 1000 >= s.commit_interval_ms
            for task in self.s1.values():
                task.gate.observe(self._raw, (task.tp,), wall)
                task.pending.extend(task.pipeline.windows.close_due(wall))
                if task.pending or due:
                    await self._commit_s1(task, wall)
        with kafka.translated("fetch internal"):
            internal = await self._internal.getmany(timeout_ms=s.fetch_max_wait_ms,
                                                    max_records=s.max_batch_records)
        async with self._lock:
            self._raise_failure()
            resolve = self._resolve
            for tp, msgs in internal.items():
                task2 = self.s2.get(tp)
                if not msgs or task2 is None:
                    continue
                for msg in msgs:
                    task2.windows.add(decode_record(msg.value, self.key_id), msg.offset,
                                      resolve)
            for task2 in self.s2.values():
                closed = task2.windows.due(self._sources)
                if closed:
                    task2.pending.extend(self.stage2._publish(closed))
                if task2.pending or due:
                    await self._commit_s2(task2)
            if due:
                self._last_commit = time.monotonic()
                self.health.last_commit = self.health.broker_ok = self._last_commit
                self.health.uncommitted_since = None
            self._export(wall)
        return fetched

    async def finish(self, timeout_s: float) -> None:
        """Graceful stop: close what is due in both stages and commit every task."""
        async with asyncio.timeout(timeout_s):
            async with self._lock:
                self._raise_failure()
                wall = now_ms()
                for task in self.s1.values():
                    task.pending.extend(task.pipeline.windows.close_due(wall))
                    await self._commit_s1(task, wall)
                for task2 in self.s2.values():
                    closed = task2.windows.due(self._sources)
                    if closed:
                        task2.pending.extend(self.stage2._publish(closed))
                    await self._commit_s2(task2)

    async def close(self) -> None:
        """Stop every client (bounded); safe to call twice and after a failed start."""
        if self._closed:
            return
        self._closed = True
        self.health.session_up = False
        self.health.assigned = 0
        self.session_metrics.assigned(0)
        clients = [("consumer", self._raw), ("consumer", self._internal)]
        clients += [("producer", t.producer) for t in self.s1.values()]
        clients += [("producer", t.producer) for t in self.s2.values()]
        clients.append(("admin", self._admin))
        for name, client in clients:
            await _stop(name, client)

    # ----------------------------------------------------------------- stage one

    async def _commit_s1(self, task: Stage1Task, wall: int) -> None:
        pipeline = task.pipeline
        safe = pipeline.safe_offsets().get(task.tp)
        mark = pipeline.windows.watermark(wall)
        mono = time.monotonic()
        if not (task.pending or (safe is not None and safe != task.committed)
                or (mark is not None and mark != task.sent_mark)
                or (mono - task.last_txn >= KEEPALIVE_TRANSACTION_S
                    and (safe is not None or mark is not None))):
            return
        topic, n = self.settings.internal_topic, self._internal_partitions
        producer = task.producer
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.settings.transaction_timeout_ms / 1000):
                with kafka.translated("stage one transaction"):
                    await producer.begin_transaction()
                    for window in task.pending:
                        key = window_key(window.schema.name, window.start_ms)
                        await producer.send(topic, encode_partial(window, task.source,
                                                                  self.key_id),
                                            key=key, partition=internal_partition(key, n))
                    if mark is not None:
                        value = encode_mark(task.source, mark, self.key_id)
                        for p in range(n):
                            await producer.send(topic, value, key=MARK_KEY, partition=p)
                    if safe is not None:
                        metadata = commit_metadata(pipeline.closed_through())
                        await producer.send_offsets_to_transaction(
                            {task.tp: OffsetAndMetadata(safe, metadata)},
                            self.settings.group_id)
                    await producer.commit_transaction()
        except TimeoutError:
            self.session_metrics.transaction_failed()
            raise RuntimeFailure("stage one transaction: not committed within "
                                 f"{self.settings.transaction_timeout_ms} ms") from None
        except ProducerFenced as exc:
            self.session_metrics.transaction_failed()
            raise TaskFenced(f"stage one task {task.tp.topic}[{task.tp.partition}] was "
                             "taken over by another process") from exc
        except DeidentifyError:
            self.session_metrics.transaction_failed()
            raise
        if task.pending:
            log.info("stage one committed: partition=%s[%d] windows=%d seconds=%.3f",
                     task.tp.topic, task.tp.partition, len(task.pending),
                     time.perf_counter() - started)
        task.pending = []
        task.committed = safe
        task.sent_mark = mark
        task.last_txn = mono

    async def _s1_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = self._raw
        new = sorted(tp for tp in assigned if tp not in self.s1)
        if new:
            consumer.pause(*new)        # no record before the fence and the seek
        async with self._lock:
            try:
                for tp in new:
                    task = Stage1Task(tp, self.settings, self.schemas, self.key)
                    task.producer = await self._start_producer(
                        stage1_transactional_id(self.settings.group_id, tp))
                    self.s1[tp] = task
                marks = await self._seek_committed(consumer, self.settings.group_id,
                                                   self.s1, new)
                for tp in new:
                    task = self.s1[tp]
                    if marks.get(tp):
                        task.pipeline.restore_closed_through(marks[tp], now_ms())
                    task.gate.track((tp,))
            except DeidentifyError as exc:
                self._failure = exc
                log.warning("stage one assignment failed: error=%s", type(exc).__name__)
                return
            if new:
                consumer.resume(*new)
            self._set_assigned()
            log.info("stage one partitions assigned: %s", _tps(assigned))

    async def _s1_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._lock:
            for tp in sorted(revoked):
                task = self.s1.pop(tp, None)
                if task is None:
                    continue
                _add_counts(self._retired_drops, task.pipeline.drops)
                if self._failure is None and not self._closed:
                    try:
                        wall = now_ms()
                        task.pending.extend(task.pipeline.windows.close_due(wall))
                        await self._commit_s1(task, wall)
                    except DeidentifyError as exc:
                        self._failure = exc
                        log.warning("stage one commit before revoke failed: error=%s",
                                    type(exc).__name__)
                await _stop("producer", task.producer)
            self._set_assigned()
            if revoked:
                log.info("stage one partitions revoked: %s", _tps(revoked))

    # ----------------------------------------------------------------- stage two

    def _resolve(self, name: str, version: int) -> CompiledSchema | None:
        return self._compiled.get((name, version))

    def _sources(self, name: str) -> list[tuple[str, int]] | None:
        schema = self.schemas.by_name(name)
        if schema is None:
            return None
        topic = self.settings.raw_topic(schema.topic)
        n = self._raw_partitions.get(topic)
        return [(topic, p) for p in range(n)] if n else None

    async def _commit_s2(self, task: Stage2Task) -> None:
        safe = task.windows.safe_offset()
        mono = time.monotonic()
        if not (task.pending or (safe is not None and safe != task.committed)
                or (safe is not None and mono - task.last_txn >= KEEPALIVE_TRANSACTION_S)):
            return
        commit = {}
        if safe is not None:
            commit = {task.tp: OffsetAndMetadata(
                safe, commit_metadata(task.windows.closed_through()))}
        started = time.perf_counter()
        try:
            await task.publisher.publish(task.pending, commit, 0)
        except ProducerFenced as exc:
            self.session_metrics.transaction_failed()
            raise TaskFenced(f"stage two task [{task.tp.partition}] was taken over by "
                             "another process") from exc
        except DeidentifyError:
            self.session_metrics.transaction_failed()
            raise
        elapsed = time.perf_counter() - started
        self.session_metrics.transaction_committed(task.pending, elapsed)
        if task.pending:
            log.info("stage two committed: partition=%d cells=%d seconds=%.3f",
                     task.tp.partition, len(task.pending), elapsed)
        task.pending = []
        task.committed = safe
        task.last_txn = mono

    async def _s2_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = self._internal
        new = sorted(tp for tp in assigned if tp not in self.s2)
        if new:
            consumer.pause(*new)
        async with self._lock:
            try:
                for tp in new:
                    task = Stage2Task(tp)
                    task.producer = await self._start_producer(
                        stage2_transactional_id(self.settings.group_id, tp.partition))
                    task.publisher = TransactionalPublisher(
                        task.producer, self.settings.publish_topic, self.stage2_group,
                        self.settings.transaction_timeout_ms, self.failpoint)
                    self.s2[tp] = task
                marks = await self._seek_committed(consumer, self.stage2_group, self.s2, new)
                for tp, task_marks in marks.items():
                    if task_marks:
                        self.s2[tp].windows.restore_closed_through(task_marks)
            except DeidentifyError as exc:
                self._failure = exc
                log.warning("stage two assignment failed: error=%s", type(exc).__name__)
                return
            if new:
                consumer.resume(*new)
            self._set_assigned()
            log.info("stage two partitions assigned: %s", _tps(assigned))

    async def _s2_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._lock:
            for tp in sorted(revoked):
                task = self.s2.pop(tp, None)
                if task is None:
                    continue
                _add_counts(self._retired_drops,
                            {(n, LATE): e for n, e in task.windows.late_events.items()})
                if self._failure is None and not self._closed:
                    try:
                        closed = task.windows.due(self._sources)
                        if closed:
                            task.pending.extend(self.stage2._publish(closed))
                        await self._commit_s2(task)
                    except DeidentifyError as exc:
                        self._failure = exc
                        log.warning("stage two commit before revoke failed: error=%s",
                                    type(exc).__name__)
                await _stop("producer", task.producer)
            self._set_assigned()
            if revoked:
                log.info("stage two partitions revoked: %s", _tps(revoked))

    # ----------------------------------------------------------------- shared

    async def _start_producer(self, transactional_id: str):
        """A task's producer; starting it fences the partition's previous owner."""
        producer = kafka.make_producer(self.settings, transactional_id)
        try:
            with kafka.translated("start task producer"):
                await producer.start()
        except DeidentifyError:
            await _stop("producer", producer)
            raise
        return producer

    async def _seek_committed(self, consumer, group: str, tasks: dict,
                              new: list[TopicPartition]) -> dict[TopicPartition, dict]:
        """Both stages' newly assigned partitions: each is sought to the group's committed
        offset (recorded as its task's ``committed``), or to the beginning when there is
        none. Returns the watermarks committed with each offset (partitions that had one)."""
        committed = await self._committed(group, new)
        marks: dict[TopicPartition, dict] = {}
        for tp in new:
            om = committed.get(tp)
            if om is not None and om.offset is not None and om.offset >= 0:
                consumer.seek(tp, om.offset)
                tasks[tp].committed = om.offset
                marks[tp] = parse_commit_metadata(om.metadata)
            else:
                await consumer.seek_to_beginning(tp)
        return marks

    async def _committed(self, group: str, partitions: list[TopicPartition]) -> dict:
        if not partitions:
            return {}
        with kafka.translated("read committed offsets"):
            return await asyncio.wait_for(
                self._admin.list_consumer_group_offsets(group, partitions=partitions),
                kafka.REQUEST_TIMEOUT_MS / 1000)

    def _set_assigned(self) -> None:
        n = len(self.s1) + len(self.s2)
        self.health.assigned = n
        self.session_metrics.assigned(n)

    async def swap_schemas(self, schemas: SchemaSet) -> None:
        """Hot reload: new events use ``schemas``. Other raw topics need a new session."""
        check_metadata_fits(schemas)
        if self.raw_topics(schemas) != self._topics:
            raise RuntimeFailure("the reloaded schemas read other raw topics; a new split "
                                 "session starts with them")
        async with self._lock:
            self._remember(schemas)
            self.schemas = schemas
            self.stage2.swap_schemas(schemas)
            for task in self.s1.values():
                task.pipeline.swap_schemas(schemas)
            for schema in schemas.schemas:
                self.metrics.schema_version.labels(schema.name).set(schema.version)


    def _export(self, wall: int) -> None:
        """Counters over both stages and every task this session held (tasks come and go
        with rebalances; the counters only grow), in the one-process metric names."""
        drops = dict(self._retired_drops)
        _add_counts(drops, self.stage2.drops)
        for task in self.s1.values():
            _add_counts(drops, task.pipeline.drops)
        refused = 0
        for task2 in self.s2.values():
            _add_counts(drops, {(n, LATE): e for n, e in task2.windows.late_events.items()})
            refused += sum(n for (_, reason), n in task2.windows.rejected.items()
                           if reason in (BAD_RECORD, WRONG_KEY))
        if refused > self._refused_logged:
            log.warning("internal topic: %d record(s) refused (not ours, corrupt, or made "  # values-safe: a count
                        "under another subject key)", refused - self._refused_logged)
            self._refused_logged = refused
        windows = [t.pipeline.windows for t in self.s1.values()]
        windows += [t.windows for t in self.s2.values()]
        view = _SessionTotals(drops, self.stage2.rolled_up, self.stage2.guard_hits,
                              self.stage2.suppressed_cells, _OpenWindows(windows))
        self.session_metrics.export(view, self._raw, list(self.s1), time.monotonic(), wall)


class _OpenWindows(NamedTuple):
    """Open windows over both stages' tasks (what ``SessionMetrics.export`` reads)."""

    parts: list

    @property
    def open_window_count(self) -> int:
        return sum(w.open_window_count for w in self.parts)

    def oldest_open_end(self) -> int | None:
        return min((end for w in self.parts if (end := w.oldest_open_end()) is not None),
                   default=None)


class _SessionTotals(NamedTuple):
    """The pipeline counters ``SessionMetrics.export`` reads, summed over the session."""

    drops: dict
    rolled_up: dict
    guard_hits: dict
    suppressed_cells: dict
    windows: _OpenWindows


def _add_counts(into: dict, counts: dict) -> None:
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


def _awaiting(coro) -> str:
    """Where a suspended coroutine waits: function names and lines only (no values)."""
    names = []
    while coro is not None and len(names) < 16:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            names.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return " > ".join(names)


async def _stop(name: str, client) -> None:
    if client is None:
        return
    try:
        stop = client.close() if name == "admin" else client.stop()
        await asyncio.wait_for(stop, CLIENT_STOP_TIMEOUT_S)
    except (Exception, asyncio.CancelledError) as exc:
        log.warning("stopping the %s failed: error=%s", name, type(exc).__name__)


def _tps(tps: set[TopicPartition]) -> str:
    return ",".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(tps)) or "-"


__all__ = ["INTERNAL_TOPIC_PARTITIONS", "SplitSession", "Stage1Task", "Stage2Task",
           "stage1_transactional_id", "stage2_transactional_id"]

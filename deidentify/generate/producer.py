"""Producing generated events to Kafka: one loop for every generator and the demo.

``produce_records`` sends what any record source yields — ``TelemetryGenerator.records``,
``SchemaEventGenerator.records`` — to the topic ``topic_of`` names for each record, and is
what ``deidentify generate``, ``deidentify generate --schemas`` and ``deidentify demo`` run.
``produce`` is the built-in generator's front end (validation, topics, progress bar).

Pacing
    Without ``rate``, as fast as the producer takes records. With ``rate``, the n-th record
    carries event time ``start_ms + n * 1000 / rate`` and is not sent before the wall clock
    reaches it: a ``start_ms`` in the past is a backlog sent at full speed (the demo's
    backfill), after which sending follows the wall clock at ``rate`` events/s, so windows
    close in step with it.

Delivery
    Records are batched by the producer (``send()`` without awaiting each delivery, linger,
    large batches); deliveries are checked at every periodic ``flush()`` and at the end.
    Keys are the tenant id bytes, so one tenant's events share a partition. Kafka errors are
    translated into ``BrokerUnavailable``, ``AuthenticationFailed`` or ``RuntimeFailure``
    (names and reasons only, never a value).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from deidentify.errors import (
    SettingsError,
)
from deidentify.generate.generator import TelemetryGenerator
from deidentify.generate.progress import ProgressBar
from deidentify.generate.topics import TOPICS, check_region, raw_topic

_FLUSH_EVERY = 20_000
_MAX_CHUNK = 5000

K = TypeVar("K")


async def produce(bootstrap: str, *, region: str, count: int | None, rate: float | None,
                  seed: int = 0, topics: Callable[[str], str] | None = None,
                  progress: bool = True, security: dict[str, Any] | None = None,
                  force_progress: bool = False, start_ms: int | None = None) -> int:
    """Produce generated events to the raw topics; return how many were produced.

    * ``region`` shapes the traffic (API host ``api.{region}.shopfront.io``, the countries,
      phones and currencies of users and customers); it names topics only through
      ``topics``.
    * ``count`` events, or forever when ``None`` (until cancelled).
    * At most ``rate`` events/s of wall-clock time when given, else as fast as possible.
      Event time advances at ``rate`` events/s too (1000/s when unthrottled), starting at
      ``start_ms`` (default now; unthrottled with a ``count``, ``count`` ms before now, so
      the backlog ends about now), so windows close in step with the wall clock.
    * ``topics(kind)`` names the topic of each event kind; default ``raw_topic(kind)``, the
      bare names the shipped schemas read. ``partial(raw_topic, region=region)`` gives the
      region-prefixed names (several simulated regions on one broker).
    * ``security``: extra ``AIOKafkaProducer`` keyword arguments (``security_protocol``,
      ``sasl_mechanism``, ``sasl_plain_username``, ``sasl_plain_password``,
      ``ssl_context``…), passed through unchanged.
    * Progress: a one-line text bar on stderr when ``progress`` and stderr is a tty, or
      always with ``force_progress``.
    """
    if count is not None and (not isinstance(count, int) or count < 0):
        raise SettingsError("--count must be an int of at least 0")
    if rate is not None and not (isinstance(rate, int | float) and rate > 0):
        raise SettingsError("--rate must be a number greater than 0 (events per second)")
    check_region(region)
    topic_of = topics or raw_topic
    names = {kind: topic_of(kind) for kind in TOPICS}
    if start_ms is None and rate is None and count is not None:
        # unthrottled: a backlog that ends about now, never event times far ahead of the
        # wall clock (the sidecar rejects those as future_timestamp)
        start_ms = int(time.time() * 1000) - count
    gen = TelemetryGenerator(seed=seed, region=region, start_ms=start_ms,
                             events_per_second=rate or 1000.0)
    bar = ProgressBar(count) if (progress and sys.stderr.isatty()) or force_progress else None
    try:
        return await produce_records(
            bootstrap, gen.records, names.__getitem__, count=count, rate=rate,
            start_ms=gen.start_ms, security=security,
            on_progress=None if bar is None else bar.update)
    finally:
        if bar is not None:
            bar.close()


async def produce_records(bootstrap: str,
                          records: Callable[[int], Iterable[tuple[K, bytes, bytes]]],
                          topic_of: Callable[[K], str], *, count: int | None,
                          rate: float | None = None, start_ms: int | None = None,
                          stop: asyncio.Event | None = None,
                          on_progress: Callable[[int], None] | None = None,
                          security: dict[str, Any] | None = None,
                          client_id: str = "deidentify-generate") -> int:
    """Send ``count`` records (forever when ``None``) from ``records(n)``; return how many.

    ``records(n)`` yields ``n`` records ``(what, key, value)``; ``topic_of(what)`` names the
    topic of each. With ``rate`` (events/s) the records are paced by their event time from
    ``start_ms`` (see the module docstring; ``start_ms`` defaults to now). Ends early, after
    a final flush, once ``stop`` is set. ``on_progress(sent)`` is called after every chunk.
    ``security`` and ``client_id`` go to the ``AIOKafkaProducer``.
    """
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    if rate is not None and start_ms is None:
        start_ms = int(time.time() * 1000)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks=1,
        linger_ms=20,
        max_batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
        **(security or {}),
    )
    produced = 0
    try:
        causes = _CauseRecorder()
        try:
            with causes.attached():
                await producer.start()
        except KafkaError as exc:
            raise _translate(exc, bootstrap, causes.seen) from exc
        chunk = _MAX_CHUNK if rate is None else max(1, min(_MAX_CHUNK, int(rate / 20)))
        pending: list[asyncio.Future[Any]] = []
        send = producer.send
        # The default partitioner hashes the key (murmur2, in Python) on every send; there
        # are only a few tenants, so each (topic, key) is hashed once, the same way.
        partition_of: dict[tuple[str, bytes], int] = {}
        while (count is None or produced < count) and not (stop is not None and stop.is_set()):
            if rate is not None and start_ms is not None:
                ahead_s = (start_ms + produced * 1000 / rate) / 1000 - time.time()
                if ahead_s > 0:     # the next record is ahead of the wall clock: wait for it
                    await _sleep(ahead_s, stop)
                    continue
            n = chunk if count is None else min(chunk, count - produced)
            for what, key, value in records(n):
                topic = topic_of(what)
                try:
                    partition = partition_of.get((topic, key))
                    if partition is None:
                        partition = await _key_partition(producer, topic, key)
                        partition_of[topic, key] = partition
                    pending.append(await send(topic, value, key=key, partition=partition))
                except KafkaError as exc:
                    raise _translate(exc, bootstrap) from exc
            produced += n
            if len(pending) >= _FLUSH_EVERY:
                await _flush(producer, pending, bootstrap)
                pending = []
            if on_progress is not None:
                on_progress(produced)
            await asyncio.sleep(0)      # let the view and signal handlers run
        await _flush(producer, pending, bootstrap)
    finally:
        await producer.stop()
    return produced


async def _sleep(seconds: float, stop: asyncio.Event | None) -> None:
    """Sleep ``seconds``, or less when ``stop`` is set meanwhile."""
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _key_partition(producer: Any, topic: str, key: bytes) -> int:
    """The partition aiokafka's default partitioner picks for ``key`` on ``topic``."""
    from aiokafka.partitioner import DefaultPartitioner

    partitions = sorted(await producer.partitions_for(topic))
    return DefaultPartitioner()(key, partitions, partitions)


async def _flush(producer: Any, pending: list[asyncio.Future[Any]], bootstrap: str) -> None:
    from aiokafka.errors import KafkaError

    try:
        await producer.flush()
    except KafkaError as exc:
        raise _translate(exc, bootstrap) from exc
    for fut in pending:
        if fut.done() and not fut.cancelled():
            exc = fut.exception()
            if exc is not None:
                if isinstance(exc, KafkaError):
                    raise _translate(exc, bootstrap) from exc
                raise exc


def _translate(exc: BaseException, bootstrap: str,
               causes: tuple[type[BaseException], ...] = ()) -> Exception:
    """Kafka errors -> deidentify's (:mod:`deidentify.runtime.kafka_errors`, loaded lazily)."""
    from deidentify.runtime.kafka_errors import translate
    return translate(exc, bootstrap, causes)


class _CauseRecorder(logging.Handler):
    """Collects the *types* of exceptions aiokafka logs while attached (never messages)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: tuple[type[BaseException], ...] = ()

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        self.seen += tuple(type(a) for a in args if isinstance(a, BaseException))

    @contextlib.contextmanager
    def attached(self) -> Iterator[None]:
        logger = logging.getLogger("aiokafka")
        logger.addHandler(self)
        try:
            yield
        finally:
            logger.removeHandler(self)

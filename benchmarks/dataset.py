"""The benchmark data set: generated once, cached as JSON lines, produced once per run.

* :func:`ensure_dataset` writes ``events`` raw events (the three kinds, fake PII) from
  :class:`deidentify.generate.TelemetryGenerator` to a JSON-lines file in the cache directory,
  or reuses the file when one with the same parameters (and the same generator source) exists.
  Generation runs in ``jobs`` processes, one chunk each; chunk ``i`` uses seed ``seed + i``
  and continues the event clock where chunk ``i - 1`` ends, so the file is deterministic.
* :func:`produce` writes the file's events to the three raw topics under a topic prefix, with
  a given partition count, using confluent-kafka (the fastest Python producer; the producer is
  not what is measured). Keys are tenant ids, the partitioner is murmur2 (what the Java client,
  aiokafka and ``deidentify generate`` use), so one tenant's events share a partition. The
  record timestamp is the event time (``ts``) shifted by a whole number of minutes so that it is
  recent (the broker's time-based retention then leaves the topics alone) while the 60 s
  windows of record time and of event time hold the same events: faust and quixstreams window
  by record timestamp, deidentify by the ``ts`` field.

Event time advances by ``1000 / events_per_second`` ms per event from a fixed start, so the
default 1,000,000 events at 2,000 events/s span about 8.3 minutes: 9 windows per schema.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from deidentify.generate import TOPICS, TelemetryGenerator

# 2026-11-20T10:00:00Z: the schema examples' day; a fixed start keeps the file reproducible.
START_MS = 1_795_687_200_000
EVENTS_PER_SECOND = 2000.0
SCHEMA_TOPICS = {kind: topic for kind, topic in TOPICS.items()}


@dataclass(frozen=True)
class Dataset:
    """A cached JSON-lines file of raw events and what is known about it."""

    path: str
    events: int
    seed: int
    start_ms: int
    events_per_second: float
    by_kind: dict[str, int]
    total_bytes: int
    generated_s: float        # 0.0 when the cached file was reused

    @property
    def span_ms(self) -> int:
        return int(self.events * 1000 / self.events_per_second)

    def describe(self) -> dict:
        d = asdict(self)
        d["mean_event_bytes"] = round(self.total_bytes / max(1, self.events), 1)
        d["span_s"] = round(self.span_ms / 1000, 1)
        return d


def _generator_fingerprint() -> str:
    import deidentify.generate as gen
    digest = hashlib.sha256()
    for path in sorted(Path(gen.__file__).parent.glob("*.py")):    # the whole package
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _chunk_bounds(events: int, jobs: int) -> list[tuple[int, int]]:
    size = -(-events // jobs)
    return [(i * size, min(events, (i + 1) * size)) for i in range(jobs) if i * size < events]


def _write_chunk(args: tuple[str, int, int, int, int, float]) -> tuple[dict[str, int], int]:
    path, seed, start_ms, first, n, eps = args
    step = 1000.0 / eps
    gen = TelemetryGenerator(seed=seed, region="eu", start_ms=int(start_ms + first * step),
                             events_per_second=eps)
    by_kind: dict[str, int] = {}
    total = 0
    with open(path, "wb") as fh:
        chunk: list[bytes] = []
        for kind, line in gen.encoded(n):
            by_kind[kind] = by_kind.get(kind, 0) + 1
            total += len(line)
            chunk.append(line)
            if len(chunk) >= 5000:
                fh.write(b"\n".join(chunk) + b"\n")
                chunk = []
        if chunk:
            fh.write(b"\n".join(chunk) + b"\n")
    return by_kind, total


def ensure_dataset(events: int, *, cache_dir: str | os.PathLike[str], seed: int = 7,
                   jobs: int | None = None, log: Callable[[str], None] = print) -> Dataset:
    """The cached data set of ``events`` events, generating it when missing."""
    if events < 1:
        raise ValueError("the data set needs at least 1 event")
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    stem = (f"events-n{events}-s{seed}-t{START_MS}-r{int(EVENTS_PER_SECOND)}"
            f"-g{_generator_fingerprint()}")
    path = cache / f"{stem}.jsonl"
    meta = cache / f"{stem}.json"
    if path.is_file() and meta.is_file():
        info = json.loads(meta.read_text())
        if info.get("events") == events and path.stat().st_size == info.get("file_bytes"):
            return Dataset(str(path), events, seed, START_MS, EVENTS_PER_SECOND,
                           info["by_kind"], info["total_bytes"], 0.0)
    jobs = jobs or min(os.cpu_count() or 1, 4)
    bounds = _chunk_bounds(events, jobs if events >= 20_000 else 1)
    log(f"generating {events:,} events into {path} ({len(bounds)} process(es)) ...")
    t0 = time.perf_counter()
    parts = [(f"{path}.part{i}", seed + i, START_MS, a, b - a, EVENTS_PER_SECOND)
             for i, (a, b) in enumerate(bounds)]
    if len(parts) == 1:
        results = [_write_chunk(parts[0])]
    else:
        import multiprocessing
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        with multiprocessing.get_context(method).Pool(len(parts)) as pool:
            results = pool.map(_write_chunk, parts)
    by_kind: dict[str, int] = {}
    total = 0
    tmp = Path(f"{path}.tmp")
    with open(tmp, "wb") as out:
        for (part_path, *_), (kinds, nbytes) in zip(parts, results, strict=True):
            with open(part_path, "rb") as fh:
                while block := fh.read(1 << 22):
                    out.write(block)
            os.unlink(part_path)
            total += nbytes
            for kind, n in kinds.items():
                by_kind[kind] = by_kind.get(kind, 0) + n
    os.replace(tmp, path)
    meta.write_text(json.dumps({"events": events, "by_kind": by_kind, "total_bytes": total,
                                "file_bytes": path.stat().st_size}))
    took = time.perf_counter() - t0
    log(f"generated {events:,} events in {took:.1f}s")
    return Dataset(str(path), events, seed, START_MS, EVENTS_PER_SECOND, by_kind, total, took)


def iter_lines(path: str) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        for line in fh:
            line = line.strip()
            if line:
                yield line


# --------------------------------------------------------------------------- Kafka


def raw_topics(prefix: str) -> dict[str, str]:
    """Event kind -> benchmark raw topic (``prefix`` + the schemas' topic names)."""
    return {kind: prefix + topic for kind, topic in SCHEMA_TOPICS.items()}


def record_time_shift_ms(dataset: Dataset, now_ms: int | None = None) -> int:
    """A whole number of minutes that moves the data set's event times to the recent past."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    target = now_ms - dataset.span_ms - 120_000
    shift = target - dataset.start_ms
    return shift - shift % 60_000


def _event_ms(ts: object) -> int | None:
    from deidentify.schema.compile import Rejected, parse_ts_ms
    try:
        return parse_ts_ms(ts)
    except Rejected:
        return None


def create_topics(bootstrap: str, names: list[str], partitions: int,
                  timeout_s: float = 30.0) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    futures = admin.create_topics([NewTopic(n, partitions, 1) for n in names],
                                  operation_timeout=timeout_s, request_timeout=timeout_s)
    for name, fut in futures.items():
        try:
            fut.result(timeout_s)
        except Exception as exc:
            code = getattr(exc.args[0], "name", lambda: "")() if exc.args else ""
            if code != "TOPIC_ALREADY_EXISTS":
                raise RuntimeError(f"creating topic {name} failed ({type(exc).__name__})") \
                    from None


def delete_topics(bootstrap: str, names: list[str], timeout_s: float = 30.0) -> int:
    """Delete the given topics; returns how many were deleted (missing ones are skipped)."""
    if not names:
        return 0
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    futures = admin.delete_topics(names, operation_timeout=timeout_s, request_timeout=timeout_s)
    deleted = 0
    for fut in futures.values():
        try:
            fut.result(timeout_s)
            deleted += 1
        except Exception:
            pass
    return deleted


def list_groups(bootstrap: str, contains: str, timeout_s: float = 15.0) -> list[str]:
    """The consumer groups whose id contains ``contains``."""
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    listed = admin.list_consumer_groups(request_timeout=timeout_s).result(timeout_s)
    return [g.group_id for g in listed.valid if contains in g.group_id]


def delete_groups(bootstrap: str, contains: str, timeout_s: float = 15.0) -> int:
    """Delete the consumer groups whose id contains ``contains``; returns how many."""
    from confluent_kafka.admin import AdminClient
    names = list_groups(bootstrap, contains, timeout_s)
    if not names:
        return 0
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    deleted = 0
    for fut in admin.delete_consumer_groups(names, request_timeout=timeout_s).values():
        try:
            fut.result(timeout_s)
            deleted += 1
        except Exception:
            pass
    return deleted


def list_topics(bootstrap: str, startswith: str, timeout_s: float = 10.0) -> list[str]:
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    md = admin.list_topics(timeout=timeout_s)
    return sorted(t for t in md.topics if t.startswith(startswith))


def end_offsets(bootstrap: str, topics: list[str], timeout_s: float = 10.0) -> dict:
    """``{(topic, partition): high watermark}`` for every partition of ``topics``."""
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "deidentify-bench-probe",
                         "enable.auto.commit": False, "log_level": 3})
    try:
        md = consumer.list_topics(timeout=timeout_s)
        out = {}
        for topic in topics:
            for p in md.topics[topic].partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                         timeout=timeout_s)
                out[(topic, p)] = high
        return out
    finally:
        consumer.close()


def committed_offsets(bootstrap: str, group: str, partitions: list[tuple[str, int]],
                      timeout_s: float = 10.0) -> dict:
    """The offsets ``group`` has committed (``-1001`` for none)."""
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False, "log_level": 3})
    try:
        tps = consumer.committed([TopicPartition(t, p) for t, p in partitions],
                                 timeout=timeout_s)
        return {(tp.topic, tp.partition): tp.offset for tp in tps}
    finally:
        consumer.close()


def produce(dataset: Dataset, bootstrap: str, prefix: str, partitions: int,
            log: Callable[[str], None] = print) -> dict:
    """Produce every event of ``dataset`` to the raw topics under ``prefix``; return a summary."""
    from confluent_kafka import Producer

    topics = raw_topics(prefix)
    create_topics(bootstrap, list(topics.values()), partitions)
    shift = record_time_shift_ms(dataset)
    errors = [0]

    def on_delivery(err, _msg) -> None:
        if err is not None:
            errors[0] += 1

    producer = Producer({
        "bootstrap.servers": bootstrap,
        "linger.ms": 20,
        "batch.size": 1_000_000,
        "batch.num.messages": 100_000,
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1_048_576,
        "message.max.bytes": 4_000_000,
        "partitioner": "murmur2_random",
        "acks": 1,
        "enable.idempotence": False,
        "log_level": 3,
    })
    t0 = time.perf_counter()
    loads = orjson.loads
    n = 0
    for line in iter_lines(dataset.path):
        event = loads(line)
        topic = topics.get(event.get("type"))
        if topic is None:
            continue
        ms = _event_ms(event.get("ts"))
        tenant = event.get("tenant_id")
        key = tenant.encode() if type(tenant) is str else None
        kwargs = {"timestamp": ms + shift} if ms is not None else {}
        while True:
            try:
                producer.produce(topic, line, key, on_delivery=on_delivery, **kwargs)
                break
            except BufferError:
                producer.poll(0.05)
        n += 1
        if n % 20_000 == 0:
            producer.poll(0)
    remaining = producer.flush(120)
    took = time.perf_counter() - t0
    if remaining or errors[0]:
        raise RuntimeError(f"producing the data set failed: {errors[0]} delivery errors, "
                           f"{remaining} not delivered")
    offsets = end_offsets(bootstrap, list(topics.values()))
    total = sum(offsets.values())
    if total < n:
        raise RuntimeError(f"the raw topics hold {total} records, {n} were produced")
    log(f"produced {n:,} events to {prefix}* ({partitions} partition(s)) in {took:.1f}s")
    return {
        "prefix": prefix,
        "partitions": partitions,
        "topics": sorted(topics.values()),
        "records": n,
        "produce_s": round(took, 2),
        "record_time_shift_ms": shift,
        "per_partition": {f"{t}:{p}": o for (t, p), o in sorted(offsets.items())},
        "end_offsets": offsets,
    }


if __name__ == "__main__":  # pragma: no cover - a manual helper
    ds = ensure_dataset(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000,
                        cache_dir="/tmp/deidentify-bench")
    print(json.dumps(ds.describe(), indent=2))

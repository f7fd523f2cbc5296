"""The consume-only ceiling: an aiokafka consumer that fetches the batches and does nothing else.

``python -m benchmarks.ceiling --bootstrap B --topics T1,T2,T3 --partitions P --expect N --result F``

Same fetch settings as the sidecar's consumer (``deidentify/sidecar/kafka.py``: 4 MiB per
partition, 32 MiB per fetch, ``read_committed``, 20,000 records per ``getmany``), partitions
assigned directly (no group), from the beginning. No value is decoded or even looked at: this
is the most a Python process on aiokafka can consume, so the sidecar's ratio to it says how
much of the budget the pipeline takes.

Timing starts when the first batch arrives (its records are not counted) and ends when all
``N`` records have been fetched.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from benchmarks.measure import Measurement, max_rss_bytes, self_timer, write_result

MAX_PARTITION_FETCH_BYTES = 4 * 1024 * 1024
FETCH_MAX_BYTES = 32 * 1024 * 1024
MAX_RECORDS = 20_000


async def consume(bootstrap: str, topics: list[str], partitions: int, expect: int,
                  timeout_s: float) -> Measurement:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
        isolation_level="read_committed", auto_offset_reset="earliest",
        max_partition_fetch_bytes=MAX_PARTITION_FETCH_BYTES, fetch_max_bytes=FETCH_MAX_BYTES)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout_s
        seen = 0
        counted = 0
        start = None
        batches = 0
        while seen < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=MAX_RECORDS)
            n = 0
            for records in batch.values():
                n += len(records)
            if not n:
                continue
            seen += n
            batches += 1
            if start is None:
                start = self_timer()
            else:
                counted += n
        end = self_timer()
        if start is None:
            start = end
        return Measurement(counted, end[1] - start[1], end[0] - start[0], max_rss_bytes(),
                           extra={"fetched": seen, "batches": batches,
                                  "complete": seen >= expect})
    finally:
        await consumer.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ceiling")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topics", required=True, help="comma-separated raw topics")
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--expect", type=int, required=True, help="records to fetch")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--result", required=True)
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    m = asyncio.run(consume(args.bootstrap, args.topics.split(","), args.partitions,
                                  args.expect, args.timeout))
    m.total_wall_s = time.monotonic() - t0
    m.total_cpu_s = time.process_time()
    write_result(args.result, m)
    return 0 if m.extra.get("complete") else 1


if __name__ == "__main__":
    sys.exit(main())

"""The raw consumer's ``(offset, value)`` pairs (deidentify/sidecar/kafka.py): the same
records, offsets and position as aiokafka's own records, on a real broker, across committed
and aborted transactions and plain writes (read_committed: control batches and aborted
batches are skipped by aiokafka exactly as before)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from deidentify.sidecar import kafka
from tests.kafka_helpers import consume_n, create_topic_async

pytestmark = pytest.mark.kafka


async def _write(bootstrap: str, topic: str) -> list[bytes]:
    """Committed, aborted and plain records; returns the values a read_committed reader
    must see, in order."""
    txn = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"{topic}-txn")
    plain = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await txn.start()
    await plain.start()
    visible: list[bytes] = []
    try:
        for round_ in range(3):
            async with txn.transaction():
                for i in range(40):
                    await txn.send(topic, b"committed-%d-%d" % (round_, i), partition=0)
                    visible.append(b"committed-%d-%d" % (round_, i))
            for i in range(10):
                await (await plain.send(topic, b"plain-%d-%d" % (round_, i), partition=0))
                visible.append(b"plain-%d-%d" % (round_, i))
            await txn.begin_transaction()           # last: the log ends with an abort marker
            for i in range(25):
                await txn.send(topic, b"aborted-%d-%d" % (round_, i), partition=0)
            await txn.abort_transaction()
    finally:
        await txn.stop()
        await plain.stop()
    return visible


async def _read(bootstrap: str, topic: str, n: int, *, pairs: bool) -> tuple[list, int]:
    extra = {"value_deserializer": kafka.offset_value_pairs} if pairs else {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                **extra)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        records = await consume_n(consumer, n, timeout_s=60)
        return records, await consumer.position(tp)
    finally:
        await consumer.stop()


def test_pairs_are_the_records_aiokafka_returns(kafka_bootstrap, topic_name):
    assert kafka.install_record_pairs() is True      # aiokafka is pinned to the wrapped release

    async def scenario():
        await create_topic_async(kafka_bootstrap, topic_name)
        visible = await _write(kafka_bootstrap, topic_name)
        stock, stock_position = await _read(kafka_bootstrap, topic_name, len(visible),
                                            pairs=False)
        pairs, pairs_position = await _read(kafka_bootstrap, topic_name, len(visible),
                                            pairs=True)
        return visible, stock, stock_position, pairs, pairs_position

    visible, stock, stock_position, pairs, pairs_position = asyncio.run(scenario())
    assert all(type(r) is ConsumerRecord for r in stock)
    assert all(type(r) is tuple for r in pairs)
    assert [r.value for r in stock] == visible                    # aborted ones skipped
    assert pairs == [(r.offset, r.value) for r in stock]
    assert pairs_position == stock_position > pairs[-1][0] + 1    # past the last markers
    # both forms read the same through the one helper the batch loops use
    (got_stock, after_stock), (got_pairs, after_pairs) = (
        kafka.offsets_and_values(stock), kafka.offsets_and_values(pairs))
    assert list(got_stock) == list(got_pairs) == pairs
    assert after_stock == after_pairs == pairs[-1][0] + 1


def test_install_is_idempotent_and_leaves_other_consumers_alone():
    from aiokafka.consumer import fetcher

    assert kafka.install_record_pairs() is True
    wrapped = fetcher.PartitionRecords._consumer_record
    assert kafka.install_record_pairs() is True
    assert fetcher.PartitionRecords._consumer_record is wrapped       # not wrapped twice
    assert kafka.offset_value_pairs(b"x") == b"x"                     # identity without it

"""The local broker is a real Apache Kafka: the features the sidecar and the central
collector rely on, exercised with aiokafka 0.14 (the project's pinned client).

Idempotent produce, transactions with consumer offsets (commit and abort, seen through
read_committed and read_uncommitted consumers), consumer groups splitting partitions,
compacted topics through the admin API, and the SASL_SSL listener (SCRAM, PLAIN, TLS).
Every wait is bounded; values are synthetic (``m-<n>``), never event data.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    AuthenticationFailedError,
    KafkaConnectionError,
    SaslAuthenticationFailed,
)

from tests.kafka_helpers import (
    SaslSslEndpoint,
    committed_offsets,
    consume_n,
    create_topic,
    create_topic_async,
    describe_topic_config,
    drain,
)

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(120)]

TIMEOUT_S = 30.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def values(prefix: str, n: int) -> list[bytes]:
    return [f"{prefix}-{i}".encode() for i in range(n)]


def run(coro):
    """Run one test coroutine with an overall bound, so no test can hang the suite."""
    return asyncio.run(asyncio.wait_for(coro, timeout=90))


async def eventually(read, expected, timeout_s: float = TIMEOUT_S) -> bool:
    """Poll the coroutine function ``read`` until it returns ``expected`` (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        if await read() == expected:
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.1)


def reader(bootstrap: str, **kwargs) -> AIOKafkaConsumer:
    """A consumer without a group that reads from the beginning."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=int(TIMEOUT_S * 1000),
        **kwargs,
    )


# --- idempotent producer -----------------------------------------------------------------


def test_idempotent_producer_records_read_back_exactly_once_in_order(kafka_bootstrap, topic_name):
    create_topic(kafka_bootstrap, topic_name, partitions=1)
    sent = values("m", 200)

    async def scenario() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all"
        )
        await producer.start()
        try:
            pending = [await producer.send(topic_name, value) for value in sent]
            metadata = await asyncio.gather(*pending)
        finally:
            await producer.stop()
        assert [m.offset for m in metadata] == list(range(len(sent)))

        consumer = reader(kafka_bootstrap)
        await consumer.start()
        try:
            consumer.assign([TopicPartition(topic_name, 0)])
            records = await consume_n(consumer, len(sent), TIMEOUT_S)
            extra = await drain(consumer, idle_s=1.0)
        finally:
            await consumer.stop()
        assert [r.value for r in records] == sent
        assert [r.offset for r in records] == list(range(len(sent)))
        assert extra == [], f"{len(extra)} duplicate records after the expected ones"

    run(scenario())


# --- transactions ------------------------------------------------------------------------


def test_transaction_commits_output_and_consumer_offsets_together(kafka_bootstrap, topic_name):
    source, sink = f"{topic_name}-in", f"{topic_name}-out"
    create_topic(kafka_bootstrap, source, partitions=1)
    create_topic(kafka_bootstrap, sink, partitions=1)
    group_id = unique("g-txn")
    inputs = values("in", 10)
    source_tp = TopicPartition(source, 0)

    async def scenario() -> None:
        plain = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await plain.start()
        try:
            for value in inputs:
                await plain.send_and_wait(source, value)
        finally:
            await plain.stop()

        consumer = AIOKafkaConsumer(
            source,
            bootstrap_servers=kafka_bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, transactional_id=unique("tx-commit")
        )
        await consumer.start()
        await producer.start()
        try:
            records = await consume_n(consumer, len(inputs), TIMEOUT_S)
            assert await consumer.committed(source_tp) is None  # nothing committed yet

            await producer.begin_transaction()
            for record in records:
                await producer.send(sink, record.value.replace(b"in-", b"out-"))
            next_offset = records[-1].offset + 1
            await producer.send_offsets_to_transaction({source_tp: next_offset}, group_id)
            await producer.commit_transaction()

            # the group's offset is committed by the transaction, not by the consumer; the
            # commit markers land asynchronously, so the offset shows up shortly after
            assert await eventually(lambda: consumer.committed(source_tp), len(inputs))
        finally:
            await producer.stop()
            await consumer.stop()

        # and any other client of the group sees it too
        assert await committed_offsets(kafka_bootstrap, group_id) == {source_tp: len(inputs)}

        out = reader(kafka_bootstrap, isolation_level="read_committed")
        await out.start()
        try:
            out.assign([TopicPartition(sink, 0)])
            published = await consume_n(out, len(inputs), TIMEOUT_S)
        finally:
            await out.stop()
        assert [r.value for r in published] == values("out", len(inputs))

    run(scenario())


def test_aborted_transaction_is_invisible_to_read_committed_consumers(kafka_bootstrap, topic_name):
    create_topic(kafka_bootstrap, topic_name, partitions=1)
    aborted, committed = values("aborted", 5), values("committed", 3)
    tp = TopicPartition(topic_name, 0)

    async def scenario() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, transactional_id=unique("tx-abort")
        )
        await producer.start()
        try:
            await producer.begin_transaction()
            for value in aborted:
                await producer.send_and_wait(topic_name, value)
            await producer.abort_transaction()

            async with producer.transaction():
                for value in committed:
                    await producer.send(topic_name, value)
        finally:
            await producer.stop()

        read_committed = reader(kafka_bootstrap, isolation_level="read_committed")
        read_uncommitted = reader(kafka_bootstrap, isolation_level="read_uncommitted")
        await read_committed.start()
        await read_uncommitted.start()
        try:
            read_committed.assign([tp])
            read_uncommitted.assign([tp])
            seen_committed = await consume_n(read_committed, len(committed), TIMEOUT_S)
            seen_committed += await drain(read_committed, idle_s=1.5)
            seen_all = await consume_n(read_uncommitted, len(aborted) + len(committed), TIMEOUT_S)
            seen_all += await drain(read_uncommitted, idle_s=1.0)
        finally:
            await read_committed.stop()
            await read_uncommitted.stop()

        assert [r.value for r in seen_committed] == committed
        # the aborted records are in the log: a read_uncommitted consumer gets them
        assert [r.value for r in seen_all] == aborted + committed

    run(scenario())


# --- consumer groups ---------------------------------------------------------------------


def test_group_members_split_the_partitions_of_a_topic(kafka_bootstrap, topic_name):
    partitions = 4
    create_topic(kafka_bootstrap, topic_name, partitions=partitions)
    group_id = unique("g-split")
    everything = {TopicPartition(topic_name, p) for p in range(partitions)}

    def member() -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            topic_name,
            bootstrap_servers=kafka_bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            heartbeat_interval_ms=300,
            session_timeout_ms=10_000,
        )

    async def settled(a: AIOKafkaConsumer, b: AIOKafkaConsumer) -> tuple[set, set]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT_S
        while loop.time() < deadline:
            await asyncio.gather(a.getmany(timeout_ms=200), b.getmany(timeout_ms=200))
            first, second = set(a.assignment()), set(b.assignment())
            if first and second and first | second == everything and not first & second:
                return first, second
        raise TimeoutError(
            f"no split of {partitions} partitions between two members in {TIMEOUT_S}s "
            f"(last: {len(a.assignment())} + {len(b.assignment())})"
        )

    async def scenario() -> None:
        a, b = member(), member()
        await a.start()
        await b.start()
        try:
            first, second = await settled(a, b)
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
            await producer.start()
            try:
                for p in range(partitions):
                    await producer.send_and_wait(topic_name, f"p{p}".encode(), partition=p)
            finally:
                await producer.stop()

            got_a, got_b = await asyncio.gather(
                consume_n(a, len(first), TIMEOUT_S), consume_n(b, len(second), TIMEOUT_S)
            )
        finally:
            await a.stop()
            await b.stop()

        assert first.isdisjoint(second)
        assert first | second == everything
        assert {TopicPartition(r.topic, r.partition) for r in got_a} == first
        assert {TopicPartition(r.topic, r.partition) for r in got_b} == second

    run(scenario())


# --- admin: compacted topics -------------------------------------------------------------


def test_compacted_topic_is_created_with_its_cleanup_policy(kafka_bootstrap, topic_name):
    compacted, plain = f"{topic_name}-compact", f"{topic_name}-delete"

    async def scenario() -> None:
        await create_topic_async(
            kafka_bootstrap,
            compacted,
            partitions=2,
            config={"cleanup.policy": "compact", "min.compaction.lag.ms": "1000"},
        )
        await create_topic_async(kafka_bootstrap, plain, partitions=1)
        compacted_config = await describe_topic_config(kafka_bootstrap, compacted)
        plain_config = await describe_topic_config(kafka_bootstrap, plain)

        assert compacted_config["cleanup.policy"] == "compact"
        assert compacted_config["min.compaction.lag.ms"] == "1000"
        assert plain_config["cleanup.policy"] == "delete"

    run(scenario())


# --- SASL_SSL listener -------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"])
def test_sasl_ssl_listener_round_trip(sasl_ssl_endpoint: SaslSslEndpoint, topic_name, mechanism):
    assert mechanism in sasl_ssl_endpoint.mechanisms
    sent = values("sasl", 5)

    async def scenario() -> None:
        # the topic is created over SASL_SSL too: the admin API works on this listener
        await create_topic_async(
            sasl_ssl_endpoint.bootstrap,
            topic_name,
            partitions=1,
            **_without_bootstrap(sasl_ssl_endpoint.client_kwargs(mechanism)),
        )
        producer = AIOKafkaProducer(
            enable_idempotence=True, **sasl_ssl_endpoint.client_kwargs(mechanism)
        )
        await producer.start()
        try:
            for value in sent:
                await producer.send_and_wait(topic_name, value)
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **sasl_ssl_endpoint.client_kwargs(mechanism),
        )
        await consumer.start()
        try:
            consumer.assign([TopicPartition(topic_name, 0)])
            records = await consume_n(consumer, len(sent), TIMEOUT_S)
        finally:
            await consumer.stop()
        assert [r.value for r in records] == sent

    run(scenario())


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "PLAIN"])
def test_sasl_ssl_listener_rejects_a_wrong_password(
    sasl_ssl_endpoint: SaslSslEndpoint, mechanism, caplog
):
    async def scenario() -> None:
        producer = AIOKafkaProducer(
            request_timeout_ms=10_000,
            **sasl_ssl_endpoint.client_kwargs(mechanism, password="not-the-password"),
        )
        try:
            with pytest.raises(KafkaConnectionError):
                await asyncio.wait_for(producer.start(), TIMEOUT_S)
        finally:
            await producer.stop()

    with caplog.at_level(logging.ERROR, logger="aiokafka"):
        run(scenario())
    causes = [arg for r in caplog.records for arg in (r.args or ()) if isinstance(arg, Exception)]
    assert any(
        isinstance(c, (SaslAuthenticationFailed, AuthenticationFailedError)) for c in causes
    ), (
        f"the connection failed, but not because of authentication: {[type(c).__name__ for c in causes]}"
    )


def test_sasl_ssl_listener_is_tls_with_the_local_ca(sasl_ssl_endpoint: SaslSslEndpoint, caplog):
    """A client that does not trust the local CA cannot connect: the listener really is TLS."""
    untrusting = ssl.create_default_context()  # system CAs only

    async def scenario() -> None:
        kwargs = sasl_ssl_endpoint.client_kwargs("SCRAM-SHA-256")
        kwargs["ssl_context"] = untrusting
        producer = AIOKafkaProducer(request_timeout_ms=10_000, **kwargs)
        try:
            with pytest.raises(KafkaConnectionError):
                await asyncio.wait_for(producer.start(), TIMEOUT_S)
        finally:
            await producer.stop()

    with caplog.at_level(logging.ERROR, logger="aiokafka"):
        run(scenario())
    causes = [arg for r in caplog.records for arg in (r.args or ()) if isinstance(arg, Exception)]
    assert any(isinstance(c, ssl.SSLCertVerificationError) for c in causes), (
        f"expected a certificate verification failure, got {[type(c).__name__ for c in causes]}"
    )


def _without_bootstrap(kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if k != "bootstrap_servers"}

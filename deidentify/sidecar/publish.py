"""How a session delivers closed windows and offsets: one interface, two strategies.

:class:`Publisher` ``publish(aggregates, commit, txn_number)`` sends every aggregate
(key = ``agg.key``, value = ``agg.to_json()``) to the central topic and commits ``commit``
(partition -> ``OffsetAndMetadata`` with the ``closed_through`` marks) for the group. It
returns once both are durable, or raises a :class:`~deidentify.errors.DeidentifyError`
(the session is then thrown away and replays from the last commit):

* :class:`TransactionalPublisher` (the default, exactly-once): one Kafka transaction holds
  the aggregates and the offsets, so a crash at any point leaves either both or neither.
* :class:`AtLeastOncePublisher` (``--at-least-once``, a benchmark baseline): publish, wait
  for every acknowledgement, then commit the offsets. A crash between the two republishes
  the windows after the replay; the central collector deduplicates them by key.

Both give up after ``transaction_timeout_ms`` (:class:`~deidentify.errors.BrokerUnavailable`)
and hit the ``after_send`` / ``before_commit`` failpoints of transactions that publish. They
log nothing; errors name the operation and the Kafka error class, never a payload.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from deidentify.errors import BrokerUnavailable
from deidentify.sidecar import kafka
from deidentify.sidecar.failpoints import Failpoint

if TYPE_CHECKING:
    from collections.abc import Sequence

    from deidentify.contract import Aggregate
    from deidentify.sidecar.settings import SidecarSettings


class Publisher:
    """Delivers one commit's aggregates and offsets; subclasses choose the guarantee."""

    def __init__(self, producer, topic: str, group_id: str, timeout_ms: int,
                 failpoint: Failpoint) -> None:
        self.producer = producer
        self.topic = topic
        self.group_id = group_id
        self.timeout_ms = timeout_ms
        self.failpoint = failpoint

    async def publish(self, aggregates: Sequence[Aggregate], commit: dict,
                      txn_number: int) -> None:
        sent: list[asyncio.Future] = []
        try:
            async with asyncio.timeout(self.timeout_ms / 1000):
                await self._deliver(aggregates, commit, txn_number, sent)
        except TimeoutError:
            raise BrokerUnavailable("transaction: not committed within "
                                    f"{self.timeout_ms} ms") from None
        finally:
            # delivery errors surface through the commit; the per-record futures are only
            # collected, so a failed delivery logs no "never retrieved" noise
            for fut in sent:
                fut.add_done_callback(_collect)

    async def _send_all(self, aggregates: Sequence[Aggregate],
                        sent: list[asyncio.Future]) -> None:
        send, topic = self.producer.send, self.topic
        for agg in aggregates:
            sent.append(await send(topic, agg.to_json(), key=agg.key))

    async def _deliver(self, aggregates: Sequence[Aggregate], commit: dict, txn_number: int,
                       sent: list[asyncio.Future]) -> None:
        raise NotImplementedError


class TransactionalPublisher(Publisher):
    """Exactly-once: aggregates and offsets in one transaction."""

    async def _deliver(self, aggregates, commit, txn_number, sent) -> None:
        producer = self.producer
        with kafka.translated("transaction"):
            await producer.begin_transaction()
            await self._send_all(aggregates, sent)
            if aggregates:
                await self.failpoint.reached("after_send", txn_number)
            if commit:
                await producer.send_offsets_to_transaction(commit, self.group_id)
            if aggregates:
                await self.failpoint.reached("before_commit", txn_number)
            await producer.commit_transaction()


class AtLeastOncePublisher(Publisher):
    """At-least-once: publish, wait for every acknowledgement, then commit the offsets."""

    def __init__(self, producer, consumer, topic: str, group_id: str, timeout_ms: int,
                 failpoint: Failpoint) -> None:
        super().__init__(producer, topic, group_id, timeout_ms, failpoint)
        self.consumer = consumer

    async def _deliver(self, aggregates, commit, txn_number, sent) -> None:
        with kafka.translated("publish"):
            await self._send_all(aggregates, sent)
            if aggregates:
                await self.failpoint.reached("after_send", txn_number)
            for fut in sent:
                await fut
            if aggregates:
                await self.failpoint.reached("before_commit", txn_number)
        if commit:
            with kafka.translated("commit offsets"):
                await self.consumer.commit(commit)


def make_publisher(settings: SidecarSettings, producer, consumer,
                   failpoint: Failpoint) -> Publisher:
    """The strategy ``settings`` ask for (``exactly_once`` unless ``--at-least-once``)."""
    if settings.exactly_once:
        return TransactionalPublisher(producer, settings.publish_topic, settings.group_id,
                                      settings.transaction_timeout_ms, failpoint)
    return AtLeastOncePublisher(producer, consumer, settings.publish_topic, settings.group_id,
                                settings.transaction_timeout_ms, failpoint)


def _collect(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()


__all__ = ["AtLeastOncePublisher", "Publisher", "TransactionalPublisher", "make_publisher"]

"""Kafka clients for the sidecar.

* :func:`client_options` — bootstrap, TLS (``ssl_context`` from ``--ssl-cafile``) and SASL
  (PLAIN, SCRAM-SHA-256/512) options shared by every client.
* :func:`make_consumer` — no deserializer (``msg.value`` bytes go straight to the pipeline),
  ``enable_auto_commit=False``, ``isolation_level="read_committed"``, the per-region group
  and a static member id (``group_instance_id``, KIP-345, supported by aiokafka 0.14).
  With ``pairs=True`` (the raw topics' consumer) its records are ``(offset, value)`` tuples
  instead of aiokafka's ``ConsumerRecord`` objects: see :func:`install_record_pairs`;
  :func:`offsets_and_values` reads either form.
* :func:`make_producer` — transactional (``transactional_id``), hence idempotent, acks=all.
* :func:`preflight` — one connection to a bootstrap server before any client starts.
  aiokafka clients turn a refused SASL login into a bare "Unable to bootstrap" connection
  error; the preflight sees the broker's own answer, so a wrong password becomes
  :class:`~deidentify.errors.AuthenticationFailed` instead of an endless retry.
* :func:`fetch_progress` — a partition's position, end offset (last stable offset: the
  consumer reads committed data) and the wall time of the fetch response that reported it:
  the evidence the watermark's idle rule needs (see ``deidentify/window.py``).
* errors: every aiokafka exception leaves through :mod:`deidentify.runtime.kafka_errors`
  (``translate``, ``translated``), the one translation the services and the generator share.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from operator import attrgetter
from typing import NamedTuple

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import errors as kerr
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.helpers import create_ssl_context

from deidentify import __version__
from deidentify.errors import AuthenticationFailed, DeidentifyError, RuntimeFailure
from deidentify.runtime.kafka_errors import KAFKA_ERRORS, translate, translated
from deidentify.sidecar.settings import SidecarSettings

# Topics the sidecar creates when they are missing (a real cluster usually has them already).
RAW_TOPIC_PARTITIONS = 3
CENTRAL_TOPIC_PARTITIONS = 3
CENTRAL_TOPIC_CONFIG = {"cleanup.policy": "delete", "retention.ms": str(7 * 24 * 3600 * 1000),
                        "compression.type": "producer"}
MAX_REPLICATION_FACTOR = 3

REQUEST_TIMEOUT_MS = 15_000
SESSION_TIMEOUT_MS = 20_000
HEARTBEAT_INTERVAL_MS = 3_000
TRANSACTION_TIMEOUT_MS = 60_000          # broker aborts a transaction left open this long
PREFLIGHT_TIMEOUT_S = 10.0


def client_options(settings: SidecarSettings) -> dict:
    sec = settings.security
    options: dict = {
        "bootstrap_servers": settings.bootstrap,
        "client_id": f"deidentify-{__version__}-{settings.region}",
        "request_timeout_ms": REQUEST_TIMEOUT_MS,
        "security_protocol": sec.protocol,
    }
    if sec.uses_tls:
        options["ssl_context"] = ssl_context(settings)
    if sec.uses_sasl:
        options["sasl_mechanism"] = sec.sasl_mechanism
        options["sasl_plain_username"] = sec.sasl_username
        options["sasl_plain_password"] = sec.sasl_password.reveal() if sec.sasl_password else None
    return options


def ssl_context(settings: SidecarSettings) -> ssl.SSLContext:
    sec = settings.security
    try:
        return create_ssl_context(cafile=sec.ssl_cafile, certfile=sec.ssl_certfile,
                                  keyfile=sec.ssl_keyfile)
    except (OSError, ssl.SSLError) as exc:
        files = ", ".join(f for f in (sec.ssl_cafile, sec.ssl_certfile, sec.ssl_keyfile) if f)
        raise RuntimeFailure(f"cannot load the TLS files {files or '(system CAs)'} "
                             f"({type(exc).__name__})") from exc


def offset_value_pairs(value: bytes | None) -> bytes | None:
    """The value "deserializer" of a consumer that wants ``(offset, value)`` pairs: the
    identity (without :func:`install_record_pairs`, such a consumer returns aiokafka's own
    records with the raw bytes, and :func:`offsets_and_values` reads those too)."""
    return value


_RECORD_PAIRS_FOR = "0.14.0"          # the aiokafka release whose record builder is wrapped


def install_record_pairs() -> bool:
    """Let a consumer whose value deserializer is :func:`offset_value_pairs` return each
    record as an ``(offset, value)`` tuple; every other consumer is unchanged. Idempotent;
    returns whether it is in effect.

    aiokafka builds a ``ConsumerRecord`` (a dataclass of 11 fields, plus both sizes) for every
    message, about 0.9 µs of CPU each here; the sidecar reads two of those fields. What
    aiokafka does with a fetch is untouched: which batches and records it returns (CRC checks,
    aborted transactions and control batches under ``read_committed``, compaction gaps) and
    the position it advances (``next_fetch_offset``, never the record objects); only the
    object built for a record it returns differs. Wraps ``PartitionRecords._consumer_record``
    of exactly aiokafka :data:`_RECORD_PAIRS_FOR` (the version pyproject.toml pins); with any
    other version it does nothing and returns False."""
    import aiokafka
    from aiokafka.consumer import fetcher

    records = fetcher.PartitionRecords
    build = records.__dict__.get("_consumer_record")
    if getattr(build, "deidentify_pairs", False):
        return True
    if aiokafka.__version__ != _RECORD_PAIRS_FOR or build is None:
        return False

    def consumer_record(self, tp, record):
        if self._value_deserializer is offset_value_pairs:
            return (record.offset, record.value)
        return build(self, tp, record)

    consumer_record.deidentify_pairs = True          # type: ignore[attr-defined]
    records._consumer_record = consumer_record
    return True


_OFFSET_VALUE = attrgetter("offset", "value")     # an aiokafka ConsumerRecord's pair


def offsets_and_values(msgs: list) -> tuple[Iterable[tuple[int, bytes | None]], int]:
    """A non-empty batch of one partition as ``(offset, value)`` pairs, and the offset after
    its last record; for pairs (:func:`install_record_pairs`) or aiokafka's records alike."""
    last = msgs[-1]
    if type(last) is tuple:
        return msgs, last[0] + 1
    return map(_OFFSET_VALUE, msgs), last.offset + 1


def make_consumer(settings: SidecarSettings, *, group_id: str | None = None,
                  static: bool = True, pairs: bool = False) -> AIOKafkaConsumer:
    """The group's consumer; ``static=False`` for a member of a group of several processes
    (``--stages split``: a static member id shared by two processes would fence one);
    ``pairs``: records as ``(offset, value)`` tuples (:func:`install_record_pairs`)."""
    extra: dict = {}
    if pairs:
        install_record_pairs()
        extra["value_deserializer"] = offset_value_pairs
    return AIOKafkaConsumer(
        **client_options(settings), **extra,
        group_id=group_id or settings.group_id,
        group_instance_id=settings.instance_id if static else None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
    )


class FetchProgress(NamedTuple):
    position: int          # next offset the consumer returns (past control records too)
    end: int               # last stable offset (read_committed), else the high watermark
    fetched_at_ms: int     # wall time of the fetch response that reported ``end``


def fetch_progress(consumer: AIOKafkaConsumer, tp) -> FetchProgress | None:
    """What the last successful fetch response said about ``tp``; ``None`` if unknown.

    aiokafka keeps the high watermark, last stable offset and the response's wall time per
    partition (public: ``highwater``, ``last_stable_offset``, ``last_poll_timestamp``) and
    the position in the same state object; ``position()`` is a coroutine that waits when
    the position is unknown, so the state is read directly (aiokafka is pinned exactly).
    A response that reported an error leaves all three untouched, so they only go stale.
    """
    try:
        state = consumer._subscription.subscription.assignment.state_value(tp)
    except (AttributeError, KeyError, AssertionError):
        return None
    if state is None or not state.has_valid_position or state.timestamp is None:
        return None
    end = state.lso if state.lso is not None and state.lso >= 0 else state.highwater
    if end is None:
        return None
    return FetchProgress(state.position, end, state.timestamp)


def make_producer(settings: SidecarSettings,
                  transactional_id: str | None = None) -> AIOKafkaProducer:
    """The transactional producer (``transactional_id``: a task's own, ``--stages split``)."""
    if transactional_id is None and settings.exactly_once:
        transactional_id = settings.transactional_id
    return AIOKafkaProducer(
        **client_options(settings),
        # at-least-once (a benchmark baseline) keeps the idempotent producer, no transactions
        transactional_id=transactional_id,
        transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        compression_type=None,
        max_request_size=4 * 1024 * 1024,
    )


def make_admin(settings: SidecarSettings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**client_options(settings))


# --------------------------------------------------------------------------- start-up checks


async def preflight(settings: SidecarSettings) -> None:
    """Connect to one bootstrap server (TLS + SASL as configured) and disconnect.

    Raises :class:`AuthenticationFailed` for refused credentials or an untrusted certificate,
    :class:`BrokerUnavailable` when no bootstrap server answers.
    """
    options = client_options(settings)
    last: DeidentifyError | None = None
    for server in settings.bootstrap.split(","):
        host, _, port = server.rpartition(":")
        try:
            conn = await asyncio.wait_for(create_conn(
                host.strip("[]"), int(port), client_id=options["client_id"],
                request_timeout_ms=REQUEST_TIMEOUT_MS,
                ssl_context=options.get("ssl_context"),
                security_protocol=options["security_protocol"],
                sasl_mechanism=options.get("sasl_mechanism", "PLAIN"),
                sasl_plain_username=options.get("sasl_plain_username"),
                sasl_plain_password=options.get("sasl_plain_password")),
                timeout=PREFLIGHT_TIMEOUT_S)
        except KAFKA_ERRORS as exc:
            err = translate(exc, f"connect to {server}")
            if isinstance(err, AuthenticationFailed):
                raise err from exc
            last = err
            continue
        conn.close()
        return
    assert last is not None
    raise last


async def ensure_topics(admin: AIOKafkaAdminClient, settings: SidecarSettings,
                        raw_topics: list[str]) -> list[str]:
    """Create the central topic and raw topics that do not exist yet. Returns those created."""
    with translated("list topics"):
        existing = set(await admin.list_topics())
        cluster = await admin.describe_cluster()
    brokers = len(cluster.get("brokers", ())) or 1
    replication = min(MAX_REPLICATION_FACTOR, brokers)
    new: list[NewTopic] = []
    if settings.publish_topic not in existing:
        new.append(NewTopic(settings.publish_topic, CENTRAL_TOPIC_PARTITIONS, replication,
                            topic_configs=dict(CENTRAL_TOPIC_CONFIG)))
    for topic in raw_topics:
        if topic not in existing:
            new.append(NewTopic(topic, RAW_TOPIC_PARTITIONS, replication))
    if not new:
        return []
    with translated("create topics"):
        response = await admin.create_topics(new)
    created = []
    for topic_error in getattr(response, "topic_errors", ()):
        topic, code = topic_error[0], topic_error[1]
        error = kerr.for_code(code) if code else None
        if error is None or error is kerr.TopicAlreadyExistsError:
            created.append(topic)
            continue
        raise translate(error(), f"create topic {topic}")
    return created


class RebalanceListener(ConsumerRebalanceListener):
    """Hands aiokafka's rebalance callbacks to the batch loop."""

    def __init__(self, on_revoked, on_assigned) -> None:
        self._on_revoked = on_revoked
        self._on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked) -> None:
        await self._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned) -> None:
        await self._on_assigned(set(assigned))

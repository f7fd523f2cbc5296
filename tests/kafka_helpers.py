"""Helpers for tests that run against the real local Kafka broker (scripts/kafka.sh).

Tests get the broker through the session fixture ``kafka_bootstrap`` (tests/conftest.py) and
use these helpers from plain test functions, wrapping coroutines in ``asyncio.run``:

    def test_roundtrip(kafka_bootstrap, topic_name):
        create_topic(kafka_bootstrap, topic_name, partitions=4)
        asyncio.run(...)

Every wait is bounded: helpers take ``timeout_s`` and raise ``TimeoutError`` with what they
were waiting for (never a record value).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import ssl
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code
from aiokafka.helpers import create_ssl_context

from deidentify.demo import broker_answers as demo_broker_answers

ROOT = Path(__file__).resolve().parents[1]
KAFKA_SH = ROOT / "scripts" / "kafka.sh"
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
# generous: the first start downloads the broker jars with Maven
BROKER_START_TIMEOUT_S = 600.0
DEFAULT_TIMEOUT_S = 30.0

log = logging.getLogger(__name__)


def bootstrap_from_env() -> str:
    """The PLAINTEXT bootstrap address: ``KAFKA_BOOTSTRAP`` or 127.0.0.1:9092."""
    return os.environ.get("KAFKA_BOOTSTRAP", "").strip() or DEFAULT_BOOTSTRAP


def state_dir() -> Path:
    """Where scripts/kafka.sh keeps its state (``KAFKA_STATE_DIR`` or .kafka/)."""
    return Path(os.environ.get("KAFKA_STATE_DIR", "") or ROOT / ".kafka")


# --- the broker's lifetime -----------------------------------------------------------------


async def broker_answers_async(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """True when a metadata request to ``bootstrap`` lists at least one broker."""
    return await demo_broker_answers(bootstrap, timeout_s)


def broker_answers(bootstrap: str, timeout_s: float = 5.0) -> bool:
    return asyncio.run(broker_answers_async(bootstrap, timeout_s))


class BrokerUnavailable(RuntimeError):
    """scripts/kafka.sh could not start a broker (its message ends with the log tail)."""


@dataclass
class BrokerLease:
    """A hold on the local broker for this process: started if nothing answers, stopped on
    release only if this lease's ``acquire`` started it and nobody else still holds one
    (see ``scripts/kafka.sh acquire``). Works for a broker someone else runs, too: then
    release leaves it alone."""

    bootstrap: str
    holder_pid: int

    @classmethod
    def acquire(cls, bootstrap: str, timeout_s: float = BROKER_START_TIMEOUT_S) -> BrokerLease:
        lease = cls(bootstrap=bootstrap, holder_pid=os.getpid())
        result = lease._run("acquire", timeout_s)
        if result.returncode != 0:
            raise BrokerUnavailable(
                f"scripts/kafka.sh acquire failed (exit {result.returncode}) for {bootstrap}:\n"
                f"{result.stdout}{result.stderr}"
            )
        return lease

    def release(self, timeout_s: float = 120.0) -> None:
        result = self._run("release", timeout_s)
        if result.returncode != 0:
            log.warning("scripts/kafka.sh release failed: %s", result.stderr.strip())

    def _run(self, command: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, KAFKA_BOOTSTRAP=self.bootstrap)
        return subprocess.run(
            [str(KAFKA_SH), command, str(self.holder_pid)],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )


# --- topics ------------------------------------------------------------------------------


async def list_topics_async(bootstrap: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> set[str]:
    """Every topic name the broker has (internal ``__`` topics included)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap,
                                request_timeout_ms=int(timeout_s * 1000))
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        return set(await asyncio.wait_for(admin.list_topics(), timeout_s))
    finally:
        await admin.close()


async def delete_topics_async(bootstrap: str, names: list[str],
                              timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Delete ``names`` (in chunks); a topic that is already gone is not an error."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap,
                                request_timeout_ms=int(timeout_s * 1000))
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        for i in range(0, len(names), 50):
            await asyncio.wait_for(
                admin.delete_topics(names[i:i + 50], timeout_ms=int(timeout_s * 1000)),
                timeout_s)
    finally:
        await admin.close()


def _ancestors(pid: int) -> set[int]:
    """``pid`` and its parents (from /proc), to tell our own leases from other runs'."""
    out: set[int] = set()
    while pid > 1 and pid not in out:
        out.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def other_test_runs_hold_the_broker() -> bool:
    """True when a live lease on the broker belongs to a process that is not this test run
    or one of its parents (``make test`` holds one through scripts/with-kafka.sh)."""
    leases = state_dir() / "leases"
    ours = _ancestors(os.getpid())
    try:
        entries = list(leases.iterdir())
    except OSError:
        return False
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) in ours:
            continue
        try:
            started = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[19]
            if started == entry.read_text().strip():
                return True
        except (OSError, IndexError):
            continue
    return False


class TopicJanitor:
    """Deletes, at the end of a test session, every topic created during it.

    Test topics carry random suffixes, so a topic that did not exist when the session began
    is this session's. When another test run holds the broker at the end (two runs in one
    tree), its topics cannot be told from ours and nothing is deleted."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.before = asyncio.run(list_topics_async(bootstrap))

    def sweep(self) -> list[str]:
        if other_test_runs_hold_the_broker():
            log.warning("another test run holds the broker: its topics are left alone")
            return []
        now = asyncio.run(list_topics_async(self.bootstrap))
        created = sorted(t for t in now - self.before if not t.startswith("__"))
        if created:
            asyncio.run(delete_topics_async(self.bootstrap, created))
            asyncio.run(self._wait_gone(set(created)))
        return created

    async def _wait_gone(self, names: set[str], timeout_s: float = 120.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            left = names & await list_topics_async(self.bootstrap)
            if not left:
                return
            if loop.time() >= deadline:
                raise TimeoutError(f"{len(left)} test topics were not deleted")
            await asyncio.sleep(0.5)



async def create_topic_async(
    bootstrap: str,
    name: str,
    partitions: int = 1,
    config: Mapping[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    **client_kwargs: object,
) -> None:
    """Create ``name`` and wait until every partition has a leader. Raises on any error,
    including an existing topic (names from the ``topic_name`` fixture are unique)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000), **client_kwargs
    )
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        new_topic = NewTopic(
            name=name,
            num_partitions=partitions,
            replication_factor=1,
            topic_configs=dict(config or {}),
        )
        response = await asyncio.wait_for(
            admin.create_topics([new_topic], timeout_ms=int(timeout_s * 1000)), timeout_s
        )
        for error in response.to_object()["topic_errors"]:
            if error["error_code"]:
                raise for_code(error["error_code"])(
                    f"creating topic {error['topic']}: {error.get('error_message')}"
                )
        await _wait_for_leaders(admin, name, partitions, timeout_s)
    finally:
        await admin.close()


def create_topic(
    bootstrap: str,
    name: str,
    partitions: int = 1,
    config: Mapping[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> None:
    """``create_topic_async`` for plain (non-async) test code."""
    asyncio.run(create_topic_async(bootstrap, name, partitions, config, timeout_s))


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, name: str, partitions: int, timeout_s: float
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        (topic,) = await admin.describe_topics([name])
        ready = [p for p in topic["partitions"] if p["leader"] >= 0 and not p["error_code"]]
        if not topic["error_code"] and len(ready) == partitions:
            return
        if loop.time() >= deadline:
            raise TimeoutError(f"topic {name}: {len(ready)}/{partitions} partitions have a leader")
        await asyncio.sleep(0.1)


async def describe_topic_config(
    bootstrap: str, name: str, timeout_s: float = DEFAULT_TIMEOUT_S
) -> dict[str, str]:
    """The topic's effective configuration (defaults included), as the broker reports it."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000)
    )
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        responses = await asyncio.wait_for(
            admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)]), timeout_s
        )
    finally:
        await admin.close()
    configs: dict[str, str] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            if resource["error_code"]:
                raise for_code(resource["error_code"])(
                    f"describing topic {name}: {resource['error_message']}"
                )
            for entry in resource["config_entries"]:
                configs[entry["config_names"]] = entry["config_value"]
    return configs


async def committed_offsets(
    bootstrap: str, group_id: str, timeout_s: float = DEFAULT_TIMEOUT_S
) -> dict[TopicPartition, int]:
    """The group's committed offsets, read through the admin API (not through a member)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000)
    )
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        offsets = await asyncio.wait_for(admin.list_consumer_group_offsets(group_id), timeout_s)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items()}


# --- consuming ---------------------------------------------------------------------------


async def consume_n(
    consumer: AIOKafkaConsumer, n: int, timeout_s: float = DEFAULT_TIMEOUT_S
) -> list[ConsumerRecord]:
    """Read exactly ``n`` records (across partitions) or raise ``TimeoutError``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    records: list[ConsumerRecord] = []
    while len(records) < n:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError(f"read {len(records)} of {n} records in {timeout_s}s")
        batch = await consumer.getmany(timeout_ms=int(min(remaining, 1.0) * 1000))
        for partition_records in batch.values():
            records.extend(partition_records)
    if len(records) > n:
        raise AssertionError(f"expected {n} records, read {len(records)}")
    return records


async def drain(
    consumer: AIOKafkaConsumer, idle_s: float = 2.0, timeout_s: float = DEFAULT_TIMEOUT_S
) -> list[ConsumerRecord]:
    """Read until nothing new arrives for ``idle_s`` (bounded by ``timeout_s``): for tests
    that must show something is *not* there."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    records: list[ConsumerRecord] = []
    idle_since = loop.time()
    while loop.time() - idle_since < idle_s:
        if loop.time() >= deadline:
            raise TimeoutError(f"records kept arriving for {timeout_s}s")
        batch = await consumer.getmany(timeout_ms=200)
        if any(batch.values()):
            idle_since = loop.time()
            for partition_records in batch.values():
                records.extend(partition_records)
    return records


# --- the SASL_SSL listener -----------------------------------------------------------------


@dataclass(frozen=True)
class SaslSslEndpoint:
    """How to reach the broker's SASL_SSL listener (see scripts/kafka.sh, make-certs.sh)."""

    bootstrap: str
    cafile: Path
    username: str
    password: str
    mechanisms: tuple[str, ...]

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies the broker certificate against the local CA, host name included."""
        return create_ssl_context(cafile=str(self.cafile))

    def client_kwargs(self, mechanism: str = "SCRAM-SHA-256", password: str | None = None) -> dict:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        return {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": "SASL_SSL",
            "ssl_context": self.ssl_context(),
            "sasl_mechanism": mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password if password is None else password,
        }


def find_sasl_ssl_endpoint(bootstrap: str) -> SaslSslEndpoint | None:
    """The SASL_SSL listener of the broker that scripts/kafka.sh started for ``bootstrap``,
    or None when that broker is not ours (started elsewhere, so its listeners are unknown)
    or has no SASL_SSL listener (KAFKA_SASL_SSL_PORT=none)."""
    info_path = state_dir() / "broker.json"
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if info.get("bootstrap") != bootstrap.split(",")[0].strip() or "sasl_ssl_bootstrap" not in info:
        return None
    if not _pid_alive(int(info.get("pid", 0))):
        return None
    endpoint = SaslSslEndpoint(
        bootstrap=info["sasl_ssl_bootstrap"],
        cafile=Path(info["cafile"]),
        username=info["sasl_username"],
        password=info["sasl_password"],
        mechanisms=tuple(info.get("sasl_mechanisms", ())),
    )
    if not endpoint.cafile.is_file() or not _tcp_open(endpoint.bootstrap):
        return None
    return endpoint


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tcp_open(address: str, timeout_s: float = 2.0) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except OSError:
        return False

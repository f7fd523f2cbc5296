"""Kafka ACLs bind a region to its topics: the eu sidecar's principal writes only the eu
central topic and reads only eu raw topics.

A dedicated broker (``scripts/kafka.sh`` with ``KAFKA_ACL=1``: KRaft's StandardAuthorizer,
nothing allowed without an ACL; SCRAM users for eu and us made at format time) gets the ACLs
docs/security.md lists, via Kafka's own AclCommand. The real sidecar then runs as
``User:deid-eu`` over SASL_SSL and publishes; a client with the same credentials is refused
the us central topic and the us raw topics.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import errors as kerr

from tests.helpers import free_port
from tests.kafka_helpers import KAFKA_SH
from tests.sidecar.sidecar_support import (
    RAW,
    DedicatedBroker,
    SidecarProcess,
    create_raw_topics,
    make_mix,
    new_topics,
    produce,
    schemas_with,
    wait_for_totals,
)

pytestmark = [pytest.mark.kafka, pytest.mark.dedicated_broker]

PASSWORDS = {"deid-eu": secrets.token_urlsafe(12), "deid-us": secrets.token_urlsafe(12)}


@pytest.fixture
def acl_broker(kafka_bootstrap, tmp_path):
    broker = DedicatedBroker(tmp_path / "kafka")
    broker.sasl = f"127.0.0.1:{free_port()}"
    broker.env.update(KAFKA_SASL_SSL_PORT=broker.sasl.rsplit(":", 1)[1], KAFKA_ACL="1",
                      KAFKA_SCRAM_USERS=" ".join(f"{u}={p}" for u, p in PASSWORDS.items()))
    broker.run("start")
    try:
        yield broker
    finally:
        broker.run("stop")


def acl(broker, *args: str) -> None:
    result = subprocess.run([str(KAFKA_SH), "acl", "--add", *args], env=broker.env,
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def grant_region(broker, user: str, *, central: str, raw_prefix: str, group: str) -> None:
    """What docs/security.md lists for a region's principal."""
    principal = ["--allow-principal", f"User:{user}"]
    acl(broker, *principal, "--operation", "Write", "--operation", "Describe",
        "--topic", central)
    acl(broker, *principal, "--operation", "Read", "--operation", "Describe",
        "--topic", raw_prefix, "--resource-pattern-type", "prefixed")
    acl(broker, *principal, "--operation", "Read", "--group", group)
    acl(broker, *principal, "--operation", "Write", "--operation", "Describe",
        "--transactional-id", f"{group}.txn")
    acl(broker, *principal, "--operation", "IdempotentWrite", "--operation", "Describe",
        "--cluster")


def sasl(broker, user: str) -> dict:
    import ssl
    return {"bootstrap_servers": broker.sasl, "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": user,
            "sasl_plain_password": PASSWORDS[user],
            "ssl_context": ssl.create_default_context(cafile=str(broker.cafile))}


async def write_as(broker, user: str, topic: str) -> None:
    producer = AIOKafkaProducer(**sasl(broker, user), request_timeout_ms=15_000)
    try:
        await producer.start()
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}"), 30)
    finally:
        await producer.stop()


async def read_as(broker, user: str, topic: str, group: str) -> None:
    consumer = AIOKafkaConsumer(topic, **sasl(broker, user), group_id=group,
                                auto_offset_reset="earliest", request_timeout_ms=15_000)
    try:
        await consumer.start()
        await asyncio.wait_for(consumer.getmany(timeout_ms=5000), 30)
    finally:
        await consumer.stop()


def test_a_region_principal_writes_only_its_own_central_topic(acl_broker, tmp_path):
    acl_broker.cafile = tmp_path / "kafka" / "tls" / "ca.pem"
    tag = uuid.uuid4().hex[:6]
    eu, us = new_topics(f"acl-eu-{tag}"), new_topics(f"acl-us-{tag}")
    asyncio.run(create_raw_topics(acl_broker.bootstrap, eu))
    asyncio.run(create_raw_topics(acl_broker.bootstrap, us))
    # one central base for both regions, as in production
    base = f"acl-{tag}.central"
    eu.central_base = us.central_base = base
    eu.central, us.central = f"{base}.eu", f"{base}.us"
    from tests.kafka_helpers import create_topic
    for topic in (eu.central, us.central):
        create_topic(acl_broker.bootstrap, topic, partitions=1)
    grant_region(acl_broker, "deid-eu", central=eu.central, raw_prefix=eu.prefix,
                 group=eu.group)
    acl(acl_broker, "--allow-principal", "User:deid-us", "--operation", "Write",
        "--operation", "Describe", "--topic", us.central)

    # the real eu sidecar, as deid-eu, publishes to its topic
    mix = make_mix(windows=2)
    produce(acl_broker.bootstrap, eu, mix.records + mix.closers())
    password_file = tmp_path / "eu-password"
    password_file.write_text(PASSWORDS["deid-eu"])
    password_file.chmod(0o600)
    sc = SidecarProcess(acl_broker.sasl, eu, tmp_path / "sidecar.log",
                        schemas=schemas_with(tmp_path / "schemas"),
                        extra_args=["--security-protocol", "SASL_SSL",
                                    "--sasl-mechanism", "SCRAM-SHA-512",
                                    "--sasl-username", "deid-eu",
                                    "--sasl-password-file", str(password_file),
                                    "--ssl-cafile", str(acl_broker.cafile)]).start()
    try:
        got, dups = wait_for_totals(acl_broker.bootstrap, eu.central, mix.expected,
                                    timeout_s=120)
        assert not dups and got == mix.expected.as_dict()
        assert sc.sigterm() == 0
    finally:
        sc.ensure_stopped()
    assert PASSWORDS["deid-eu"] not in sc.log_text()

    # the same principal cannot write the us central topic ...
    with pytest.raises(kerr.TopicAuthorizationFailedError):
        asyncio.run(write_as(acl_broker, "deid-eu", us.central))
    # ... nor read us raw topics
    with pytest.raises((kerr.TopicAuthorizationFailedError,
                        kerr.GroupAuthorizationFailedError)):
        asyncio.run(read_as(acl_broker, "deid-eu", us.raw(next(iter(RAW))), eu.group))
    # while the us principal can write its own
    asyncio.run(write_as(acl_broker, "deid-us", us.central))

"""mTLS to Kafka: the sidecar with a client certificate against a broker that requires one.

Runs against a dedicated broker (``scripts/kafka.sh`` with its own state directory and
ports, and ``KAFKA_MTLS_PORT``: an SSL listener with ``ssl.client.auth=required`` trusting
the broker's throw-away CA). The client certificate is signed here with that CA's key.
Marked ``dedicated_broker``: it runs after the tests on the shared broker, with the other
dedicated-broker tests (tests/conftest.py).
"""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import free_port
from tests.sidecar.sidecar_support import (
    DedicatedBroker,
    SidecarProcess,
    assert_no_pii,
    create_raw_topics,
    make_mix,
    new_topics,
    produce,
    schemas_with,
    wait_for_totals,
)

pytestmark = [pytest.mark.kafka, pytest.mark.dedicated_broker]


@pytest.fixture
def mtls_broker(kafka_bootstrap, tmp_path):
    broker = DedicatedBroker(tmp_path / "kafka")
    broker.mtls = f"127.0.0.1:{free_port()}"
    broker.env["KAFKA_MTLS_PORT"] = broker.mtls.rsplit(":", 1)[1]
    broker.run("start")
    try:
        yield broker
    finally:
        broker.run("stop")


def client_certificate(tls_dir, out_dir, name: str):
    """A client certificate signed by the broker's CA (``ca.p12`` made by make-certs.sh)."""
    from cryptography.hazmat.primitives.serialization import pkcs12

    from tests.tls_helpers import Pem, issue
    password = (tls_dir / "password").read_text().strip().encode()
    key, cert, _chain = pkcs12.load_key_and_certificates((tls_dir / "ca.p12").read_bytes(),
                                                         password)
    out_dir.mkdir(parents=True, exist_ok=True)
    return issue(out_dir, (Pem(tls_dir / "ca.pem", tls_dir / "ca.p12"), cert, key), name,
                 client=True)


def test_sidecar_publishes_over_mutual_tls(mtls_broker, tmp_path):
    tls_dir = tmp_path / "kafka" / "tls"
    client = client_certificate(tls_dir, tmp_path / "client", "deidentify-eu")
    topics = new_topics("mtls")
    asyncio.run(create_raw_topics(mtls_broker.bootstrap, topics))
    mix = make_mix(windows=2)
    produce(mtls_broker.bootstrap, topics, mix.records + mix.closers())
    args = ["--security-protocol", "SSL", "--ssl-cafile", str(tls_dir / "ca.pem"),
            "--ssl-certfile", str(client.cert), "--ssl-keyfile", str(client.key)]
    sc = SidecarProcess(mtls_broker.mtls, topics, tmp_path / "sidecar.log",
                        schemas=schemas_with(tmp_path / "schemas"), extra_args=args).start()
    try:
        got, dups = wait_for_totals(mtls_broker.bootstrap, topics.central, mix.expected,
                                    timeout_s=120)
        assert not dups and got == mix.expected.as_dict()
        sc.wait_ready(timeout_s=60)
        assert sc.sigterm() == 0
    finally:
        sc.ensure_stopped()
    log = sc.log_text()
    assert "security_protocol=SSL" in log and "ssl_client_cert=set" in log
    assert_no_pii(log)

    # without a client certificate the broker refuses the connection: the sidecar never
    # becomes ready and publishes nothing
    refused = SidecarProcess(mtls_broker.mtls, new_topics("mtls-anon"),
                             tmp_path / "anon.log", schemas=schemas_with(tmp_path / "s2"),
                             extra_args=["--security-protocol", "SSL",
                                         "--ssl-cafile", str(tls_dir / "ca.pem")]).start()
    try:
        refused.wait_until("a failed TLS session", lambda: "session failed" in
                           refused.log_text() or not refused.alive(), timeout_s=60)
        status, _ = refused.get("/readyz")
        assert status == 503 or not refused.alive()
    finally:
        refused.ensure_stopped()

"""TLS + SASL (SCRAM-SHA-256/512, PLAIN) against the broker's SASL_SSL listener."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from tests.sidecar.sidecar_support import (
    SidecarProcess,
    assert_no_pii,
    create_raw_topics,
    make_mix,
    new_topics,
    produce,
    schemas_with,
    wait_for_totals,
)

pytestmark = pytest.mark.kafka


def _sasl_args(endpoint, mechanism: str, password_file) -> list[str]:
    return ["--security-protocol", "SASL_SSL", "--sasl-mechanism", mechanism,
            "--sasl-username", endpoint.username, "--sasl-password-file", str(password_file),
            "--ssl-cafile", str(endpoint.cafile)]


def test_sasl_scram_over_tls_end_to_end(kafka_bootstrap, sasl_ssl_endpoint, tmp_path):
    topics = new_topics("sasl")
    asyncio.run(create_raw_topics(kafka_bootstrap, topics))
    password_file = tmp_path / "kafka-password"
    password_file.write_text(sasl_ssl_endpoint.password + "\n")
    mix = make_mix(windows=2)
    produce(kafka_bootstrap, topics, mix.records + mix.closers())
    sc = SidecarProcess(sasl_ssl_endpoint.bootstrap, topics, tmp_path / "sidecar.log",
                        schemas=schemas_with(tmp_path / "schemas"),
                        extra_args=_sasl_args(sasl_ssl_endpoint, "SCRAM-SHA-256",
                                              password_file)).start()
    try:
        got, dups = wait_for_totals(kafka_bootstrap, topics.central, mix.expected)
        assert not dups and got == mix.expected.as_dict()
        sc.wait_ready()
        assert sc.sigterm() == 0
    finally:
        sc.ensure_stopped()
    log = sc.log_text()
    assert "security_protocol=SASL_SSL" in log and "sasl_mechanism=SCRAM-SHA-256" in log
    assert sasl_ssl_endpoint.password not in log
    assert_no_pii(log)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "PLAIN"])
def test_sasl_mechanisms_from_environment(kafka_bootstrap, sasl_ssl_endpoint, tmp_path,
                                          mechanism):
    topics = new_topics("saslenv")
    asyncio.run(create_raw_topics(kafka_bootstrap, topics))
    env = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": mechanism,
           "KAFKA_SASL_USERNAME": sasl_ssl_endpoint.username,
           "KAFKA_SASL_PASSWORD": sasl_ssl_endpoint.password,
           "KAFKA_SSL_CAFILE": str(sasl_ssl_endpoint.cafile)}
    sc = SidecarProcess(sasl_ssl_endpoint.bootstrap, topics, tmp_path / "sidecar.log",
                        schemas=schemas_with(tmp_path / "schemas"), env=env).start()
    try:
        sc.wait_ready()
        assert sc.sigterm() == 0
    finally:
        sc.ensure_stopped()
    assert f"sasl_mechanism={mechanism}" in sc.log_text()
    assert sasl_ssl_endpoint.password not in sc.log_text()


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "PLAIN"])
def test_wrong_password_fails_clearly_without_showing_a_secret(kafka_bootstrap,
                                                               sasl_ssl_endpoint, tmp_path,
                                                               mechanism):
    topics = new_topics("saslbad")
    wrong = "Wr0ng-" + sasl_ssl_endpoint.password[::-1] + "-pw"
    password_file = tmp_path / "kafka-password"
    password_file.write_text(wrong)
    sc = SidecarProcess(sasl_ssl_endpoint.bootstrap, topics, tmp_path / "sidecar.log",
                        schemas=schemas_with(tmp_path / "schemas"),
                        extra_args=_sasl_args(sasl_ssl_endpoint, mechanism, password_file))
    sc.start()
    try:
        code = sc.wait(120)     # the deadline only fails a sidecar that keeps retrying
    finally:
        sc.ensure_stopped()
    assert code == 1
    log = sc.log_text()
    assert "AuthenticationFailed" in log
    assert "the broker refused the SASL credentials" in log
    assert wrong not in log and sasl_ssl_endpoint.password not in log
    assert "Traceback" not in log


def test_untrusted_broker_certificate_fails_clearly(kafka_bootstrap, sasl_ssl_endpoint,
                                                    tmp_path):
    # a CA that did not sign the broker's certificate
    other_ca = tmp_path / "other-ca.pem"
    result = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=not-the-broker-ca", "-keyout", str(tmp_path / "k.pem"),
         "-out", str(other_ca)], capture_output=True, check=False)
    if result.returncode != 0:
        pytest.skip("openssl is not available to make a second CA")
    env = {"KAFKA_SASL_PASSWORD": sasl_ssl_endpoint.password}
    sc = SidecarProcess(sasl_ssl_endpoint.bootstrap, new_topics("tls"), tmp_path / "s.log",
                        schemas=schemas_with(tmp_path / "schemas"), env=env,
                        extra_args=["--security-protocol", "SASL_SSL",
                                    "--sasl-username", sasl_ssl_endpoint.username,
                                    "--ssl-cafile", str(other_ca)]).start()
    try:
        code = sc.wait(30)
    finally:
        sc.ensure_stopped()
    assert code == 1
    log = sc.log_text()
    assert "TLS certificate verification failed" in log
    assert sasl_ssl_endpoint.password not in log

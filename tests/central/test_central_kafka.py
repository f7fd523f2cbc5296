"""The collector against the real broker: real aggregates in, /metrics out; forged ones
rejected and counted; aborted transactions invisible (read_committed); clean shutdown."""

from __future__ import annotations

import time
import uuid

import orjson

from tests.central.central_helpers import (
    SECRET_CARD,
    SECRET_EMAIL,
    SECRET_PATH,
    SECRET_UNDECLARED,
    create_region_topics,
    forged_cases,
    http_get,
    metric_samples,
    produce,
    real_aggregates,
    start_central,
    total,
)


def test_collector_merges_real_aggregates_of_two_regions(loaded_central) -> None:
    central, aggs = loaded_central.central, loaded_central.aggregates
    text = central.metrics()
    for region in ("eu", "us"):
        assert metric_samples(text, "deidentify_http_requests_events_total", region=region) == total(
            aggs, "http_requests", region=region) > 0
        assert metric_samples(text, "deidentify_billing_totals_amount_minor_total", region=region) == total(
            aggs, "billing_totals", "amount_minor", region=region) > 0
        assert metric_samples(text, "deidentify_webhook_deliveries_failures_total",
                              region=region) == total(aggs, "webhook_deliveries", "failures",
                                                          region=region)
    orders = total(aggs, "http_requests", region="eu", route="/v1/orders/{id}")
    assert orders > 0
    assert metric_samples(text, "deidentify_http_requests_events_total", region="eu",
                          route="/v1/orders/{id}") == orders
    assert metric_samples(text, "deid_central_aggregates_rejected_total") == 0


def test_aborted_transactions_are_never_read(loaded_central) -> None:
    text = loaded_central.central.metrics()
    assert loaded_central.aborted
    assert 'region="ap"' not in text
    status, body = loaded_central.central.get("/api/summary")
    assert status == 200 and set(orjson.loads(body)["regions"]) == {"eu", "us"}


def test_internal_data_needs_credentials_and_reads_are_logged(loaded_central) -> None:
    central = loaded_central.central
    assert central.url.startswith("https://")
    for path in ("/", "/api/summary", "/metrics", "/static/app.js"):
        status, body = central.get(path, auth=False)
        assert status == 401, path
        assert b"eu" not in body and b"deid_" not in body
    for path in ("/livez", "/readyz"):
        assert central.get(path, auth=False)[0] == 200, path
    status, _ = central.get("/api/summary?tenant=acme-query-value")
    assert status == 200
    log = central.log()
    assert f"user={central.web.user} method=GET path=/api/summary status=200" in log
    assert "user=- method=GET path=/metrics status=401" in log
    assert "acme-query-value" not in log
    assert "listen=https://127.0.0.1:" in log and "auth=basic" in log


def test_collector_listens_on_loopback_by_default(kafka_bootstrap, tmp_path) -> None:
    from tests.test_webconfig import listening_address
    topic = f"t-central-bind-{uuid.uuid4().hex[:8]}"
    create_region_topics(kafka_bootstrap, topic)
    central = start_central(kafka_bootstrap, topic, tmp_path, extra_env={"DEIDENTIFY_BIND": ""})
    try:
        assert listening_address(central.port) == "127.0.0.1"
        assert f"listen=http://127.0.0.1:{central.port}/ auth=none" in central.log()
    finally:
        assert central.stop() == 0


def test_lag_is_exported_and_drains(loaded_central) -> None:
    central = loaded_central.central
    deadline = time.monotonic() + 30
    while True:
        text = central.metrics()
        if "deid_central_consumer_lag{" in text and metric_samples(
                text, "deid_central_consumer_lag") == 0:
            break
        assert time.monotonic() < deadline, "lag gauge never reported 0"
        time.sleep(1)
    assert metric_samples(text, "deid_central_ready") == 1


def test_forged_aggregates_are_rejected_counted_and_never_echoed(kafka_bootstrap, tmp_path) -> None:
    topic = f"t-central-forged-{uuid.uuid4().hex[:8]}"
    create_region_topics(kafka_bootstrap, topic)
    # DEBUG on purpose: not even debug logging may echo a rejected aggregate
    central = start_central(kafka_bootstrap, topic, tmp_path,
                            extra_env={"DEIDENTIFY_LOG_LEVEL": "DEBUG"})
    try:
        real = real_aggregates("eu", events=6000)
        cases = forged_cases(real)
        records = [(b"forged", orjson.dumps(obj)) for obj, _reason in cases.values()]
        records.append((real[0].key, real[0].to_json()))
        produce(kafka_bootstrap, topic, [records], txn_id=f"txn-{topic}")
        # a real eu aggregate written to the us topic claims a region its writer is not
        produce(kafka_bootstrap, f"{topic}.us", [[(real[1].key, real[1].to_json())]],
                txn_id=f"txn-{topic}-us", exact_topic=True)
        central.wait_for_metric("deid_central_aggregates_rejected_total", len(cases) + 1)
        central.wait_for_metric("deid_central_aggregates_rejected_total", 1,
                                reason="region_mismatch")
        central.wait_for_metric("deid_central_aggregates_accepted_total", 1)
        text = central.metrics()
        expected: dict[str, int] = {}
        for _obj, reason in cases.values():
            expected[reason] = expected.get(reason, 0) + 1
        for reason, n in expected.items():
            assert metric_samples(text, "deid_central_aggregates_rejected_total",
                                  reason=reason) == n, reason
        assert metric_samples(text, "deid_central_guard_hits_total", detector="email") == 2
        assert metric_samples(text, "deid_central_guard_hits_total", detector="card_number") == 1
        status, body = central.get("/api/summary")
        secrets = (SECRET_EMAIL, SECRET_CARD, SECRET_PATH, SECRET_UNDECLARED, "docs.github.io")
        for secret in secrets:
            assert secret not in text
            assert secret not in body.decode()
    finally:
        code = central.stop()
    log = central.log()
    assert code == 0, log
    for secret in secrets:
        assert secret not in log


def test_bad_settings_exit_2(tmp_path) -> None:
    import subprocess

    from tests.central.central_helpers import DEIDENTIFY
    result = subprocess.run([DEIDENTIFY, "central", "--bootstrap", "not a host", "--port", "1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "KAFKA_BOOTSTRAP" in result.stderr
    result = subprocess.run([DEIDENTIFY, "central", "--regions", "eu", "--schemas", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "schema" in result.stderr
    # the k floor can only be raised, and a raised floor refuses the shipped k: 5 schemas
    result = subprocess.run([DEIDENTIFY, "central", "--regions", "eu", "--k-floor", "3"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--k-floor (env DEIDENTIFY_K_FLOOR): 3 is not between 5 and 1000" in result.stderr
    import os
    result = subprocess.run([DEIDENTIFY, "central", "--regions", "eu"], capture_output=True,
                            text=True, timeout=60,
                            env={**os.environ, "DEIDENTIFY_K_FLOOR": "6"})
    assert result.returncode == 2
    assert ".yaml:22: privacy 'k' is 5, below this deployment's k floor of 6" in result.stderr



def test_collector_reads_over_sasl_ssl(kafka_bootstrap, sasl_ssl_endpoint, tmp_path) -> None:
    """KAFKA_SECURITY_PROTOCOL & co. work for central as for the sidecar; no secret logged."""
    topic = f"t-central-sasl-{uuid.uuid4().hex[:8]}"
    create_region_topics(kafka_bootstrap, topic)
    env = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
           "KAFKA_SASL_USERNAME": sasl_ssl_endpoint.username,
           "KAFKA_SASL_PASSWORD": sasl_ssl_endpoint.password,
           "KAFKA_SSL_CAFILE": str(sasl_ssl_endpoint.cafile)}
    central = start_central(sasl_ssl_endpoint.bootstrap, topic, tmp_path, extra_env=env)
    try:
        aggs = real_aggregates("eu", events=3000)
        produce(kafka_bootstrap, topic, [[(a.key, a.to_json()) for a in aggs]],
                txn_id=f"txn-{topic}")
        central.wait_for_metric("deid_central_aggregates_accepted_total", len(aggs))
    finally:
        code = central.stop()
    assert code == 0
    assert sasl_ssl_endpoint.password not in central.log()
    assert "SASL_SSL" in central.log()


def test_bad_security_settings_exit_2(tmp_path) -> None:
    import os
    import subprocess

    from tests.central.central_helpers import DEIDENTIFY
    env = dict(os.environ, KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_USERNAME="",
               KAFKA_SASL_PASSWORD="")
    result = subprocess.run([DEIDENTIFY, "central", "--regions", "eu"], capture_output=True,
                            text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert "KAFKA_SASL_USERNAME" in result.stderr
    result = subprocess.run([DEIDENTIFY, "central"], capture_output=True, text=True,
                            timeout=60, env=dict(os.environ, DEIDENTIFY_REGIONS=""))
    assert result.returncode == 2
    assert "--regions (env DEIDENTIFY_REGIONS) is required" in result.stderr


def test_topic_created_after_the_collector_started(kafka_bootstrap, tmp_path) -> None:
    """Not ready while its topic is missing; picks the topic up once it exists (bounded)."""
    import asyncio

    from aiokafka.errors import TopicAlreadyExistsError

    from tests.kafka_helpers import create_topic_async
    topic = f"t-central-late-{uuid.uuid4().hex[:8]}"
    central = start_central(kafka_bootstrap, topic, tmp_path, wait_ready=False, regions=("us",))
    try:
        # once its consumer runs, the collector waits for a partition of the missing topic
        status, body = _answer_when(central.url + "/readyz", b"partition_assignment",
                                    timeout_s=60)
        assert status == 503
        try:   # a broker with auto.create.topics.enable may already have created it
            asyncio.run(create_topic_async(kafka_bootstrap, f"{topic}.us", partitions=1))
        except TopicAlreadyExistsError:
            pass
        central.wait_ready(60)
        aggs = real_aggregates("us", events=2000)
        produce(kafka_bootstrap, topic, [[(a.key, a.to_json()) for a in aggs]],
                txn_id=f"txn-{topic}")
        central.wait_for_metric("deid_central_aggregates_accepted_total", len(aggs))
    finally:
        assert central.stop() == 0


def _answer_when(url: str, needle: bytes, timeout_s: float) -> tuple[int, bytes]:
    """The first HTTP answer of ``url`` whose body contains ``needle`` (the deadline only fails
    a server that never gets there)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            status, body = http_get(url)
            if needle in body:
                return status, body
        except OSError:
            pass
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{url} never answered with {needle!r}")
        time.sleep(0.2)

"""Suite-wide fixtures: Hypothesis profiles and the real local Kafka broker.

Hypothesis profiles, chosen with ``HYPOTHESIS_PROFILE`` (default ``default``):
  dev      25 examples, for quick local iterations
  default  100 examples
  ci       300 examples, no deadline (shared 2-core runners are noisy); .ci/run uses it

Kafka: tests that take ``kafka_bootstrap`` run against a real broker, by default. The
fixture reuses whatever answers on ``KAFKA_BOOTSTRAP`` (127.0.0.1:9092 when unset) and
otherwise starts the local broker with ``scripts/kafka.sh``; a broker it started is stopped
at the end of the session unless another run in the same tree (``make test``, another pytest)
still holds it. Every topic the session created is deleted at its end (``TopicJanitor``), so
a run leaves nothing behind in the broker. Such tests are marked ``kafka`` automatically, so ``-m "not kafka"`` skips
them.

SASL_SSL: the broker started by scripts/kafka.sh always has a second listener, SASL_SSL on
the bootstrap port + 1 (``sasl_ssl_endpoint`` fixture). A broker started some other way
(Docker, another checkout) has unknown listeners and is never restarted by the tests: then
SASL_SSL tests are skipped locally and fail under CI (``CI`` set), where the project always
starts its own broker.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.kafka_helpers import (
    BrokerLease,
    BrokerUnavailable,
    SaslSslEndpoint,
    TopicJanitor,
    bootstrap_from_env,
    find_sasl_ssl_endpoint,
)

# Tests never assert on timings (a shared 2-core machine makes them meaningless), so no
# profile has a per-example deadline.
settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("default", max_examples=100, deadline=None)
settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

KAFKA_FIXTURES = frozenset({"kafka_bootstrap", "sasl_ssl_endpoint"})

# The guard's name data is cached on disk (deidentify/privacy/names.py) under
# $XDG_CACHE_HOME: the tests and every process they start share one cache in a temporary
# folder, removed at the end, so a test run leaves nothing in the user's home.
_CACHE_HOME = tempfile.mkdtemp(prefix="deidentify-test-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE_HOME


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_CACHE_HOME, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that uses the broker is a ``kafka`` test, marked or not; ``dedicated_broker``
    tests run last, in collection order.

    Those start brokers of their own (and stop or SIGKILL them): the slowest tests, and the
    heaviest on a shared machine, so the rest of the suite reports first and runs beside
    one broker only."""
    for item in items:
        if KAFKA_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.kafka)
    items.sort(key=lambda item: item.get_closest_marker("dedicated_broker") is not None)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The PLAINTEXT bootstrap address of a running broker (started on first use)."""
    bootstrap = bootstrap_from_env()
    try:
        lease = BrokerLease.acquire(bootstrap)
    except BrokerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    janitor = TopicJanitor(bootstrap)
    try:
        yield bootstrap
    finally:
        try:
            janitor.sweep()
        finally:
            lease.release()


@pytest.fixture(scope="session")
def sasl_ssl_endpoint(kafka_bootstrap: str) -> SaslSslEndpoint:
    """The broker's SASL_SSL listener: address, CA file, SCRAM/PLAIN user and password."""
    endpoint = find_sasl_ssl_endpoint(kafka_bootstrap)
    if endpoint is None:
        message = (
            f"the broker on {kafka_bootstrap} was not started by scripts/kafka.sh with its "
            "SASL_SSL listener (it is reused, never restarted, by the tests); stop it and let "
            "the tests start their own, or run `scripts/kafka.sh stop && scripts/kafka.sh start`"
        )
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return endpoint


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A topic name unique to this test run: ``t-<test name>-<8 hex>``."""
    test = re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name).strip("-")[:80]
    return f"t-{test}-{uuid.uuid4().hex[:8]}"

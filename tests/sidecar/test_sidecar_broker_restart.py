"""The broker goes away mid-stream and comes back: the sidecar recovers by itself.

Runs against a dedicated second broker (``scripts/kafka.sh`` with its own state directory
and ports), so stopping it cannot disturb the shared broker other tests use. Marked
``dedicated_broker``, so it runs after the tests on the shared broker (tests/conftest.py):
it is among the slowest (two broker starts).
"""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from tests.sidecar.sidecar_support import (
    DedicatedBroker,
    SidecarProcess,
    assert_no_pii,
    create_raw_topics,
    interleave,
    make_mix,
    new_topics,
    produce,
    schemas_with,
    wait_for_totals,
)

pytestmark = [pytest.mark.kafka, pytest.mark.dedicated_broker]


@pytest.fixture
def broker(kafka_bootstrap, tmp_path):
    # kafka_bootstrap: the shared broker is up, so its jars are there to reuse
    b = DedicatedBroker(tmp_path / "kafka")
    b.run("start")
    try:
        yield b
    finally:
        b.run("stop")


def test_broker_stop_and_restart_mid_stream_recovers_by_itself(broker, tmp_path):
    topics = new_topics("brokerrestart")
    asyncio.run(create_raw_topics(broker.bootstrap, topics))
    schemas = schemas_with(tmp_path / "schemas", grace="2m")
    mix = make_mix(windows=10, jitter_ms=25_000)
    rounds = interleave(mix.records, 10)
    sc = SidecarProcess(broker.bootstrap, topics, tmp_path / "sidecar.log", schemas=schemas)
    sc.start()
    try:
        sc.wait_ready(timeout_s=60)
        for chunk in rounds[:5]:
            produce(broker.bootstrap, topics, chunk)
            time.sleep(0.3)
        # stop right after the last round: the sidecar is still fetching/committing
        broker.run("stop")
        sc.wait_until("/readyz 503 while the broker is down",
                      lambda: sc.get("/readyz")[0] == 503, timeout_s=30)
        assert sc.get("/livez")[0] == 200
        reason = orjson.loads(sc.get("/readyz")[1])["reason"]
        assert reason
        broker.run("start")
        # survived the outage: wait_ready fails at once, with the log, if the sidecar exited
        sc.wait_ready(timeout_s=60)
        for chunk in rounds[5:]:
            produce(broker.bootstrap, topics, chunk)
            time.sleep(0.2)
        produce(broker.bootstrap, topics, mix.closers())
        got, dups = wait_for_totals(broker.bootstrap, topics.central, mix.expected,
                                    timeout_s=90)
        assert not dups, f"windows published more than once: {dups[:5]}"
        assert got == mix.expected.as_dict()
        assert sc.alive(), "the sidecar must recover in process, not exit"
        assert sc.sigterm() == 0
    finally:
        sc.ensure_stopped()
    assert_no_pii(sc.log_text())

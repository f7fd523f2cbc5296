"""A collector subprocess fed with real aggregates of two regions, shared by the Kafka,
browser and Prometheus tests of the central collector (one broker round trip for all)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from deidentify.contract import Aggregate
from tests.central.central_helpers import (
    CentralProcess,
    as_records,
    create_region_topics,
    produce,
    real_aggregates,
    start_central,
)
from tests.tls_helpers import web_tls

REDELIVERED = 25


@dataclass
class LoadedCentral:
    central: CentralProcess
    aggregates: list[Aggregate]        # committed once each (plus REDELIVERED duplicates)
    aborted: list[Aggregate]           # region "ap", only ever in an aborted transaction


@pytest.fixture(scope="session")
def loaded_central(kafka_bootstrap: str, tmp_path_factory) -> Iterator[LoadedCentral]:
    topic = f"t-central-{uuid.uuid4().hex[:8]}"
    create_region_topics(kafka_bootstrap, topic, ("eu", "us", "ap"), partitions=3)
    # TLS + basic auth: the Kafka, Prometheus and browser tests all read it as a user would
    web = web_tls(tmp_path_factory.mktemp("central-web"))
    central = start_central(kafka_bootstrap, topic, tmp_path_factory.mktemp("central"), web=web,
                            regions=("eu", "us", "ap"))
    try:
        aggs = real_aggregates("eu", events=12_000) + real_aggregates("us", events=9_000, seed=2)
        aborted = real_aggregates("ap", events=3_000, seed=3)
        produce(kafka_bootstrap, topic,
                [as_records(aggs[:400]), as_records(aggs[400:]), as_records(aggs[:REDELIVERED])],
                abort=[as_records(aborted)], txn_id=f"txn-{topic}")
        central.wait_for_metric("deid_central_aggregates_accepted_total", len(aggs))
        central.wait_for_metric("deid_central_aggregates_ignored_total", REDELIVERED,
                                reason="duplicate")
        yield LoadedCentral(central, aggs, aborted)
    finally:
        code = central.stop()
    assert code == 0, central.log()

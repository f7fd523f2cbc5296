"""Region bound to identity, and a configured set of regions (no broker).

The collector reads ``<topic>.<region>`` for each configured region and passes the topic's
region to :meth:`CentralCollector.handle`; an aggregate that claims another region is
refused and counted (``region_mismatch``).
"""

from __future__ import annotations

import argparse

import pytest
from prometheus_client import generate_latest

from deidentify.central.app import CentralCollector, load_settings
from deidentify.central.validate import Accepted, Rejected
from deidentify.errors import SettingsError
from deidentify.schema import load_schemas
from tests.central.central_helpers import SCHEMAS_DIR, metric_samples, real_aggregates

SCHEMAS = load_schemas(SCHEMAS_DIR)


def test_an_aggregate_claiming_another_region_is_refused_and_counted() -> None:
    collector = CentralCollector(SCHEMAS, max_regions=2)
    eu = real_aggregates("eu", events=3000)
    assert isinstance(collector.handle(eu[0].to_json(), region="eu"), Accepted)
    forged = collector.handle(eu[1].to_json(), region="us")
    assert forged == Rejected("region_mismatch")
    assert isinstance(collector.handle(eu[2].to_json(), region=""), Rejected)   # unknown topic
    text = generate_latest(collector.metrics.registry).decode()
    assert metric_samples(text, "deid_central_aggregates_rejected_total",
                          reason="region_mismatch") == 2
    assert metric_samples(text, "deid_central_aggregates_accepted_total") == 1
    assert collector.stats()["rejected"] == {"region_mismatch": 2}


def settings(**flags):
    values = {"bootstrap": None, "topic": None, "regions": None, "schemas": None,
              "port": None, "bind": None, "web_config": None, "insecure_listen": None,
              "probe_port": None, "access_log": None}
    values.update(flags)
    return load_settings(argparse.Namespace(**values), env={})


def test_the_collector_reads_one_topic_per_configured_region() -> None:
    s = settings(regions="eu,us,eu")
    assert s.regions == ("eu", "us")
    assert s.topics == {"telemetry.central.aggregates.eu": "eu",
                        "telemetry.central.aggregates.us": "us"}
    assert settings(topic="c", regions="ap-south").topics == {"c.ap-south": "ap-south"}


@pytest.mark.parametrize("regions, words", [
    (None, "--regions / DEIDENTIFY_REGIONS is required"),
    ("eu,EU", "'EU' must match"),
    ("eu,../x", "'../x' must match"),
])
def test_bad_regions_are_refused(regions, words) -> None:
    with pytest.raises(SettingsError, match=words.replace(".", r"\.")):
        settings(regions=regions)

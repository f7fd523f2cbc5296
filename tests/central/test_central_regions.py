"""Region bound to identity, and a configured set of regions (no broker).

The collector reads ``<topic>.<region>`` for each configured region and passes the topic's
region to :meth:`CentralCollector.handle`; an aggregate that claims another region is
refused and counted (``region_mismatch``).
"""

from __future__ import annotations

import argparse
import re

import pytest
from prometheus_client import generate_latest

from deidentify.central.collector import CentralCollector
from deidentify.central.settings import load_settings
from deidentify.central.validate import Accepted, Rejected
from deidentify.errors import SettingsError
from deidentify.schema import load_schemas
from tests.central.central_helpers import SCHEMAS_DIR, real_aggregates
from tests.helpers import metric_samples, parse_metrics

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
    (None, "--regions (env DEIDENTIFY_REGIONS) is required"),
    ("eu,EU", "'EU' must match"),
    ("eu,../x", "'../x' must match"),
])
def test_bad_regions_are_refused(regions, words) -> None:
    with pytest.raises(SettingsError, match=re.escape(words)):
        settings(regions=regions)


# --------------------------------------------------------------------------- bounded state

MINUTE_MS = 60_000


def iso(ms: int) -> str:
    from deidentify.contract import iso_utc
    return iso_utc(ms)


def billing_cell(base: dict, *, tenant: str, window_start_ms: int) -> bytes:
    import copy

    import orjson
    obj = copy.deepcopy(base)
    obj["dims"]["tenant"] = tenant
    obj["window"] = {"start": iso(window_start_ms), "end": iso(window_start_ms + MINUTE_MS)}
    return orjson.dumps(obj)


@pytest.fixture(scope="module")
def billing_base() -> tuple[dict, int]:
    from tests.central.central_helpers import first
    aggs = real_aggregates("eu", events=4000)
    base = first(aggs, "billing_totals")
    from deidentify.central.validate import AggregateValidator
    start = AggregateValidator(SCHEMAS).validate_object(base).aggregate.window_start_ms
    return base, start


def series_values(collector: CentralCollector, name: str, label: str) -> set[str]:
    text = generate_latest(collector.metrics.registry).decode()
    return {dict(labels)[label] for (sample, labels), _ in parse_metrics(text).items()
            if sample == name and label in dict(labels)}


def test_distinct_values_per_dimension_are_capped_and_the_overflow_counted(billing_base):
    base, start = billing_base
    collector = CentralCollector(SCHEMAS, max_regions=1, max_values_per_dimension=5)
    outcomes = [collector.handle(billing_cell(base, tenant=f"forged-{i}", window_start_ms=start),
                                 region="eu") for i in range(40)]
    assert sum(isinstance(o, Accepted) for o in outcomes) == 40    # all valid aggregates...
    assert collector.accepted == 5                                   # ...5 merged
    assert collector.ignored["label_overflow"] == 35
    assert collector.state.values_held("eu", "tenant") == 5
    assert len(series_values(collector, "deidentify_billing_totals_events_total", "tenant")) == 5
    text = generate_latest(collector.metrics.registry).decode()
    assert metric_samples(text, "deid_central_aggregates_ignored_total",
                          reason="label_overflow") == 35
    # __other__ is the roll-up and always gets in
    other = collector.handle(billing_cell(base, tenant="__other__", window_start_ms=start),
                             region="eu")
    assert isinstance(other, Accepted) and collector.accepted == 6


def test_series_leave_with_the_windows_that_held_them(billing_base):
    base, start = billing_base
    collector = CentralCollector(SCHEMAS, retention_windows=2, max_values_per_dimension=3)
    # window 0: tenants a, b; window 1: b, c; window 2: c, d (evicts window 0)
    plan = {0: ("ta", "tb"), 1: ("tb", "tc"), 2: ("tc", "td")}
    seen = []
    for w, tenants in plan.items():
        for tenant in tenants:
            collector.handle(billing_cell(base, tenant=tenant, window_start_ms=start + w * MINUTE_MS),
                             region="eu")
        seen.append(series_values(collector, "deidentify_billing_totals_events_total", "tenant"))
    assert seen[0] == {"ta", "tb"}
    assert seen[1] == {"ta", "tb", "tc"}
    assert seen[2] == {"tb", "tc", "td"}                 # ta left with window 0
    assert collector.state.values_held("eu", "tenant") == 3
    text = generate_latest(collector.metrics.registry).decode()
    assert metric_samples(text, "deid_central_series_removed_total") >= 2    # charges + amount
    # a 4th distinct value fits again once the cap has room (ta's slot was freed)
    assert collector.ignored["label_overflow"] == 0


def test_a_flood_of_distinct_forged_values_keeps_the_collector_bounded(billing_base):
    """50 windows x 200 distinct tenants each: state and series stay at the caps."""
    base, start = billing_base
    collector = CentralCollector(SCHEMAS, retention_windows=10, max_values_per_dimension=100)
    n = 0
    for w in range(50):
        for i in range(200):
            collector.handle(billing_cell(base, tenant=f"flood-{w}-{i}",
                                          window_start_ms=start - (50 - w) * MINUTE_MS),
                             region="eu")
            n += 1
    assert collector.state.values_held("eu", "tenant") <= 100
    assert collector.state.cell_count() <= 100
    assert len(series_values(collector, "deidentify_billing_totals_events_total", "tenant")) <= 100
    assert collector.accepted + collector.ignored["label_overflow"] == n

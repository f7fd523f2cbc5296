"""Issue 9, case 4: central re-validation is a true second line against forged aggregates.

A compromised or buggy sidecar can publish aggregates that fit every grammar and still carry
personal data: a tenant id that is a person's name, a route literal that is a name and an
address, a ``count`` that is a Luhn-valid card number, a window dated 1970. The collector must
refuse each one, count it under a reason of its closed set, and never show the value: not in
the rejection, the collector's stats, ``/api/summary``, ``/metrics`` label values or its logs
(captured at DEBUG).

Each forged aggregate differs from an accepted control in exactly one value, so a refusal is
about that value. The tests marked "issue 9 case 4" fail on the code before central bounds
counts, runs the name detector and route-literal rules, and refuses windows older than its
retention; they pass after.
"""

from __future__ import annotations

import asyncio
import copy
import time

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest

from deidentify.central.collector import CentralCollector
from deidentify.central.validate import (
    CENTRAL_REJECT_REASONS,
    Accepted,
    AggregateValidator,
    Rejected,
)
from deidentify.schema import load_schemas
from tests.central.central_helpers import SCHEMAS_DIR
from tests.helpers import captured_logs
from tests.strategies import (
    SecretList,
    assert_no_leaks,
    leaked,
    name_route,
    personal_domain,
    tenant_name,
)

SCHEMAS = load_schemas(SCHEMAS_DIR)
MINUTE_MS = 60_000
# "now" for the window checks: the real clock at import, so that a recent window is recent
# whatever retention rule the collector applies; injected so the run is deterministic.
NOW_MS = int(time.time() * 1000)
RECENT_START_MS = (NOW_MS // MINUTE_MS - 3) * MINUTE_MS


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


RECENT_WINDOW = {"start": iso(RECENT_START_MS), "end": iso(RECENT_START_MS + MINUTE_MS)}
BUCKETS = ("5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000",
           "+Inf")
HOOK_BUCKETS = ("50", "100", "250", "500", "1000", "2500", "5000", "10000", "30000", "+Inf")


def http_control(count: int = 812) -> dict:
    buckets = dict.fromkeys(BUCKETS, 0)
    buckets["25"] = count
    return {"schema": "http_requests", "schema_version": 1, "region": "eu",
            "window": dict(RECENT_WINDOW),
            "dims": {"method": "GET", "route": "/v1/orders/{id}", "status": 200},
            "measures": {"count": count, "errors": 0,
                         "latency_ms": {"sum": 15.0 * count, "buckets": buckets}}}


def billing_control() -> dict:
    return {"schema": "billing_totals", "schema_version": 1, "region": "eu",
            "window": dict(RECENT_WINDOW), "dims": {"tenant": "acme", "currency": "EUR"},
            "measures": {"count": 12, "amount_minor": 48_000}}


def webhook_control() -> dict:
    buckets = dict.fromkeys(HOOK_BUCKETS, 0)
    buckets["100"] = 9
    return {"schema": "webhook_deliveries", "schema_version": 1, "region": "eu",
            "window": dict(RECENT_WINDOW),
            "dims": {"host": "example.com", "event_type": "invoice.paid"},
            "measures": {"count": 9, "successes": 8, "failures": 1,
                         "duration_ms": {"sum": 700.0, "buckets": buckets}}}


CARD_COUNT = 4242424242424242          # Luhn-valid (a test card number)


def forged(name: str) -> tuple[dict, list[str]]:
    """(aggregate, secrets it carries) for each forged value of the issue."""
    if name == "tenant john_smith_london":
        agg = billing_control()
        agg["dims"]["tenant"] = "john_smith_london"
        return agg, ["john_smith_london"]
    if name == "route /users/jane.doe/home-address-main-street":
        agg = http_control()
        agg["dims"]["route"] = "/users/jane.doe/home-address-main-street"
        return agg, ["jane.doe", "home-address-main-street"]
    if name == "count 4242424242424242":
        agg = http_control(CARD_COUNT)
        return agg, [str(CARD_COUNT)]
    if name == "window dated 1970":
        agg = billing_control()
        agg["window"] = {"start": "1970-01-01T00:00:00Z", "end": "1970-01-01T00:01:00Z"}
        agg["measures"]["amount_minor"] = 31_337_000      # a marker to look for
        return agg, ["1970-01-01", "31337000"]
    raise ValueError(name)


FORGED = ("tenant john_smith_london", "route /users/jane.doe/home-address-main-street",
          "count 4242424242424242", "window dated 1970")


def collector() -> CentralCollector:
    return CentralCollector(SCHEMAS, validator=AggregateValidator(SCHEMAS,
                                                                  now_ms=lambda: NOW_MS),
                            clock=lambda: NOW_MS / 1000)


def served(c: CentralCollector) -> list[bytes]:
    """What the collector shows: /api/summary and /metrics over HTTP (aiohttp test client)."""
    from aiohttp.test_utils import TestClient, TestServer

    from deidentify.central.web import Views, build_web_app

    async def fetch() -> list[bytes]:
        app = build_web_app(Views(summary=c.summary, readiness=c.readiness,
                                  registry=c.metrics.registry))
        async with TestClient(TestServer(app)) as client:
            out = []
            for path in ("/api/summary", "/metrics"):
                response = await client.get(path)
                assert response.status == 200
                out.append(await response.read())
            return out

    return asyncio.run(fetch())


def every_channel(c: CentralCollector, results, logs: str) -> list:
    return [orjson.dumps(c.summary()), generate_latest(c.metrics.registry), logs,
            repr(results), orjson.dumps(c.stats())]


@pytest.mark.parametrize("control", [http_control, billing_control, webhook_control],
                         ids=lambda f: f.__name__)
def test_the_controls_are_accepted(control):
    """The unforged aggregates pass: a refusal of a forged one is about its one value."""
    result = collector().handle(orjson.dumps(control()))
    accepted = isinstance(result, Accepted)
    assert accepted, getattr(result, "reason", None)


@pytest.mark.parametrize("name", FORGED)
def test_central_refuses_the_forged_value_and_counts_it_by_reason(name):
    """Issue 9 case 4 (fails before the fix): the forged aggregate is refused with a reason
    of the closed set, counted once, and its value shows in no output channel."""
    c = collector()
    agg, secrets = forged(name)
    with captured_logs() as logs:
        result = c.handle(orjson.dumps(agg))
    outputs = every_channel(c, [result], logs.getvalue())
    refused = isinstance(result, Rejected)
    assert refused, "a forged aggregate was accepted"
    assert result.reason in CENTRAL_REJECT_REASONS
    assert c.rejected[result.reason] == 1 and sum(c.rejected.values()) == 1
    assert c.accepted == 0
    assert_no_leaks(outputs, secrets)


def test_forged_values_never_reach_the_served_summary_or_metrics():
    """Issue 9 case 4 (fails before the fix): all four forged aggregates next to accepted
    controls; /api/summary and /metrics served over HTTP show the controls, none of the
    forged values."""
    c = collector()
    secrets: list[str] = []
    for name in FORGED:
        agg, carried = forged(name)
        secrets += carried
        c.handle(orjson.dumps(agg))
    for control in (http_control, billing_control, webhook_control):
        assert isinstance(c.handle(orjson.dumps(control())), Accepted)
    summary, metrics = served(c)
    assert b"acme" in summary and b'tenant="acme"' in metrics      # the channel is live
    assert_no_leaks([summary, metrics], secrets)


# -- every dimension of every schema with a realistic personal value -------------------------

@st.composite
def forged_personal(draw) -> tuple[dict, SecretList]:
    """An otherwise valid aggregate with a person's name in one published dimension (route
    literal, tenant id, or a personal registrable domain as host)."""
    secrets = SecretList()
    where = draw(st.sampled_from(("route", "tenant", "host")))
    if where == "route":
        _path, route = draw(name_route(secrets))
        agg = http_control()
        # in the route grammar: lower case, no spaces ("john smith" -> "john-smith")
        agg["dims"]["route"] = route.lower().replace(" ", "-")
        for secret in list(secrets):
            if " " in secret:
                secrets.append(secret.replace(" ", "-"))
    elif where == "tenant":
        agg = billing_control()
        agg["dims"]["tenant"] = draw(tenant_name(secrets))
    else:
        _host, registrable = draw(personal_domain(secrets))
        agg = webhook_control()
        agg["dims"]["host"] = registrable
    return agg, secrets


@settings(deadline=None, max_examples=min(settings().max_examples, 100),
          suppress_health_check=[HealthCheck.too_slow])
@given(forged_personal())
def test_a_personal_value_in_any_dimension_never_reaches_an_output(pair):
    """Issue 9 case 4 (fails before the fix): a name in a route literal, a tenant id or a
    host, in an aggregate valid in every other way, is refused and never shown."""
    agg, secrets = pair
    c = collector()
    with captured_logs() as logs:
        result = c.handle(orjson.dumps(agg))
    assert_no_leaks(every_channel(c, [result], logs.getvalue()), secrets)


def test_the_channels_would_show_an_accepted_value():
    """The channels checked above do carry accepted dimension values (not vacuous): a
    control with tenant ``globex`` shows in the summary and the metric labels."""
    c = collector()
    agg = copy.deepcopy(billing_control())
    agg["dims"]["tenant"] = "globex"
    c.handle(orjson.dumps(agg))
    outputs = every_channel(c, [], "")
    assert leaked(outputs[0], ["globex"]) == [0] and leaked(outputs[1], ["globex"]) == [0]

"""Synthetic raw telemetry: realistic events full of *fake* personal data.

The generator produces the three raw event kinds of the raw event contract
(ARCHITECTURE.md, "Raw event contract") — ``http_request``, ``billing_charge`` and
``webhook_delivery`` — for demos, benchmarks and integration tests. Every personal value in
it is invented: names and streets come from small word lists, IPs mostly from the
documentation ranges, card numbers are the well-known test numbers (all pass Luhn), payment
tokens look like ``tok_…``. Nothing here is read from the outside world.

Modules
    ``words``       the word lists (names, streets, countries, cards, user agents…)
    ``population``  tenants and their users, customers and webhook endpoints
    ``traffic``     the simulated REST API: each route template with its path builder
    ``generator``   ``TelemetryGenerator``, the per-event path
    ``topics``      raw topic names (``TOPICS``, ``raw_topic``)
    ``writers``     JSON lines (``write_jsonl``)
    ``producer``    Kafka (``produce``, and ``produce_records`` for any record source)
    ``progress``    the progress bar of ``deidentify generate``

Shape of the traffic
    * Tenants are a fixed small set (``acme``, ``globex``, ``initech``, ``umbrella``,
      ``hooli`` and a deliberately tiny ``pied-piper`` whose cells should stay under k).
      Each tenant has its own users (id, email, name, phone, a couple of client IPs, a user
      agent, a bearer token) and many customers (``cus_…`` with email, name, address,
      currency and a card), plus a few dozen webhook endpoints owned by customers.
    * ``http_request``: a REST API of ~20 routes. ``url`` is the concrete URL (ids, uuids,
      emails in paths, tokens in query strings); ``route`` (the framework's template) is
      present on about 70% of events and absent otherwise. Status codes are mostly 2xx, about
      8% 4xx and 1.5% 5xx; latency is log-normal around a per-route median.
    * ``billing_charge``: amounts in minor units from the line items, in a realistic set of
      ISO 4217 currencies (zero-decimal ones such as JPY included).
    * ``webhook_delivery``: endpoint URLs on customer hosts (personal ``github.io`` /
      ``netlify.app`` subdomains, company hosts, IP literals, one with userinfo), attempts
      1–5, ``response_status`` an int or ``null`` (timeouts, refused connections).

Event time
    ``ts`` advances from ``start_ms`` (default: now) by ``1000 / events_per_second``
    milliseconds per event, so windows fill at a chosen pace whatever the wall-clock speed.
    About 5% of events are late by up to ``max_lateness_ms``. ``ts`` is an epoch-millisecond
    int on ~55% of events and an RFC 3339 string otherwise (``Z``, ``+00:00`` and non-UTC
    offsets, with and without milliseconds).

Determinism
    Everything is drawn from one ``random.Random(seed)``: the same seed and ``start_ms`` give
    byte-identical output (``tests/test_generate.py`` pins a seeded sample's hash).
    ``start_ms=None`` means "now", which is the only source of variation between runs.

Topics
    ``raw_topic(kind)`` is the raw topic of an event kind (``TOPICS``);
    ``raw_topic(kind, region)`` prefixes it with the region, ``"eu.telemetry.raw.http_requests"``.
    ``produce`` uses the bare names unless given ``topics=``
    (``topics=partial(raw_topic, region="eu")`` for the prefixed ones).

Speed
    The per-event path only does dict lookups into tables built once in ``__init__`` and a
    handful of ``random()`` calls; ``encoded()`` runs at well over 100k events/s on one core.
"""

from __future__ import annotations

from deidentify.generate.generator import TelemetryGenerator
from deidentify.generate.population import TENANTS
from deidentify.generate.producer import produce, produce_records
from deidentify.generate.topics import TOPICS, raw_topic
from deidentify.generate.writers import write_jsonl

__all__ = [
    "TOPICS",
    "TENANTS",
    "TelemetryGenerator",
    "produce",
    "produce_records",
    "raw_topic",
    "write_jsonl",
]

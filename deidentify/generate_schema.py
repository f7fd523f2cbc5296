"""Synthetic raw events for any schema, from its declared fields alone.

:class:`SchemaEventGenerator` reads a schema it has never seen and writes plausible raw
events for it, so a developer can watch a new schema in ``deidentify preview`` and
``deidentify demo`` before any service emits it. The hand-written
:class:`deidentify.generate.TelemetryGenerator` stays the generator of the three shipped
event kinds (it knows their noise fields and traffic shapes); this one covers everything else.

What each declared thing becomes (compiled once per schema into a list of field writers)

* ``type`` = ``source.type``; ``ts`` = epoch milliseconds advancing by
  ``1000 / events_per_second`` per event; ``tenant_id`` from a pool of eight tenant ids.
* ``enum`` dimension: one of its values, skewed (Zipf-like weights in declaration order)
  so a few cells dominate as real traffic does.
* ``route``: a route template (``/v1/orders/{id}``) in ``field`` on 70% of events, and the
  concrete URL with an id in ``url_field``; ``host``: a URL on one of a dozen hosts (some
  personal ``*.github.io`` subdomains, which the host transform reduces); ``status`` /
  ``status_class``: mostly 2xx, some 4xx, ~2% 5xx; ``id``: the tenant id when the field is
  ``tenant_id``, else one of a few opaque ids; ``bool``: true on 80% of events.
* ``sum`` / ``histogram``: a number inside ``[min, max]``; for a histogram, drawn around
  the middle of its buckets so every percentile is interesting; integers when ``integer``.
* ``count_if``: the condition holds on a fixed share of events (``equals true``: 80%,
  ``equals`` anything else: 25%, ``gte``: 10%, ``lt``: 70%), unless the field is also a
  dimension or measure, which already writes it.
* ``privacy.subjects``: the first subject path gets one of 200 fake subjects per tenant
  (``u_…`` ids, ``@example.com`` emails for a path naming an email, documentation-range IPs
  for one naming an ip), so busy cells reach k distinct subjects and rare ones do not.

A field written twice keeps its first writer (dimensions, then measures, then subjects).
Every personal-looking value is invented; nothing is read from the outside world.
Deterministic: one ``random.Random(seed)``; same seed and ``start_ms``, same events.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson

from deidentify.schema.model import Schema

__all__ = ["SchemaEventGenerator"]

TENANTS = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell")
SUBJECTS_PER_TENANT = 200
ROUTE_WORDS = ("orders", "items", "accounts", "sessions", "products", "invoices", "reports",
               "files", "projects", "tokens")
HOSTS = ("hooks.example.com", "api.example.net", "events.example.org", "alice.github.io",
         "bob.github.io", "shop.example.co.uk", "notify.example.io", "ci.example.dev",
         "mail.example.com", "edge.example.net", "carol.netlify.app", "partner.example.org")
STATUSES = (200, 200, 200, 200, 200, 200, 201, 204, 200, 200, 304, 400, 401, 404, 404, 409,
            429, 500, 503, 200)

Writer = Callable[[random.Random, dict[str, Any], str, int], None]


def _zipf_weights(n: int) -> list[float]:
    return [1.0 / (i + 1) for i in range(n)]


def _set(event: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = event
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value


def _number(rng: random.Random, lo: float, hi: float, buckets: tuple[float, ...],
            integer: bool) -> float | int:
    if buckets:
        # pick a bucket around the middle, then a value inside it
        bounds = [max(lo, 0.0), *buckets]
        i = min(len(bounds) - 2, max(0, round(rng.gauss(len(bounds) / 2 - 1, len(bounds) / 5))))
        low, high = bounds[i], bounds[i + 1]
        value = rng.uniform(low, high) if rng.random() < 0.97 else rng.uniform(
            buckets[-1], min(hi, buckets[-1] * 2))
    else:
        low = max(lo, 1.0)
        high = min(hi, max(low * 10, 10_000.0))
        value = low * (high / low) ** rng.random() if high > low else low
    value = min(max(value, lo), hi)
    return int(value) if integer else round(value, 3)


class SchemaEventGenerator:
    """Plausible raw events for the given schemas (round-robin over them)."""

    def __init__(self, schemas: Sequence[Schema], *, seed: int = 0, start_ms: int = 0,
                 events_per_second: float = 1000.0) -> None:
        if not schemas:
            raise ValueError("SchemaEventGenerator needs at least one schema")
        if not events_per_second > 0:
            raise ValueError("events_per_second must be greater than 0")
        self.schemas = tuple(schemas)
        self.rng = random.Random(seed)
        self.start_ms = start_ms
        self.step_ms = 1000.0 / events_per_second
        self.produced = 0
        self._plans = [self._compile(s) for s in self.schemas]

    # ------------------------------------------------------------------ compile once

    def _compile(self, schema: Schema) -> tuple[Schema, list[tuple[str, Writer]]]:
        writers: list[tuple[str, Writer]] = []
        taken: set[str] = {"type", "ts", "tenant_id"}

        def add(path: str, writer: Writer) -> None:
            if path not in taken:
                taken.add(path)
                writers.append((path, writer))

        for d in schema.dimensions:
            if d.field == "tenant_id" and d.type == "id":
                continue                                  # the event's own tenant id
            if d.type == "enum":
                values, weights = list(d.values or ()), _zipf_weights(len(d.values or ()))
                add(d.field, lambda r, e, t, i, p=d.field, v=values, w=weights:
                    _set(e, p, r.choices(v, w)[0]))
            elif d.type == "route":
                add(d.field, _route_writer(d.field, d.url_field))
                if d.url_field:
                    taken.add(d.url_field)
            elif d.type == "host":
                add(d.field, lambda r, e, t, i, p=d.field:
                    _set(e, p, f"https://{r.choice(HOSTS)}/hooks/{r.randrange(10**6)}"))
            elif d.type in ("status", "status_class"):
                add(d.field, lambda r, e, t, i, p=d.field: _set(e, p, r.choice(STATUSES)))
            elif d.type == "id":
                ids = [f"{d.name}-{n}" for n in range(1, 7)]
                id_weights = _zipf_weights(len(ids))
                add(d.field, lambda r, e, t, i, p=d.field, v=ids, w=id_weights:
                    _set(e, p, r.choices(v, w)[0]))
            elif d.type == "bool":
                add(d.field, lambda r, e, t, i, p=d.field: _set(e, p, r.random() < 0.8))
        for m in schema.measures:
            if m.condition is not None:
                add(m.condition.field, _condition_writer(m.condition.field, m.condition.op,
                                                         m.condition.value))
            elif m.field:                    # a number in [min, max] (histogram: by buckets)
                lo = float(m.minimum if m.minimum is not None else 0)
                hi = float(m.maximum if m.maximum is not None else 1e6)
                add(m.field, lambda r, e, t, i, p=m.field, lo=lo, hi=hi, b=tuple(m.buckets),
                    n=m.integer: _set(e, p, _number(r, lo, hi, b, n)))
        subject = schema.privacy.subjects[0] if schema.privacy.subjects else None
        if subject is not None and subject != "tenant_id":
            add(subject, _subject_writer(subject))
        return schema, writers

    # ------------------------------------------------------------------ per event

    def event(self) -> tuple[Schema, dict[str, Any]]:
        """The next event and the schema it was written for."""
        rng = self.rng
        schema, writers = self._plans[self.produced % len(self._plans)]
        ts_ms = int(self.start_ms + self.produced * self.step_ms)
        self.produced += 1
        tenant = rng.choices(TENANTS, _TENANT_WEIGHTS)[0]
        event: dict[str, Any] = {"type": schema.source_type, "ts": ts_ms, "tenant_id": tenant}
        for _path, write in writers:
            write(rng, event, tenant, ts_ms)
        return schema, event

    def events(self, n: int) -> Iterator[dict[str, Any]]:
        for _ in range(n):
            yield self.event()[1]

    def records(self, n: int) -> Iterator[tuple[Schema, bytes, bytes]]:
        """``(schema, key, value)``: key = tenant id bytes, value = the JSON event."""
        for _ in range(n):
            schema, event = self.event()
            yield schema, event["tenant_id"].encode(), orjson.dumps(event)


_TENANT_WEIGHTS = [3, 3, 2, 2, 2, 1, 1, 1]


def _route_writer(field: str, url_field: str | None) -> Writer:
    def write(r: random.Random, e: dict[str, Any], _t: str, _ts: int) -> None:
        word = r.choices(ROUTE_WORDS, _zipf_weights(len(ROUTE_WORDS)))[0]
        with_id = r.random() < 0.6
        template = f"/v1/{word}/{{id}}" if with_id else f"/v1/{word}"
        path = f"/v1/{word}/{r.randrange(1, 10**6)}" if with_id else template
        if r.random() < 0.7:
            _set(e, field, template)
        if url_field:
            _set(e, url_field, f"https://api.example.com{path}")
    return write


def _condition_writer(field: str, op: str, value: Any) -> Writer:
    if op == "equals":
        if isinstance(value, bool):
            share, other = (0.8 if value else 0.2), (not value)
        elif isinstance(value, int):
            share, other = 0.25, value + 1
        else:
            share, other = 0.25, f"not_{value}"
    else:   # gte: 10% of events reach the bound; lt: 70% stay below it
        share, other = (0.1, value - 1) if op == "gte" else (0.7, value)

    if op == "gte":
        def write_gte(r: random.Random, e: dict[str, Any], _t: str, _ts: int) -> None:
            hit = r.random() < share
            _set(e, field, value + r.randrange(0, 10) if hit else other)
        return write_gte
    if op == "lt":
        def write_lt(r: random.Random, e: dict[str, Any], _t: str, _ts: int) -> None:
            hit = r.random() < share
            _set(e, field, value - 1 - r.randrange(0, 10) if hit else value + r.randrange(0, 10))
        return write_lt

    def write(r: random.Random, e: dict[str, Any], _t: str, _ts: int) -> None:
        _set(e, field, value if r.random() < share else other)
    return write


def _subject_writer(path: str) -> Writer:
    lowered = path.lower()
    if "email" in lowered:
        def make(tenant: str, n: int) -> str:
            return f"user{n}.{tenant}@example.com"
    elif lowered.endswith("ip") or "_ip" in lowered or lowered.endswith(".ip"):
        def make(tenant: str, n: int) -> str:
            return f"192.0.2.{n % 254 + 1}" if n % 2 else f"198.51.100.{n % 254 + 1}"
    else:
        def make(tenant: str, n: int) -> str:
            return f"u_{tenant}_{n}"

    def write(r: random.Random, e: dict[str, Any], tenant: str, _ts: int) -> None:
        _set(e, path, make(tenant, r.randrange(SUBJECTS_PER_TENANT)))
    return write


def write_jsonl(path: str, schemas: Sequence[Schema], n: int, *, seed: int = 0,
                start_ms: int = 0, events_per_second: float = 1000.0) -> int:
    """Write ``n`` events (JSON lines) for ``schemas`` to ``path`` (``-``: stdout)."""
    import sys
    gen = SchemaEventGenerator(schemas, seed=seed, start_ms=start_ms,
                               events_per_second=events_per_second)
    out = sys.stdout.buffer if path == "-" else open(path, "wb")
    try:
        for _schema, _key, value in gen.records(n):
            out.write(value + b"\n")
    finally:
        if out is not sys.stdout.buffer:
            out.close()
        else:
            out.flush()
    return n


async def produce(bootstrap: str, schemas: Sequence[Schema], *, count: int | None,
                  rate: float | None, seed: int = 0, topic_prefix: str = "",
                  start_ms: int | None = None) -> int:
    """Produce generated events to each schema's ``source.topic`` (with ``topic_prefix``);
    ``count`` events or forever, at most ``rate`` events/s. The loop, pacing and Kafka error
    translation are :func:`deidentify.generate.produce_records`'."""
    import time

    from deidentify.generate import produce_records

    if start_ms is None:
        start_ms = int(time.time() * 1000)
    gen = SchemaEventGenerator(schemas, seed=seed, start_ms=start_ms,
                               events_per_second=rate or 1000.0)
    topics = {s.name: topic_prefix + s.topic for s in schemas}
    return await produce_records(bootstrap, gen.records, lambda s: topics[s.name],
                                 count=count, rate=rate, start_ms=start_ms)

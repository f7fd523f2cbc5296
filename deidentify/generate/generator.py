"""``TelemetryGenerator``: the per-event path of the synthetic telemetry.

Everything is drawn from one ``random.Random(seed)``: the population (``population``), the
latency factors, then every event. The per-event path only indexes lists built once in
``__init__`` (tenants by weight, routes by weight, latency factors) and makes a handful of
``random()`` calls; ``encoded()`` runs at well over 100k events/s on one core.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import orjson

from deidentify.errors import SettingsError
from deidentify.generate.population import TENANTS, Tenant, build_tenants
from deidentify.generate.topics import check_region
from deidentify.generate.traffic import ROUTES, SERVER_ERRORS
from deidentify.generate.words import (
    B62,
    COUNTRIES,
    PRODUCTS,
    REGION_COUNTRIES,
    WEBHOOK_EVENTS,
    ZERO_DECIMAL,
)

LATE_FRACTION = 0.05
"""Share of events whose ``ts`` is late by up to ``max_lateness_ms``."""
ROUTE_PRESENT = 0.70
"""Share of ``http_request`` events that carry the ``route`` template."""


class TelemetryGenerator:
    """Deterministic source of realistic raw events full of fake personal data.

    ``mix`` is the relative share of (``http_request``, ``billing_charge``,
    ``webhook_delivery``); it is normalised, so ``(7, 1.5, 1.5)`` works too.
    ``events_per_second`` is the pace of *event time*, not of generation.
    """

    def __init__(self, *, seed: int = 0, region: str = "eu", start_ms: int | None = None,
                 events_per_second: float = 1000.0,
                 mix: tuple[float, float, float] = (0.7, 0.15, 0.15),
                 max_lateness_ms: int = 2000) -> None:
        check_region(region)
        if not (isinstance(events_per_second, int | float) and events_per_second > 0):
            raise SettingsError("events_per_second must be a number greater than 0")
        if len(mix) != 3 or any(not isinstance(m, int | float) or m < 0 for m in mix) \
                or sum(mix) <= 0:
            raise SettingsError(
                "mix must be three non-negative shares (http_request, billing_charge, "
                "webhook_delivery) with a positive sum"
            )
        if not isinstance(max_lateness_ms, int) or max_lateness_ms < 0:
            raise SettingsError("max_lateness_ms must be an int of at least 0")
        self.seed = seed
        self.region = region
        self.events_per_second = float(events_per_second)
        self.start_ms = int(time.time() * 1000) if start_ms is None else int(start_ms)
        self.max_lateness_ms = max_lateness_ms
        total = float(sum(mix))
        self._cut_http = mix[0] / total
        self._cut_billing = (mix[0] + mix[1]) / total
        self._rng = random.Random(seed)
        self._clock_ms = float(self.start_ms)
        self._step_ms = 1000.0 / self.events_per_second
        self._sec_cache: tuple[int, str] = (-1, "")
        self._build_tables()

    # -- public API -----------------------------------------------------------------------

    def event(self) -> dict[str, Any]:
        """One raw event (a fresh dict; nested objects are not shared between events)."""
        return self._next()[1]

    def events(self, n: int) -> Iterator[dict[str, Any]]:
        """``n`` raw events."""
        nxt = self._next
        for _ in range(n):
            yield nxt()[1]

    def encoded(self, n: int) -> Iterator[tuple[str, bytes]]:
        """``n`` events as ``(event type, orjson bytes)``."""
        nxt = self._next
        dumps = orjson.dumps
        for _ in range(n):
            kind, ev = nxt()
            yield kind, dumps(ev)

    def records(self, n: int) -> Iterator[tuple[str, bytes, bytes]]:
        """``n`` events as Kafka records ``(event type, key = tenant id bytes, value)``."""
        nxt = self._next
        dumps = orjson.dumps
        keys = self._tenant_keys
        for _ in range(n):
            kind, ev = nxt()
            yield kind, keys[ev["tenant_id"]], dumps(ev)

    # -- construction of the lookup tables (once) ------------------------------------------

    def _build_tables(self) -> None:
        rng = self._rng
        countries = REGION_COUNTRIES.get(self.region, tuple(COUNTRIES))
        self._tenants = build_tenants(rng, countries)
        table: list[Tenant] = []
        for spec, tenant in zip(TENANTS, self._tenants, strict=True):
            table.extend([tenant] * max(1, round(spec.weight * 400)))
        self._tenant_table = table
        self._tenant_keys = {t.id: t.key for t in self._tenants}
        self._route_table = [
            (r.method, r.template, r.median_ms, r.ok, r.client_errors, r.path)
            for r in ROUTES for _ in range(r.weight)
        ]
        # Log-normal latency factors (median 1) and a few slow outliers.
        self._lat_factors = [rng.lognormvariate(0.0, 0.65) for _ in range(4096)]
        self._api_hosts = (
            f"https://api.{self.region}.shopfront.io",
            f"https://api.{self.region}.shopfront.io",
            f"https://api.{self.region}.shopfront.io",
            f"https://api.{self.region}.shopfront.io:8443",
        )


    # -- per-event path ---------------------------------------------------------------------

    def _next(self) -> tuple[str, dict[str, Any]]:
        r = self._rng.random
        self._clock_ms += self._step_ms
        ts_ms = int(self._clock_ms)
        if r() < LATE_FRACTION:
            ts_ms -= int(r() * self.max_lateness_ms)
        tables = self._tenant_table
        tenant = tables[int(r() * len(tables))]
        roll = r()
        if roll < self._cut_http:
            return "http_request", self._http(tenant, self._ts(ts_ms))
        if roll < self._cut_billing:
            return "billing_charge", self._billing(tenant, self._ts(ts_ms))
        return "webhook_delivery", self._webhook(tenant, self._ts(ts_ms), ts_ms)

    def _ts(self, ms: int) -> int | str:
        roll = self._rng.random()
        if roll < 0.55:
            return ms
        sec, milli = divmod(ms, 1000)
        if roll < 0.97:
            cached_sec, base = self._sec_cache
            if cached_sec != sec:
                base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
                self._sec_cache = (sec, base)
            if roll < 0.88:
                return f"{base}.{milli:03d}Z"
            if roll < 0.93:
                return f"{base}Z"
            return f"{base}.{milli:03d}+00:00"
        # A non-UTC offset: local wall time plus the offset.
        offset_min = (60, 120, -300, 330)[int(self._rng.random() * 4)]
        local = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec + offset_min * 60))
        sign = "+" if offset_min >= 0 else "-"
        hh, mm = divmod(abs(offset_min), 60)
        return f"{local}.{milli:03d}{sign}{hh:02d}:{mm:02d}"

    def _http(self, tenant: Tenant, ts: int | str) -> dict[str, Any]:
        rng = self._rng
        r = rng.random
        users = tenant.users
        user = users[int(r() * len(users))]
        routes = self._route_table
        method, template, median, ok, client_errors, builder = routes[int(r() * len(routes))]
        path = builder(rng, self._clock_ms, tenant, user)
        roll = r()
        factors = self._lat_factors
        latency = median * factors[int(r() * 4096)]
        if roll < 0.015:
            status = SERVER_ERRORS[int(r() * len(SERVER_ERRORS))]
            if status == 504:
                latency = 30000.0 + latency
        elif roll < 0.095:
            status = client_errors[int(r() * len(client_errors))]
            latency *= 0.4
        else:
            status = ok
        hosts = self._api_hosts
        host = hosts[int(r() * 4)]
        if r() < 0.12:
            host = f"https://{tenant.id}.shopfront.io"
        request_id = f"req_{rng.getrandbits(64):016x}"
        ip = user.ips[int(r() * len(user.ips))]
        headers = {
            "host": host[8:],
            "user-agent": user.user_agent,
            "accept": "application/json",
            "x-request-id": request_id,
            "x-forwarded-for": f"{ip}, 10.{int(r() * 256)}.{int(r() * 256)}.7",
        }
        event: dict[str, Any] = {
            "type": "http_request",
            "ts": ts,
            "tenant_id": tenant.id,
            "method": method,
            "url": host + path,
        }
        if r() < ROUTE_PRESENT:
            event["route"] = template
        event["status"] = status
        event["latency_ms"] = round(latency, 3)
        event["client_ip"] = ip
        event["user_agent"] = user.user_agent
        event["request_id"] = request_id
        if template != "/healthz":
            headers["authorization"] = "Bearer " + user.bearer
            if r() < 0.3:
                headers["cookie"] = f"sid={rng.getrandbits(96):024x}; email={quote(user.email)}"
            event["user"] = {"id": user.id, "email": user.email, "name": user.name,
                             "phone": user.phone}
        event["headers"] = headers
        return event

    def _billing(self, tenant: Tenant, ts: int | str) -> dict[str, Any]:
        rng = self._rng
        r = rng.random
        customers = tenant.customers
        customer = customers[int(r() * len(customers))]
        currency = customer.currency
        zero_decimal = currency in ZERO_DECIMAL
        items = []
        total = 0
        for _ in range(1 + int(r() * r() * 4)):
            sku, description, price = PRODUCTS[int(r() * len(PRODUCTS))]
            quantity = 1 if r() < 0.75 else 2 + int(r() * 4)
            unit = price * 3 // 2 if zero_decimal else price   # ~150 yen per dollar
            amount = unit * quantity
            total += amount
            items.append({"sku": sku, "description": description, "quantity": quantity,
                          "amount_minor": amount})
        address = dict(customer.address)
        event: dict[str, Any] = {
            "type": "billing_charge",
            "ts": ts,
            "tenant_id": tenant.id,
            "customer_id": customer.id,
            "currency": currency,
            "amount_minor": total,
            "charge_id": f"ch_{rng.getrandbits(96):024x}",
            "customer_email": customer.email,
            "customer_name": customer.name,
            "billing_address": address,
            "line_items": items,
            "payment_token": "tok_" + "".join(rng.choices(B62, k=24)),
            "card_brand": customer.card_brand,
            "card_last4": customer.card_number[-4:],
            "card_number": customer.card_number,
            "description": f"Order for {customer.name} <{customer.email}>",
        }
        return event

    def _webhook(self, tenant: Tenant, ts: int | str, ts_ms: int) -> dict[str, Any]:
        rng = self._rng
        r = rng.random
        endpoints = tenant.endpoints
        ep = endpoints[int(r() * len(endpoints))]
        customer = tenant.customers[int(r() * len(tenant.customers))]
        event_type = WEBHOOK_EVENTS[int(r() * len(WEBHOOK_EVENTS))]
        roll = r()
        attempt = 1 if roll < 0.8 else 2 if roll < 0.9 else 3 if roll < 0.95 else \
            4 if roll < 0.98 else 5
        success = r() < ep.success_rate
        latency = 140.0 * self._lat_factors[int(r() * 4096)]
        error: str | None = None
        if success:
            response_status: int | None = (200, 200, 200, 201, 202, 204)[int(r() * 6)]
        else:
            roll = r()
            if roll < 0.35:
                response_status = None
                latency = 30000.0
                error = (f"timeout after 30000 ms waiting for {ep.host} ({ep.ip}:443) "
                         f"while delivering evt for {customer.email}")
            elif roll < 0.5:
                response_status = None
                latency = 3.0 + r() * 20
                error = f"connect ECONNREFUSED {ep.ip}:443"
            elif roll < 0.6:
                response_status = None
                error = f"TLS handshake failed: certificate has expired for {ep.host}"
            else:
                response_status = (500, 500, 502, 503, 404, 410, 401, 400)[int(r() * 8)]
                error = (f"HTTP {response_status} from {ep.url}: "
                         f'{{"error":"customer {customer.name} <{customer.email}> not found"}}')
        amount = 500 + int(r() * 20000)
        event: dict[str, Any] = {
            "type": "webhook_delivery",
            "ts": ts,
            "tenant_id": tenant.id,
            "endpoint_url": ep.url,
            "event_type": event_type,
            "attempt": attempt,
            "response_status": response_status,
            "success": success,
            "duration_ms": round(latency, 2),
            "payload": {
                "id": f"evt_{rng.getrandbits(96):024x}",
                "type": event_type,
                "created": ts_ms // 1000,
                "data": {"object": {
                    "id": f"ch_{rng.getrandbits(64):016x}",
                    "customer": customer.id,
                    "customer_email": customer.email,
                    "customer_name": customer.name,
                    "amount": amount,
                    "currency": customer.currency.lower(),
                    "billing_details": {"address": dict(customer.address),
                                        "phone": None},
                    "metadata": {"order_id": f"ord_{rng.getrandbits(48):012x}"},
                }},
            },
            "error": error,
        }
        return event

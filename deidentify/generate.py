"""Synthetic raw telemetry: realistic events full of *fake* personal data.

The generator produces the three raw event kinds of the raw event contract
(ARCHITECTURE.md, "Raw event contract") — ``http_request``, ``billing_charge`` and
``webhook_delivery`` — for demos, benchmarks and integration tests. Every personal value in
it is invented: names and streets come from small word lists below, IPs mostly from the
documentation ranges, card numbers are the well-known test numbers (all pass Luhn), payment
tokens look like ``tok_…``. Nothing here is read from the outside world.

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
    byte-identical output. ``start_ms=None`` means "now", which is the only source of
    variation between runs.

Topics
    ``raw_topic(kind)`` is the raw topic of an event kind (``TOPICS``);
    ``raw_topic(kind, region)`` prefixes it with the region, ``"eu.telemetry.raw.http_requests"``.
    The prefix exists so that several simulated regions can share one local broker (demo,
    tests); a real region has its own cluster and uses the bare names, which are also the
    ``source.topic`` of the shipped schemas. ``produce`` uses the bare names unless given
    ``topics=`` (``topics=partial(raw_topic, region="eu")`` for the prefixed ones).

Speed
    The per-event path only does dict lookups into tables built once in ``__init__`` and a
    handful of ``random()`` calls; ``encoded()`` runs at well over 100k events/s on one core.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
import os
import random
import re
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote

import orjson

from deidentify.errors import SettingsError

__all__ = [
    "TOPICS",
    "TENANTS",
    "TelemetryGenerator",
    "produce",
    "raw_topic",
    "write_jsonl",
]

TOPICS: dict[str, str] = {
    "http_request": "telemetry.raw.http_requests",
    "billing_charge": "telemetry.raw.billing_charges",
    "webhook_delivery": "telemetry.raw.webhook_deliveries",
}
"""Raw topic of each event kind, without region prefix (see ``raw_topic``)."""

_REGION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


def raw_topic(kind: str, region: str | None = None) -> str:
    """The raw topic that carries events of ``kind``.

    Without ``region`` this is the bare name from ``TOPICS`` (one Kafka cluster per region,
    as in production). With ``region`` the name is prefixed ``f"{region}.{topic}"`` so that
    several simulated regions can share one broker.
    """
    try:
        topic = TOPICS[kind]
    except KeyError:
        raise SettingsError(
            f"unknown event kind {kind!r}; expected one of {', '.join(TOPICS)}"
        ) from None
    if region is None:
        return topic
    _check_region(region)
    return f"{region}.{topic}"


def _check_region(region: str) -> None:
    if not isinstance(region, str) or not _REGION_RE.match(region):
        raise SettingsError(
            "region must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$ (e.g. 'eu', 'us-east')"
        )


# --------------------------------------------------------------------------------------------
# Word lists (all invented or generic; no real person is meant)
# --------------------------------------------------------------------------------------------

_FIRST_NAMES = (
    "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
    "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter",
    "Zoë", "Amélie", "Björn", "Chloé", "Dmitri", "Émile", "Fatima", "Giulia", "Hiroshi",
    "Ines", "Jürgen", "Kaja", "Lars", "Maëlle", "Noor", "Oskar", "Priya", "Quentin", "Rosa",
    "Søren", "Tomasz", "Ulla", "Valentina", "Wei", "Ximena", "Yusuf", "Zofia", "Aoife",
    "Bartosz", "Camille", "Diego", "Elif", "Finn", "Greta", "Hamza", "Isla", "Jonas",
)
_LAST_NAMES = (
    "Smith", "Jones", "Müller", "Schmidt", "Dubois", "Martin", "Rossi", "Bianchi", "García",
    "Fernández", "Kowalski", "Nowak", "Jansen", "de Vries", "Andersson", "Nielsen", "Murphy",
    "O'Brien", "Kelly", "Novák", "Horváth", "Popescu", "Papadopoulos", "Silva", "Santos",
    "Johansson", "Virtanen", "Lefebvre", "Moreau", "Fischer", "Weber", "Wagner", "Becker",
    "Hoffmann", "Costa", "Ferrari", "Esposito", "Lindqvist", "Berg", "Hansen", "Larsen",
    "Tanaka", "Suzuki", "Kim", "Nguyen", "Patel", "Singh", "Chen", "Walker", "Taylor",
)
_EMAIL_DOMAINS = (
    "gmail.com", "outlook.com", "yahoo.co.uk", "proton.me", "gmx.de", "web.de", "orange.fr",
    "icloud.com", "hotmail.com", "example.org", "mail.example.com", "posteo.de", "libero.it",
)
_COMPANIES = (
    "acme-corp", "northwind", "contoso", "globex-intl", "wayne-enterprises", "stark-industries",
    "tyrell", "cyberdyne", "soylent", "initrode", "vandelay", "bluth", "sirius-cybernetics",
    "prestige-worldwide", "gringotts", "oceanic", "massive-dynamic", "hooli-xyz", "aperture",
    "black-mesa", "monarch", "wonka", "oscorp", "umbrella-labs", "krusty",
)
_STREETS = (
    "High Street", "Station Road", "Hauptstraße", "Bahnhofstraße", "Rue de la Paix",
    "Rue Victor Hugo", "Via Roma", "Calle Mayor", "Kerkstraat", "Storgatan", "Main Street",
    "Oak Avenue", "Maple Drive", "Church Lane", "Mill Road", "Park Avenue", "Elm Street",
    "Ulica Długa", "Rua Augusta", "Gran Vía",
)
# country -> (cities, currency, phone prefix, phone digits after it, postal code format with
# "9" = digit, "A" = letter). Phone prefixes are the fictional/drama ranges where one exists.
_COUNTRIES: dict[str, tuple[tuple[str, ...], str, str, int, str]] = {
    "DE": (("Berlin", "München", "Hamburg", "Köln"), "EUR", "+49 30 ", 8, "99999"),
    "FR": (("Paris", "Lyon", "Marseille", "Lille"), "EUR", "+33 6 ", 8, "99999"),
    "NL": (("Amsterdam", "Rotterdam", "Utrecht"), "EUR", "+31 6 ", 8, "9999 AA"),
    "IE": (("Dublin", "Cork", "Galway"), "EUR", "+353 87 ", 7, "A99 A9A9"),
    "ES": (("Madrid", "Barcelona", "Valencia"), "EUR", "+34 6", 8, "99999"),
    "IT": (("Roma", "Milano", "Torino"), "EUR", "+39 3", 9, "99999"),
    "SE": (("Stockholm", "Göteborg", "Malmö"), "SEK", "+46 70 ", 7, "999 99"),
    "PL": (("Warszawa", "Kraków", "Gdańsk"), "PLN", "+48 5", 8, "99-999"),
    "GB": (("London", "Manchester", "Leeds", "Bristol"), "GBP", "+44 7700 900", 3, "AA9 9AA"),
    "CH": (("Zürich", "Genève", "Basel"), "CHF", "+41 79 ", 7, "9999"),
    "US": (("New York", "Austin", "Seattle", "Chicago"), "USD", "+1 202-555-01", 2, "99999"),
    "CA": (("Toronto", "Montréal", "Vancouver"), "CAD", "+1 416-555-01", 2, "A9A 9A9"),
    "JP": (("Tokyo", "Osaka", "Kyoto"), "JPY", "+81 90-", 8, "999-9999"),
    "AU": (("Sydney", "Melbourne", "Brisbane"), "AUD", "+61 491 570 ", 3, "9999"),
    "SG": (("Singapore",), "SGD", "+65 8", 7, "999999"),
    "IN": (("Bengaluru", "Mumbai", "Pune"), "INR", "+91 98", 8, "999999"),
}
_REGION_COUNTRIES: dict[str, tuple[str, ...]] = {
    "eu": ("DE", "DE", "FR", "FR", "NL", "IE", "ES", "IT", "SE", "PL", "GB", "GB", "CH"),
    "us": ("US", "US", "US", "US", "CA"),
    "ap": ("JP", "JP", "AU", "SG", "IN"),
}
_ZERO_DECIMAL = frozenset({"JPY", "KRW", "CLP", "VND"})

_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.0 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Mobile Safari/537.36",
    "shopfront-python/3.4.1 (python 3.12.7; linux)",
    "shopfront-node/12.0.3 node/v22.11.0",
    "okhttp/4.12.0",
    "curl/8.10.1",
    "PostmanRuntime/7.42.0",
    "Go-http-client/2.0",
)
_PRODUCTS = (
    ("SKU-TSHIRT-M", "Organic cotton t-shirt, size M", 2500),
    ("SKU-MUG-01", "Ceramic mug 350 ml", 1200),
    ("SKU-PRO-MONTH", "Pro plan, monthly", 4900),
    ("SKU-TEAM-YEAR", "Team plan, yearly (5 seats)", 99000),
    ("SKU-SEAT", "Additional seat", 900),
    ("SKU-STICKERS", "Sticker pack", 400),
    ("SKU-HOODIE-L", "Hoodie, size L", 5900),
    ("SKU-SUPPORT", "Priority support add-on", 19900),
    ("SKU-GIFT-50", "Gift card 50", 5000),
    ("SKU-SHIP-EXP", "Express shipping", 1500),
)
_WEBHOOK_EVENTS = (   # repeated entries are the frequent ones
    "charge.succeeded", "charge.succeeded", "charge.succeeded", "charge.failed",
    "charge.refunded", "invoice.created", "invoice.paid", "invoice.paid",
    "invoice.payment_failed", "customer.created", "customer.updated",
    "checkout.session.completed", "payment_intent.succeeded", "payment_intent.payment_failed",
    "subscription.updated", "subscription.canceled", "refund.created",
)
# Stripe-style public test card numbers: every one passes the Luhn check.
_TEST_CARDS = (
    ("visa", "4242424242424242"), ("visa", "4000056655665556"), ("visa", "4012888888881881"),
    ("mastercard", "5555555555554444"), ("mastercard", "2223003122003222"),
    ("mastercard", "5105105105105100"), ("amex", "378282246310005"),
    ("amex", "371449635398431"), ("discover", "6011111111111117"),
    ("diners", "3056930009020004"), ("jcb", "3566002020360505"),
    ("unionpay", "6200000000000005"),
)
_HEX = "0123456789abcdef"
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class _TenantSpec:
    tenant_id: str
    weight: float
    users: int
    customers: int
    endpoints: int


TENANTS: tuple[_TenantSpec, ...] = (
    _TenantSpec("acme", 0.34, 800, 1500, 40),
    _TenantSpec("globex", 0.25, 500, 900, 30),
    _TenantSpec("initech", 0.18, 300, 500, 20),
    _TenantSpec("umbrella", 0.12, 200, 300, 15),
    _TenantSpec("hooli", 0.10, 150, 250, 12),
    # A tiny tenant: its cells should stay under any sensible k and roll into __other__.
    _TenantSpec("pied-piper", 0.01, 4, 3, 2),
)
"""The tenants the generator simulates (ids match ``^[A-Za-z0-9_-]{1,64}$``)."""


@dataclass
class _User:
    id: str
    email: str
    name: str
    phone: str
    slug: str            # "alice.smith": how the user appears in some URLs
    ips: tuple[str, ...]
    user_agent: str
    bearer: str          # a JWT-looking token carrying the email


@dataclass
class _Customer:
    id: str
    email: str
    name: str
    address: dict[str, str]
    currency: str
    card_brand: str
    card_number: str


@dataclass
class _Endpoint:
    url: str
    host: str
    ip: str
    success_rate: float


@dataclass
class _Tenant:
    id: str
    key: bytes
    users: list[_User]
    customers: list[_Customer]
    endpoints: list[_Endpoint]   # expanded by weight


# --------------------------------------------------------------------------------------------
# Routes of the simulated REST API
# --------------------------------------------------------------------------------------------

# (method, route template, weight, median latency ms, success status, typical 4xx)
_ROUTES: tuple[tuple[str, str, int, float, int, tuple[int, ...]], ...] = (
    ("GET", "/healthz", 8, 0.8, 200, (429,)),
    ("GET", "/v1/orders/{id}", 14, 18.0, 200, (404, 404, 401, 403)),
    ("POST", "/v1/orders", 6, 85.0, 201, (400, 422, 409, 401)),
    ("GET", "/v1/orders", 5, 42.0, 200, (400, 401)),
    ("GET", "/v1/customers/{id}", 6, 15.0, 200, (404, 401)),
    ("GET", "/v1/customers/{id}/invoices", 7, 55.0, 200, (404, 401, 403)),
    ("POST", "/v1/checkout/sessions", 4, 120.0, 201, (400, 422)),
    ("GET", "/v1/checkout/sessions/{id}", 5, 22.0, 200, (404, 410)),
    ("GET", "/v1/users/{email}", 3, 12.0, 200, (404, 403)),
    ("GET", "/v1/invoices/{id}/pdf", 4, 240.0, 200, (404, 401)),
    ("POST", "/v1/payment_intents/{id}/confirm", 4, 310.0, 200, (402, 402, 409, 422)),
    ("DELETE", "/v1/subscriptions/{id}", 1, 60.0, 204, (404, 409)),
    ("GET", "/v1/reports/{date}", 2, 900.0, 200, (400, 403)),
    ("GET", "/v1/search", 4, 75.0, 200, (400,)),
    ("POST", "/v1/auth/token", 3, 95.0, 200, (401, 401, 400, 429)),
    ("GET", "/v1/me", 5, 6.0, 200, (401,)),
    ("GET", "/v1/accounts/{id}/members/{member}", 3, 20.0, 200, (404, 403)),
    ("GET", "/v1/files/{id}/download", 2, 160.0, 200, (403, 404, 410)),
    ("PUT", "/v1/customers/{id}/addresses/{address_id}", 2, 35.0, 200, (400, 404, 422)),
    ("GET", "/static/{filename}", 2, 2.5, 200, (404,)),
    ("POST", "/v1/webhooks/endpoints", 1, 45.0, 201, (400, 422)),
    ("GET", "/v1/products/{sku}", 3, 9.0, 200, (404,)),
)
_5XX = (500, 500, 502, 503, 503, 504)
_LATE_FRACTION = 0.05
_ROUTE_PRESENT = 0.70


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
        _check_region(region)
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
        self._serial = 0
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
        self._countries = _REGION_COUNTRIES.get(self.region, tuple(_COUNTRIES))
        self._tenants: list[_Tenant] = []
        table: list[_Tenant] = []
        for spec in TENANTS:
            tenant = _Tenant(
                id=spec.tenant_id,
                key=spec.tenant_id.encode(),
                users=[self._make_user(spec.tenant_id) for _ in range(spec.users)],
                customers=[self._make_customer() for _ in range(spec.customers)],
                endpoints=[],
            )
            eps = [self._make_endpoint(tenant, i) for i in range(spec.endpoints)]
            # Zipf-like popularity: endpoint i weighs 1/(i+1).
            for i, ep in enumerate(eps):
                tenant.endpoints.extend([ep] * max(1, round(12 / (i + 1))))
            self._tenants.append(tenant)
            table.extend([tenant] * max(1, round(spec.weight * 400)))
        self._tenant_table = table
        self._tenant_keys = {t.id: t.key for t in self._tenants}

        routes = []
        for method, template, weight, median, ok, client_errors in _ROUTES:
            builder = getattr(self, "_path_" + _route_builder_name(template))
            routes.extend([(method, template, median, ok, client_errors, builder)] * weight)
        self._route_table = routes
        # Log-normal latency factors (median 1) and a few slow outliers.
        self._lat_factors = [rng.lognormvariate(0.0, 0.65) for _ in range(4096)]
        self._api_hosts = (
            f"https://api.{self.region}.shopfront.io",
            f"https://api.{self.region}.shopfront.io",
            f"https://api.{self.region}.shopfront.io",
            f"https://api.{self.region}.shopfront.io:8443",
        )

    def _make_user(self, tenant_id: str) -> _User:
        rng = self._rng
        first = rng.choice(_FIRST_NAMES)
        last = rng.choice(_LAST_NAMES)
        slug = f"{_ascii(first)}.{_ascii(last)}"
        style = rng.random()
        if style < 0.5:
            local = slug
        elif style < 0.8:
            local = f"{_ascii(first)}{_ascii(last)[0]}{rng.randrange(1, 999)}"
        else:
            local = f"{_ascii(first)[0]}.{_ascii(last)}+{tenant_id}"
        email = f"{local}@{rng.choice(_EMAIL_DOMAINS)}"
        country = rng.choice(self._countries)
        user_id = "usr_" + "".join(rng.choices(_B62, k=14))
        ips = tuple(self._random_ip() for _ in range(rng.randint(1, 3)))
        claims = orjson.dumps({"sub": user_id, "email": email, "tid": tenant_id,
                               "exp": 1893456000})
        bearer = ".".join((
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
            base64.urlsafe_b64encode(claims).rstrip(b"=").decode(),
            base64.urlsafe_b64encode(rng.randbytes(32)).rstrip(b"=").decode(),
        ))
        return _User(
            id=user_id, email=email, name=f"{first} {last}",
            phone=self._phone(country), slug=slug, ips=ips,
            user_agent=rng.choice(_USER_AGENTS), bearer=bearer,
        )

    def _make_customer(self) -> _Customer:
        rng = self._rng
        first = rng.choice(_FIRST_NAMES)
        last = rng.choice(_LAST_NAMES)
        country = rng.choice(self._countries)
        cities, currency, _, _, postal = _COUNTRIES[country]
        if rng.random() < 0.12:
            currency = "USD"
        brand, number = rng.choice(_TEST_CARDS)
        address = {
            "name": f"{first} {last}",
            "line1": f"{rng.randint(1, 240)} {rng.choice(_STREETS)}",
            "line2": f"Apt {rng.randint(1, 80)}" if rng.random() < 0.3 else "",
            "city": rng.choice(cities),
            "postal_code": self._postal(postal),
            "country": country,
        }
        email_local = f"{_ascii(first)}.{_ascii(last)}{rng.randrange(10, 99)}"
        return _Customer(
            id="cus_" + "".join(rng.choices(_B62, k=14)),
            email=f"{email_local}@{rng.choice(_EMAIL_DOMAINS)}",
            name=f"{first} {last}", address=address, currency=currency,
            card_brand=brand, card_number=number,
        )

    def _make_endpoint(self, tenant: _Tenant, i: int) -> _Endpoint:
        rng = self._rng
        owner = rng.choice(tenant.customers)
        person = owner.name.split(" ")[0]
        slug = _ascii(person) + "-" + _ascii(owner.name.split(" ")[-1])
        company = rng.choice(_COMPANIES)
        h = rng.getrandbits(128)
        hx = f"{h:032x}"
        uuid = f"{hx[:8]}-{hx[8:12]}-4{hx[13:16]}-a{hx[17:20]}-{hx[20:]}"
        ip = self._random_ip(v6_share=0.0)
        n = rng.randint(2, 250)
        # Each tenant's most used endpoints are on shared relays (Slack, Zapier…): those hosts
        # see every tenant, so their cells reach k; personal hosts mostly do not.
        kind = 5 if i < 4 else (i + rng.randrange(11)) % 11
        if kind == 0:
            host, url = f"{slug}-shop.github.io", f"/hooks/{hx[:6]}?sig={hx[6:30]}"
        elif kind == 1:
            host, url = f"hooks.{company}.com", f"/stripe/whsec_{hx[:24]}"
        elif kind == 2:
            host, url = f"{slug}.netlify.app", "/.netlify/functions/webhook"
        elif kind == 3:
            host, url = f"{company}.myshopify.com", f"/webhooks/payments?token=tok_{hx[:20]}"
        elif kind == 4:
            host, url = f"api.{company}.co.uk", f"/v2/webhooks/{uuid}"
        elif kind == 5:
            host, url = (
                ("hooks.slack.com", f"/services/T{hx[:8].upper()}/B{hx[8:16].upper()}/{hx[16:]}"),
                ("hooks.zapier.com", f"/hooks/catch/{n * 7919}/{hx[:6]}/"),
                ("webhook.site", f"/{uuid}"),
                (f"eo{hx[:14]}.m.pipedream.net", "/"),
            )[i % 4]
        elif kind == 6:
            host, url = f"{slug}.ngrok-free.app", "/webhook"
        elif kind == 7:
            host, url = f"203.0.113.{n}:8443", "/hook"
        elif kind == 8:
            host, url = f"ops:{hx[:12]}@hooks.{company}.io", "/in"
        elif kind == 9:
            host = f"{slug}.herokuapp.com"
            url = f"/webhooks/{owner.id}?email={quote(owner.email, safe='')}"
        else:
            host, url = f"[2001:db8::{n:x}]", "/hooks"
        scheme = "http://" if kind == 10 or rng.random() < 0.05 else "https://"
        roll = rng.random()
        success_rate = 0.0 if roll < 0.04 else 0.6 if roll < 0.15 else 0.985
        return _Endpoint(url=scheme + host + url, host=host.rsplit("@", 1)[-1], ip=ip,
                         success_rate=success_rate)

    def _random_ip(self, v6_share: float = 0.2) -> str:
        rng = self._rng
        roll = rng.random()
        if roll < v6_share * 0.5:
            return f"2001:db8:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}"
        if roll < v6_share:
            g = [f"{rng.getrandbits(16):x}" for _ in range(4)]
            return f"2a02:{rng.randint(0x1000, 0x8fff):x}:{':'.join(g)}:{rng.getrandbits(16):x}:1"
        if roll < 0.6:
            prefix = rng.choice(("203.0.113", "198.51.100", "192.0.2"))
            return f"{prefix}.{rng.randint(1, 254)}"
        first = rng.choice((31, 37, 46, 62, 77, 81, 82, 85, 88, 89, 91, 93, 94, 95, 176, 178))
        return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"

    def _phone(self, country: str) -> str:
        _, _, prefix, digits, _ = _COUNTRIES[country]
        return prefix + "".join(self._rng.choices("0123456789", k=digits))

    def _postal(self, fmt: str) -> str:
        rng = self._rng
        return "".join(
            rng.choice("0123456789") if c == "9"
            else rng.choice("ABCDEFGHJKLMNPRSTUVWXY") if c == "A" else c
            for c in fmt
        )

    # -- per-event path ---------------------------------------------------------------------

    def _next(self) -> tuple[str, dict[str, Any]]:
        r = self._rng.random
        self._clock_ms += self._step_ms
        ts_ms = int(self._clock_ms)
        if r() < _LATE_FRACTION:
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

    def _http(self, tenant: _Tenant, ts: int | str) -> dict[str, Any]:
        rng = self._rng
        r = rng.random
        users = tenant.users
        user = users[int(r() * len(users))]
        routes = self._route_table
        method, template, median, ok, client_errors, builder = routes[int(r() * len(routes))]
        path = builder(tenant, user)
        roll = r()
        factors = self._lat_factors
        latency = median * factors[int(r() * 4096)]
        if roll < 0.015:
            status = _5XX[int(r() * len(_5XX))]
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
        if r() < _ROUTE_PRESENT:
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

    def _billing(self, tenant: _Tenant, ts: int | str) -> dict[str, Any]:
        rng = self._rng
        r = rng.random
        customers = tenant.customers
        customer = customers[int(r() * len(customers))]
        currency = customer.currency
        zero_decimal = currency in _ZERO_DECIMAL
        items = []
        total = 0
        for _ in range(1 + int(r() * r() * 4)):
            sku, description, price = _PRODUCTS[int(r() * len(_PRODUCTS))]
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
            "payment_token": "tok_" + "".join(rng.choices(_B62, k=24)),
            "card_brand": customer.card_brand,
            "card_last4": customer.card_number[-4:],
            "card_number": customer.card_number,
            "description": f"Order for {customer.name} <{customer.email}>",
        }
        return event

    def _webhook(self, tenant: _Tenant, ts: int | str, ts_ms: int) -> dict[str, Any]:
        rng = self._rng
        r = rng.random
        endpoints = tenant.endpoints
        ep = endpoints[int(r() * len(endpoints))]
        customer = tenant.customers[int(r() * len(tenant.customers))]
        event_type = _WEBHOOK_EVENTS[int(r() * len(_WEBHOOK_EVENTS))]
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

    # -- concrete paths, one builder per route template -------------------------------------

    def _id(self, prefix: str, bits: int = 64) -> str:
        return f"{prefix}{self._rng.getrandbits(bits):0{bits // 4}x}"

    def _uuid(self) -> str:
        hx = f"{self._rng.getrandbits(128):032x}"
        return f"{hx[:8]}-{hx[8:12]}-4{hx[13:16]}-8{hx[17:20]}-{hx[20:]}"

    def _path_healthz(self, tenant: _Tenant, user: _User) -> str:
        return "/healthz"

    def _path_orders_id(self, tenant: _Tenant, user: _User) -> str:
        if self._rng.random() < 0.4:
            return f"/v1/orders/{self._rng.randint(100000, 99999999)}"
        return "/v1/orders/" + self._id("ord_")

    def _path_orders(self, tenant: _Tenant, user: _User) -> str:
        r = self._rng.random()
        if r < 0.5:
            cus = tenant.customers[int(self._rng.random() * len(tenant.customers))]
            return f"/v1/orders?customer={cus.id}&limit=20&page={1 + int(r * 10)}"
        if r < 0.7:
            return f"/v1/orders?email={quote(user.email, safe='')}"
        return "/v1/orders"

    def _path_customers_id(self, tenant: _Tenant, user: _User) -> str:
        cus = tenant.customers[int(self._rng.random() * len(tenant.customers))]
        return f"/v1/customers/{cus.id}"

    def _path_customers_id_invoices(self, tenant: _Tenant, user: _User) -> str:
        cus = tenant.customers[int(self._rng.random() * len(tenant.customers))]
        query = "?status=open&limit=20" if self._rng.random() < 0.5 else ""
        return f"/v1/customers/{cus.id}/invoices{query}"

    def _path_checkout_sessions(self, tenant: _Tenant, user: _User) -> str:
        return "/v1/checkout/sessions"

    def _path_checkout_sessions_id(self, tenant: _Tenant, user: _User) -> str:
        return "/v1/checkout/sessions/" + self._id("cs_live_", 160)

    def _path_users_email(self, tenant: _Tenant, user: _User) -> str:
        if self._rng.random() < 0.5:
            return f"/v1/users/{user.email}"
        return "/v1/users/" + quote(user.email, safe="")

    def _path_invoices_id_pdf(self, tenant: _Tenant, user: _User) -> str:
        return f"/v1/invoices/{self._uuid()}/pdf?token={user.bearer}"

    def _path_payment_intents_id_confirm(self, tenant: _Tenant, user: _User) -> str:
        return "/v1/payment_intents/" + self._id("pi_", 96) + "/confirm"

    def _path_subscriptions_id(self, tenant: _Tenant, user: _User) -> str:
        return "/v1/subscriptions/" + self._id("sub_", 96)

    def _path_reports_date(self, tenant: _Tenant, user: _User) -> str:
        day = time.gmtime(self._clock_ms / 1000 - 86400 * int(self._rng.random() * 30))
        return time.strftime("/v1/reports/%Y-%m-%d", day)

    def _path_search(self, tenant: _Tenant, user: _User) -> str:
        q = quote(user.name.split(" ")[-1])
        if self._rng.random() < 0.5:
            return f"/v1/search?q={q}&email={quote(user.email, safe='')}"
        return f"/v1/search?q={q}&utm_source=newsletter&utm_campaign=black-friday"

    def _path_auth_token(self, tenant: _Tenant, user: _User) -> str:
        if self._rng.random() < 0.3:
            return ("/v1/auth/token?grant_type=password&username="
                    + quote(user.email, safe=""))
        return "/v1/auth/token"

    def _path_me(self, tenant: _Tenant, user: _User) -> str:
        return "/v1/me"

    def _path_accounts_id_members_member(self, tenant: _Tenant, user: _User) -> str:
        # A word-like user slug in the path: no id pattern matches "alice.smith".
        return f"/v1/accounts/acct_{tenant.id}/members/{user.slug}"

    def _path_files_id_download(self, tenant: _Tenant, user: _User) -> str:
        token = "".join(self._rng.choices(_B62, k=32))
        return f"/v1/files/{self._id('file_', 96)}/download?access_token=tok_{token}"

    def _path_customers_id_addresses_address_id(self, tenant: _Tenant, user: _User) -> str:
        cus = tenant.customers[int(self._rng.random() * len(tenant.customers))]
        return f"/v1/customers/{cus.id}/addresses/{self._id('addr_', 48)}"

    def _path_static_filename(self, tenant: _Tenant, user: _User) -> str:
        name = ("app", "vendor", "styles", "runtime")[int(self._rng.random() * 4)]
        ext = "css" if name == "styles" else "js"
        return f"/static/{name}.{self._rng.getrandbits(32):08x}.{ext}"

    def _path_webhooks_endpoints(self, tenant: _Tenant, user: _User) -> str:
        return "/v1/webhooks/endpoints"

    def _path_products_sku(self, tenant: _Tenant, user: _User) -> str:
        return "/v1/products/" + _PRODUCTS[int(self._rng.random() * len(_PRODUCTS))][0]


def _route_builder_name(template: str) -> str:
    """``/v1/customers/{id}/invoices`` → ``customers_id_invoices``."""
    parts = [p.strip("{}") for p in template.split("/") if p and p != "v1"]
    return "_".join(parts)


_ASCII_FOLD = str.maketrans({"ß": "ss", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L"})


def _ascii(name: str) -> str:
    """``"Zoë O'Brien"`` → ``"zoeobrien"``: how a name turns up in slugs and emails."""
    folded = unicodedata.normalize("NFKD", name.translate(_ASCII_FOLD))
    return "".join(c for c in folded if c.isascii() and c.isalnum()).lower()


# --------------------------------------------------------------------------------------------
# JSON lines
# --------------------------------------------------------------------------------------------

def write_jsonl(path_or_file: str | os.PathLike[str] | IO[Any], n: int, *, seed: int = 0,
                region: str = "eu", start_ms: int | None = None) -> None:
    """Write ``n`` events as JSON lines to a path (``"-"`` = stdout) or an open file.

    Binary and text files both work. Used by ``deidentify generate --out`` and for
    ``deidentify preview`` demos and benchmarks. Without ``start_ms`` the events end about
    now (a file holds the recent past): event times more than a few minutes ahead of the
    wall clock are rejected as ``future_timestamp`` by the pipeline.
    """
    if not isinstance(n, int) or n < 0:
        raise SettingsError("the number of events must be an int of at least 0")
    if start_ms is None:
        start_ms = int(time.time() * 1000) - n            # 1000 events/s of event time
    gen = TelemetryGenerator(seed=seed, region=region, start_ms=start_ms)
    if isinstance(path_or_file, str | os.PathLike):
        if os.fspath(path_or_file) == "-":
            _write_lines(sys.stdout.buffer, gen, n)
            sys.stdout.buffer.flush()
            return
        with open(path_or_file, "wb") as fh:
            _write_lines(fh, gen, n)
        return
    if isinstance(path_or_file, io.TextIOBase):
        _write_lines(path_or_file, gen, n, text=True)
    else:
        _write_lines(path_or_file, gen, n)


def _write_lines(fh: IO[Any], gen: TelemetryGenerator, n: int, *, text: bool = False) -> None:
    chunk: list[bytes] = []
    for _, line in gen.encoded(n):
        chunk.append(line)
        if len(chunk) >= 2000:
            _flush_chunk(fh, chunk, text)
            chunk = []
    if chunk:
        _flush_chunk(fh, chunk, text)


def _flush_chunk(fh: IO[Any], chunk: list[bytes], text: bool) -> None:
    data = b"\n".join(chunk) + b"\n"
    fh.write(data.decode() if text else data)


# --------------------------------------------------------------------------------------------
# Kafka
# --------------------------------------------------------------------------------------------

_FLUSH_EVERY = 20_000


async def produce(bootstrap: str, *, region: str, count: int | None, rate: float | None,
                  seed: int = 0, topics: Callable[[str], str] | None = None,
                  progress: bool = True, security: dict[str, Any] | None = None,
                  force_progress: bool = False, start_ms: int | None = None) -> int:
    """Produce generated events to the raw topics; return how many were produced.

    * ``region`` shapes the traffic (API host ``api.{region}.shopfront.io``, the countries,
      phones and currencies of users and customers); it names topics only through
      ``topics``.
    * ``count`` events, or forever when ``None`` (until cancelled).
    * At most ``rate`` events/s of wall-clock time when given, else as fast as possible.
      Event time advances at ``rate`` events/s too (1000/s when unthrottled), starting at
      ``start_ms`` (default now; unthrottled with a ``count``, ``count`` ms before now, so
      the backlog ends about now), so windows close in step with the wall clock.
    * ``topics(kind)`` names the topic of each event kind; default ``raw_topic(kind)``, the
      bare names the shipped schemas read. ``partial(raw_topic, region=region)`` gives the
      region-prefixed names (several simulated regions on one broker).
    * Keys are the tenant id bytes, so one tenant's events share a partition.
    * ``security``: extra ``AIOKafkaProducer`` keyword arguments (``security_protocol``,
      ``sasl_mechanism``, ``sasl_plain_username``, ``sasl_plain_password``,
      ``ssl_context``…), passed through unchanged.
    * Progress: a one-line text bar on stderr when ``progress`` and stderr is a tty, or
      always with ``force_progress``.

    Records are batched by the producer (``send()`` without awaiting each delivery, linger,
    large batches); deliveries are checked at every periodic ``flush()``. Kafka errors are
    translated into ``BrokerUnavailable``, ``AuthenticationFailed`` or ``RuntimeFailure``.
    """
    if count is not None and (not isinstance(count, int) or count < 0):
        raise SettingsError("--count must be an int of at least 0")
    if rate is not None and not (isinstance(rate, int | float) and rate > 0):
        raise SettingsError("--rate must be a number greater than 0 (events per second)")
    _check_region(region)
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    topic_of = topics or raw_topic
    names = {kind: topic_of(kind) for kind in TOPICS}
    if start_ms is None and rate is None and count is not None:
        # unthrottled: a backlog that ends about now, never event times far ahead of the
        # wall clock (the sidecar rejects those as future_timestamp)
        start_ms = int(time.time() * 1000) - count
    gen = TelemetryGenerator(seed=seed, region=region, start_ms=start_ms,
                             events_per_second=rate or 1000.0)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="deidentify-generate",
        acks=1,
        linger_ms=20,
        max_batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
        **(security or {}),
    )
    bar = _ProgressBar(count) if (progress and sys.stderr.isatty()) or force_progress else None
    produced = 0
    try:
        causes = _CauseRecorder()
        try:
            with causes.attached():
                await producer.start()
        except KafkaError as exc:
            raise _translate(exc, bootstrap, causes.seen) from exc
        loop = asyncio.get_running_loop()
        started = loop.time()
        chunk = 5000 if rate is None else max(1, min(5000, int(rate / 20)))
        pending: list[asyncio.Future[Any]] = []
        send = producer.send
        # The default partitioner hashes the key (murmur2, in Python) on every send; there
        # are only a few tenants, so each (topic, key) is hashed once, the same way.
        partition_of: dict[tuple[str, bytes], int] = {}
        while count is None or produced < count:
            n = chunk if count is None else min(chunk, count - produced)
            for kind, key, value in gen.records(n):
                topic = names[kind]
                try:
                    partition = partition_of.get((topic, key))
                    if partition is None:
                        partition = await _key_partition(producer, topic, key)
                        partition_of[topic, key] = partition
                    pending.append(await send(topic, value, key=key, partition=partition))
                except KafkaError as exc:
                    raise _translate(exc, bootstrap) from exc
            produced += n
            if len(pending) >= _FLUSH_EVERY:
                await _flush(producer, pending, bootstrap)
                pending = []
            if bar is not None:
                bar.update(produced)
            if rate is not None:
                delay = started + produced / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
        await _flush(producer, pending, bootstrap)
    finally:
        if bar is not None:
            bar.close(produced)
        await producer.stop()
    return produced


async def _key_partition(producer: Any, topic: str, key: bytes) -> int:
    """The partition aiokafka's default partitioner picks for ``key`` on ``topic``."""
    from aiokafka.partitioner import DefaultPartitioner

    partitions = sorted(await producer.partitions_for(topic))
    return DefaultPartitioner()(key, partitions, partitions)


async def _flush(producer: Any, pending: list[asyncio.Future[Any]], bootstrap: str) -> None:
    from aiokafka.errors import KafkaError

    try:
        await producer.flush()
    except KafkaError as exc:
        raise _translate(exc, bootstrap) from exc
    for fut in pending:
        if fut.done() and not fut.cancelled():
            exc = fut.exception()
            if exc is not None:
                if isinstance(exc, KafkaError):
                    raise _translate(exc, bootstrap) from exc
                raise exc


def _translate(exc: BaseException, bootstrap: str,
               causes: tuple[type[BaseException], ...] = ()) -> Exception:
    """Kafka errors -> deidentify's (:mod:`deidentify.runtime.kafka_errors`, loaded lazily)."""
    from deidentify.runtime.kafka_errors import translate
    return translate(exc, bootstrap, causes)


class _CauseRecorder(logging.Handler):
    """Collects the *types* of exceptions aiokafka logs while attached (never messages)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: tuple[type[BaseException], ...] = ()

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        self.seen += tuple(type(a) for a in args if isinstance(a, BaseException))

    @contextlib.contextmanager
    def attached(self) -> Iterator[None]:
        logger = logging.getLogger("aiokafka")
        logger.addHandler(self)
        try:
            yield
        finally:
            logger.removeHandler(self)


class _ProgressBar:
    """A one-line progress display on stderr, redrawn at most ten times a second."""

    width = 30

    def __init__(self, total: int | None, stream: IO[str] | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.last_draw = 0.0

    def update(self, done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        elapsed = max(now - self.started, 1e-9)
        speed = _human(done / elapsed)
        if self.total:
            filled = int(self.width * done / self.total)
            bar = "#" * filled + "-" * (self.width - filled)
            line = (f"\r[{bar}] {100 * done / self.total:5.1f}%  {done:,}/{self.total:,} events"
                    f"  {speed} ev/s  {elapsed:.1f}s")
        else:
            line = f"\rproduced {done:,} events  {speed} ev/s  {elapsed:.1f}s"
        self.stream.write(line)
        self.stream.flush()

    def close(self, done: int) -> None:
        self.update(done, force=True)
        self.stream.write("\n")
        self.stream.flush()


def _human(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"

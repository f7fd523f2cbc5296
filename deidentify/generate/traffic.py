"""The simulated REST API: each route template declared with the builder of its paths.

``ROUTES`` is the table of the ~20 routes of the API, in declaration order. Each entry is
registered by the ``@route(...)`` decorator on the function that builds a concrete URL path
(and query) for it, so a template and the paths it stands for sit side by side: adding a
route is one decorated function. The generator expands the table by ``weight`` once and
then picks an entry per ``http_request`` with one index.

A builder is ``(rng, now_ms, tenant, user) -> str``: it draws from the generator's
``random.Random`` (the order of draws is part of the seeded output), ``now_ms`` is the
event clock. Paths carry what real URLs carry: ids, uuids, emails (plain and
percent-encoded), user slugs, tokens and emails in query strings.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from deidentify.generate.population import Tenant, User
from deidentify.generate.words import B62, PRODUCTS

PathBuilder = Callable[[random.Random, float, Tenant, User], str]

SERVER_ERRORS = (500, 500, 502, 503, 503, 504)
"""5xx statuses, drawn uniformly (so 500 and 503 are the frequent ones)."""


@dataclass(frozen=True)
class Route:
    """One route of the simulated API and how its traffic looks."""

    method: str
    template: str                 # the framework's route template, sent as ``route``
    weight: int                   # relative share of http_request events
    median_ms: float              # median latency (log-normal around it)
    ok: int                       # status of a successful request
    client_errors: tuple[int, ...]   # typical 4xx, repeated entries are the frequent ones
    path: PathBuilder             # a concrete path (and query) for this template


_routes: list[Route] = []


def route(method: str, template: str, *, weight: int, median_ms: float, ok: int,
          client_errors: tuple[int, ...]) -> Callable[[PathBuilder], PathBuilder]:
    """Register the decorated path builder as ``method template`` (appended to ``ROUTES``)."""
    def register(path: PathBuilder) -> PathBuilder:
        _routes.append(Route(method, template, weight, median_ms, ok, client_errors, path))
        return path
    return register


def _id(rng: random.Random, prefix: str, bits: int = 64) -> str:
    return f"{prefix}{rng.getrandbits(bits):0{bits // 4}x}"


def _uuid(rng: random.Random) -> str:
    hx = f"{rng.getrandbits(128):032x}"
    return f"{hx[:8]}-{hx[8:12]}-4{hx[13:16]}-8{hx[17:20]}-{hx[20:]}"


def _customer_id(rng: random.Random, tenant: Tenant) -> str:
    return tenant.customers[int(rng.random() * len(tenant.customers))].id


# -- the routes, in table order (the order is part of the seeded output) ----------------------

@route("GET", "/healthz", weight=8, median_ms=0.8, ok=200, client_errors=(429,))
def healthz(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    return "/healthz"


@route("GET", "/v1/orders/{id}", weight=14, median_ms=18.0, ok=200,
       client_errors=(404, 404, 401, 403))
def order(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    if rng.random() < 0.4:
        return f"/v1/orders/{rng.randint(100000, 99999999)}"
    return "/v1/orders/" + _id(rng, "ord_")


@route("POST", "/v1/orders", weight=6, median_ms=85.0, ok=201,
       client_errors=(400, 422, 409, 401))
def orders(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    r = rng.random()
    if r < 0.5:
        cus = _customer_id(rng, tenant)
        return f"/v1/orders?customer={cus}&limit=20&page={1 + int(r * 10)}"
    if r < 0.7:
        return f"/v1/orders?email={quote(user.email, safe='')}"
    return "/v1/orders"


route("GET", "/v1/orders", weight=5, median_ms=42.0, ok=200, client_errors=(400, 401))(orders)


@route("GET", "/v1/customers/{id}", weight=6, median_ms=15.0, ok=200, client_errors=(404, 401))
def customer(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    return f"/v1/customers/{_customer_id(rng, tenant)}"


@route("GET", "/v1/customers/{id}/invoices", weight=7, median_ms=55.0, ok=200,
       client_errors=(404, 401, 403))
def customer_invoices(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    cus = _customer_id(rng, tenant)
    query = "?status=open&limit=20" if rng.random() < 0.5 else ""
    return f"/v1/customers/{cus}/invoices{query}"


@route("POST", "/v1/checkout/sessions", weight=4, median_ms=120.0, ok=201,
       client_errors=(400, 422))
def checkout_sessions(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    return "/v1/checkout/sessions"


@route("GET", "/v1/checkout/sessions/{id}", weight=5, median_ms=22.0, ok=200,
       client_errors=(404, 410))
def checkout_session(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    return "/v1/checkout/sessions/" + _id(rng, "cs_live_", 160)


@route("GET", "/v1/users/{email}", weight=3, median_ms=12.0, ok=200, client_errors=(404, 403))
def user_by_email(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    if rng.random() < 0.5:
        return f"/v1/users/{user.email}"
    return "/v1/users/" + quote(user.email, safe="")


@route("GET", "/v1/invoices/{id}/pdf", weight=4, median_ms=240.0, ok=200,
       client_errors=(404, 401))
def invoice_pdf(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    return f"/v1/invoices/{_uuid(rng)}/pdf?token={user.bearer}"


@route("POST", "/v1/payment_intents/{id}/confirm", weight=4, median_ms=310.0, ok=200,
       client_errors=(402, 402, 409, 422))
def payment_intent_confirm(rng: random.Random, now_ms: float, tenant: Tenant,
                           user: User) -> str:
    return "/v1/payment_intents/" + _id(rng, "pi_", 96) + "/confirm"


@route("DELETE", "/v1/subscriptions/{id}", weight=1, median_ms=60.0, ok=204,
       client_errors=(404, 409))
def subscription(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    return "/v1/subscriptions/" + _id(rng, "sub_", 96)


@route("GET", "/v1/reports/{date}", weight=2, median_ms=900.0, ok=200, client_errors=(400, 403))
def report(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    day = time.gmtime(now_ms / 1000 - 86400 * int(rng.random() * 30))
    return time.strftime("/v1/reports/%Y-%m-%d", day)


@route("GET", "/v1/search", weight=4, median_ms=75.0, ok=200, client_errors=(400,))
def search(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    q = quote(user.name.split(" ")[-1])
    if rng.random() < 0.5:
        return f"/v1/search?q={q}&email={quote(user.email, safe='')}"
    return f"/v1/search?q={q}&utm_source=newsletter&utm_campaign=black-friday"


@route("POST", "/v1/auth/token", weight=3, median_ms=95.0, ok=200,
       client_errors=(401, 401, 400, 429))
def auth_token(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    if rng.random() < 0.3:
        return "/v1/auth/token?grant_type=password&username=" + quote(user.email, safe="")
    return "/v1/auth/token"


@route("GET", "/v1/me", weight=5, median_ms=6.0, ok=200, client_errors=(401,))
def me(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    return "/v1/me"


@route("GET", "/v1/accounts/{id}/members/{member}", weight=3, median_ms=20.0, ok=200,
       client_errors=(404, 403))
def account_member(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    # A word-like user slug in the path: no id pattern matches "alice.smith".
    return f"/v1/accounts/acct_{tenant.id}/members/{user.slug}"


@route("GET", "/v1/files/{id}/download", weight=2, median_ms=160.0, ok=200,
       client_errors=(403, 404, 410))
def file_download(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    token = "".join(rng.choices(B62, k=32))
    return f"/v1/files/{_id(rng, 'file_', 96)}/download?access_token=tok_{token}"


@route("PUT", "/v1/customers/{id}/addresses/{address_id}", weight=2, median_ms=35.0, ok=200,
       client_errors=(400, 404, 422))
def customer_address(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    cus = _customer_id(rng, tenant)
    return f"/v1/customers/{cus}/addresses/{_id(rng, 'addr_', 48)}"


@route("GET", "/static/{filename}", weight=2, median_ms=2.5, ok=200, client_errors=(404,))
def static_file(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    name = ("app", "vendor", "styles", "runtime")[int(rng.random() * 4)]
    ext = "css" if name == "styles" else "js"
    return f"/static/{name}.{rng.getrandbits(32):08x}.{ext}"


@route("POST", "/v1/webhooks/endpoints", weight=1, median_ms=45.0, ok=201,
       client_errors=(400, 422))
def webhook_endpoints(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    return "/v1/webhooks/endpoints"


@route("GET", "/v1/products/{sku}", weight=3, median_ms=9.0, ok=200, client_errors=(404,))
def product(rng: random.Random, now_ms: float, tenant: Tenant, user: User) -> str:
    return "/v1/products/" + PRODUCTS[int(rng.random() * len(PRODUCTS))][0]


ROUTES: tuple[Route, ...] = tuple(_routes)
"""Every route of the simulated API, in declaration order."""

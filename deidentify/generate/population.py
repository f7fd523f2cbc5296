"""The simulated population: tenants, their users, customers and webhook endpoints.

Built once per generator (``build_tenants``) from its ``random.Random``, so the same seed
gives the same people. Tenants are a fixed small set (``TENANTS``) with a deliberately tiny
``pied-piper`` whose cells should stay under k. Each tenant has its own users (id, email,
name, phone, a couple of client IPs, a user agent, a bearer token), many customers
(``cus_…`` with email, name, address, currency and a card) and a few dozen webhook
endpoints owned by customers, expanded by a Zipf-like popularity so a lookup per event is
one index into a list.

Memory: about 4,000 users and customers in total, a few MB; nothing grows per event.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from urllib.parse import quote

import orjson

from deidentify.generate.words import (
    B62,
    COMPANIES,
    COUNTRIES,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    STREETS,
    TEST_CARDS,
    USER_AGENTS,
    ascii_fold,
)


@dataclass(frozen=True)
class TenantSpec:
    """How big a simulated tenant is and how much of the traffic it sends."""

    tenant_id: str
    weight: float
    users: int
    customers: int
    endpoints: int


TENANTS: tuple[TenantSpec, ...] = (
    TenantSpec("acme", 0.34, 800, 1500, 40),
    TenantSpec("globex", 0.25, 500, 900, 30),
    TenantSpec("initech", 0.18, 300, 500, 20),
    TenantSpec("umbrella", 0.12, 200, 300, 15),
    TenantSpec("hooli", 0.10, 150, 250, 12),
    # A tiny tenant: its cells should stay under any sensible k and roll into __other__.
    TenantSpec("pied-piper", 0.01, 4, 3, 2),
)
"""The tenants the generator simulates (ids match ``^[A-Za-z0-9_-]{1,64}$``)."""


@dataclass
class User:
    id: str
    email: str
    name: str
    phone: str
    slug: str            # "alice.smith": how the user appears in some URLs
    ips: tuple[str, ...]
    user_agent: str
    bearer: str          # a JWT-looking token carrying the email


@dataclass
class Customer:
    id: str
    email: str
    name: str
    address: dict[str, str]
    currency: str
    card_brand: str
    card_number: str


@dataclass
class Endpoint:
    url: str
    host: str
    ip: str
    success_rate: float


@dataclass
class Tenant:
    id: str
    key: bytes
    users: list[User]
    customers: list[Customer]
    endpoints: list[Endpoint]   # expanded by weight


def build_tenants(rng: random.Random, countries: tuple[str, ...]) -> list[Tenant]:
    """Every tenant of ``TENANTS`` with its people, drawn from ``rng`` in a fixed order."""
    tenants = []
    for spec in TENANTS:
        tenant = Tenant(
            id=spec.tenant_id,
            key=spec.tenant_id.encode(),
            users=[make_user(rng, countries, spec.tenant_id) for _ in range(spec.users)],
            customers=[make_customer(rng, countries) for _ in range(spec.customers)],
            endpoints=[],
        )
        eps = [make_endpoint(rng, tenant, i) for i in range(spec.endpoints)]
        # Zipf-like popularity: endpoint i weighs 1/(i+1).
        for i, ep in enumerate(eps):
            tenant.endpoints.extend([ep] * max(1, round(12 / (i + 1))))
        tenants.append(tenant)
    return tenants


def make_user(rng: random.Random, countries: tuple[str, ...], tenant_id: str) -> User:
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    slug = f"{ascii_fold(first)}.{ascii_fold(last)}"
    style = rng.random()
    if style < 0.5:
        local = slug
    elif style < 0.8:
        local = f"{ascii_fold(first)}{ascii_fold(last)[0]}{rng.randrange(1, 999)}"
    else:
        local = f"{ascii_fold(first)[0]}.{ascii_fold(last)}+{tenant_id}"
    email = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
    country = rng.choice(countries)
    user_id = "usr_" + "".join(rng.choices(B62, k=14))
    ips = tuple(random_ip(rng) for _ in range(rng.randint(1, 3)))
    claims = orjson.dumps({"sub": user_id, "email": email, "tid": tenant_id,
                           "exp": 1893456000})
    bearer = ".".join((
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        base64.urlsafe_b64encode(claims).rstrip(b"=").decode(),
        base64.urlsafe_b64encode(rng.randbytes(32)).rstrip(b"=").decode(),
    ))
    return User(
        id=user_id, email=email, name=f"{first} {last}",
        phone=phone(rng, country), slug=slug, ips=ips,
        user_agent=rng.choice(USER_AGENTS), bearer=bearer,
    )


def make_customer(rng: random.Random, countries: tuple[str, ...]) -> Customer:
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    country = rng.choice(countries)
    cities, currency, _, _, postal_format = COUNTRIES[country]
    if rng.random() < 0.12:
        currency = "USD"
    brand, number = rng.choice(TEST_CARDS)
    address = {
        "name": f"{first} {last}",
        "line1": f"{rng.randint(1, 240)} {rng.choice(STREETS)}",
        "line2": f"Apt {rng.randint(1, 80)}" if rng.random() < 0.3 else "",
        "city": rng.choice(cities),
        "postal_code": postal(rng, postal_format),
        "country": country,
    }
    email_local = f"{ascii_fold(first)}.{ascii_fold(last)}{rng.randrange(10, 99)}"
    return Customer(
        id="cus_" + "".join(rng.choices(B62, k=14)),
        email=f"{email_local}@{rng.choice(EMAIL_DOMAINS)}",
        name=f"{first} {last}", address=address, currency=currency,
        card_brand=brand, card_number=number,
    )


def make_endpoint(rng: random.Random, tenant: Tenant, i: int) -> Endpoint:
    owner = rng.choice(tenant.customers)
    person = owner.name.split(" ")[0]
    slug = ascii_fold(person) + "-" + ascii_fold(owner.name.split(" ")[-1])
    company = rng.choice(COMPANIES)
    h = rng.getrandbits(128)
    hx = f"{h:032x}"
    uuid = f"{hx[:8]}-{hx[8:12]}-4{hx[13:16]}-a{hx[17:20]}-{hx[20:]}"
    ip = random_ip(rng, v6_share=0.0)
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
    return Endpoint(url=scheme + host + url, host=host.rsplit("@", 1)[-1], ip=ip,
                    success_rate=success_rate)


def random_ip(rng: random.Random, v6_share: float = 0.2) -> str:
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


def phone(rng: random.Random, country: str) -> str:
    _, _, prefix, digits, _ = COUNTRIES[country]
    return prefix + "".join(rng.choices("0123456789", k=digits))


def postal(rng: random.Random, fmt: str) -> str:
    return "".join(
        rng.choice("0123456789") if c == "9"
        else rng.choice("ABCDEFGHJKLMNPRSTUVWXY") if c == "A" else c
        for c in fmt
    )

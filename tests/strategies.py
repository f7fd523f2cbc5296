"""Shared hypothesis strategies for the property tests that prove nothing personal leaks.

The idea: every personal value we put into an event is a *canary*, a string that cannot
occur by accident (``CNRY7Q2KX4MZ5HBA``, ``cnryalicexq``…), or a generated secret we record
(IP addresses, Luhn card numbers, phone numbers, IBANs, JWTs). A property test feeds hostile
events through the pipeline and asserts that no recorded secret appears in the output in
any form (``leak_forms``: raw, case-folded, URL-encoded, base64, hex, hashes).

Recording
    Every strategy that mints secrets records each one in two places:

    * the ``canaries`` list passed to it (optional), and
    * the per-example registry ``canary_registry()``: a list shared by all draws of one
      example (``st.shared``), so a test can get every secret of the example without
      threading a list through::

          @given(st.lists(hostile_event()), canary_registry())
          def test_nothing_leaks(events, secrets):
              out = run(events)
              assert_no_leaks(out, secrets)

    With ``st.data()``, pass a fresh list: ``secrets = []; data.draw(hostile_http_request(secrets))``.

Canaries are unique within one example (the registry is checked; a collision gets a
suffix), deterministic given hypothesis' choices (no global counter, so replay and
shrinking see the same strings) and ASCII letters/digits only, so they survive URL and
hostname syntax. Styles: ``upper`` (``CNRY`` + 12 base32), ``lower``, ``hex``
(``cnry`` + 12 hex digits) and ``word`` (``cnry`` + a first name + letters: looks like a
plain word, so no id/token pattern matches it — only the route grammar, k and the guard
stand between it and the output).

What the hostile events probe
    * canaries in every URL part: userinfo, every subdomain label (``cnry….github.io``),
      path segments (word-like, upper-case, percent-encoded, double-encoded, inside braces,
      with matrix params, over-long, emails, JWTs, IPs, card numbers), query values,
      fragments; hosts that are IP literals, single labels or under non-ICANN TLDs
      (``cnry….local``) — they have no registrable domain and must become ``{ip}`` or
      ``__other__``;
    * the ``route`` field holding a raw path, a canary placeholder name (``/v1/orders/{CNRY…}``),
      an email or a full URL;
    * canaries, emails and IPs where a tenant id, method, currency or event type belongs:
      hostile tenant ids never match ``^[A-Za-z0-9_-]{1,64}$`` (the event must be rejected);
      the other fields must be rejected or map to ``__other__``;
    * canaries in every noise field (user, headers, addresses, line items, payloads, errors).

    Registrable domains, tenant ids that match the pattern, methods, statuses, currencies
    and event types come only from the fixed clean sets below (``VALID_*``): those may be
    published, so they never carry a secret. Each dimension field is drawn clean most of
    the time, so some cells are publishable; ``hostile_cell`` draws whole batches that share
    one clean, publishable cell (distinct subjects, hostile noise) to drive the publish path.

``hostile_event`` adds garbage (wrong types, unknown types, missing fields, huge strings,
deep nesting, non-object JSON); ``raw_line`` works on bytes (broken JSON, invalid UTF-8,
100000-deep nesting, multi-MB strings). Every dict a strategy returns is serialisable by
``orjson.dumps`` (nesting < 255, ints within 64 bits); the rest only exists as bytes.

Realistic dangerous values (issue 9)
    Canaries alone cannot show that a *plausible* value is published: a person's name in a
    route, a tenant id that is a name, a personal domain. ``name_cell`` draws >= 6 distinct
    subjects that share ONE such value in the field their schema publishes (so k cannot be
    what stops it): letter-only names from ``PERSON_FIRST_NAMES``/``PERSON_LAST_NAMES`` and
    generated free names, in the compound forms of ``NAME_ROUTE_FORMS`` (raw URL and the
    service's ``route`` field), ``TENANT_NAME_FORMS`` (``john_smith_london``, matching the
    tenant id grammar) and ``PERSONAL_DOMAIN_FORMS`` (``johnsmith.com``, ``jane-doe.dev``).
    ``clean_twin`` gives the same events without the dangerous value (they are published).

Leak detection (``leaks``/``leaked``/``assert_no_leaks``)
    Each recorded secret is looked for raw (any letter case), in every ``leak_forms``
    encoding, as a full or truncated hex digest or base64 digest, and as any substring of 8+
    characters (``secret_fragments``: runs with 3+ letters that are not part of
    ``clean_corpus``, the fixed strings a correct output may contain). Full values
    (a whole email, URL or name, ``SecretList.wholes``) are looked for as digests: their text
    always contains a recorded secret already.

Never put a secret into an assertion message: ``assert_no_leaks`` reports counts and indices.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import string
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus

import orjson
from hypothesis import strategies as st

__all__ = [
    "BASE_MS",
    "CANARY_STYLES",
    "CLEAN_STRINGS",
    "FIELD_TYPES",
    "GARBAGE_KINDS",
    "KNOWN_KEYS",
    "LEAK_RULES",
    "NAME_KINDS",
    "NAME_ROUTE_FORMS",
    "PERSONAL_DOMAIN_FORMS",
    "PERSON_FIRST_NAMES",
    "PERSON_LAST_NAMES",
    "TENANT_NAME_FORMS",
    "RAW_LINE_CATEGORIES",
    "REQUIRED_FIELDS",
    "VALID_CURRENCIES",
    "VALID_EVENT_TYPES",
    "VALID_METHODS",
    "VALID_REGISTRABLE_DOMAINS",
    "VALID_ROUTES",
    "VALID_STATUSES",
    "VALID_TENANTS",
    "assert_no_leaks",
    "canary",
    "SecretList",
    "canary_registry",
    "clean_corpus",
    "clean_twin",
    "garbage_event",
    "hostile_billing_charge",
    "hostile_cell",
    "hostile_event",
    "hostile_http_request",
    "hostile_webhook_delivery",
    "has_expected_type",
    "leak_forms",
    "leaked",
    "leaks",
    "luhn_valid",
    "name_cell",
    "name_route",
    "personal_domain",
    "raw_line",
    "raw_line_with_category",
    "secret_fragments",
    "tenant_name",
]

# --------------------------------------------------------------------------------------------
# Clean values: may be published, never carry a secret
# --------------------------------------------------------------------------------------------

BASE_MS = 1_763_632_800_000  # 2025-11-20T10:00:00Z; valid event times fall in the next 5 min
WINDOW_MS = 60_000
VALID_TENANTS = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell",
                 "cyberdyne", "soylent")
VALID_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
VALID_STATUSES = (200, 201, 204, 301, 304, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503,
                  504)
VALID_ROUTES = ("/v1/orders/{id}", "/v1/customers/{id}/invoices", "/v1/checkout/sessions/{id}",
                "/healthz", "/v1/me", "/v1/orders")
VALID_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF", "SEK", "PLN", "CAD")
VALID_EVENT_TYPES = ("invoice.paid", "charge.succeeded", "charge.failed", "customer.created",
                     "checkout.session.completed", "payment_intent.succeeded")
# Registrable domains (ICANN eTLD+1) that personal subdomains hang under in hostile URLs.
VALID_REGISTRABLE_DOMAINS = ("github.io", "netlify.app", "herokuapp.com", "example.com",
                             "shopfront.io", "myshopify.com")
_CLEAN_API_HOSTS = ("api.example.com", "api.eu.shopfront.io")
_CLEAN_PATH_WORDS = ("v1", "v2", "api", "users", "orders", "customers", "invoices", "files",
                     "accounts", "members", "hooks", "webhooks", "download", "profile")
_EMAIL_DOMAINS = ("example.com", "gmail.com", "outlook.com", "proton.me", "mail.example.org")
_FIRST_NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan",
                "judy", "mallory", "olivia", "peggy", "trent", "victor", "walter", "zoe")

# Field names of the raw event contract and of the noise objects the strategies build: keys
# that are allowed to be clean. Any other key a hostile strategy emits carries a secret.
KNOWN_KEYS = frozenset({
    "type", "ts", "tenant_id",
    "method", "url", "route", "status", "latency_ms", "client_ip", "user_agent", "request_id",
    "user", "headers", "id", "email", "name", "phone",
    "customer_id", "currency", "amount_minor", "customer_email", "customer_name",
    "billing_address", "line_items", "sku", "description", "quantity", "payment_token",
    "card_last4", "card_number", "line1", "line2", "city", "postal_code", "state", "country",
    "iban",
    "endpoint_url", "event_type", "attempt", "response_status", "success", "duration_ms",
    "payload", "error",
    "user-agent", "authorization", "cookie", "x-forwarded-for", "referer", "x-request-id",
    "customer", "card", "ip", "note", "ssn",
})
CLEAN_STRINGS = frozenset(
    {"http_request", "billing_charge", "webhook_delivery"} | set(VALID_TENANTS)
    | set(VALID_METHODS) | set(VALID_ROUTES) | set(VALID_CURRENCIES) | set(VALID_EVENT_TYPES)
)

# --------------------------------------------------------------------------------------------
# Canaries
# --------------------------------------------------------------------------------------------

CANARY_STYLES = ("upper", "lower", "hex", "word")
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_STYLE_ALPHABET = {
    "upper": _B32,
    "lower": _B32.lower(),
    "hex": "0123456789abcdef",
    "word": string.ascii_lowercase,
}
_REGISTRY_KEY = "deidentify.tests.strategies.canary_registry"


class SecretList(list):
    """A list of secrets with a set beside it, so membership tests stay O(1), and
    ``wholes``: full values (a whole email, URL, name) whose *digests* must not leak either
    (their raw text always contains a recorded secret, so only hashed forms are checked)."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()
        self.wholes: list[str] = []

    def append(self, item: str) -> None:
        self._seen.add(item)
        super().append(item)

    def __contains__(self, item: object) -> bool:
        return item in self._seen


def canary_registry() -> st.SearchStrategy[list[str]]:
    """The list of every secret minted so far in the current example (shared per example)."""
    return st.shared(st.builds(SecretList), key=_REGISTRY_KEY)


# Strategies are built once: constructing (and validating) them per draw costs more than
# drawing from them.
_STYLE = st.sampled_from(CANARY_STYLES)
_BODY = {style: st.text(alphabet, min_size=12, max_size=12)
         for style, alphabet in _STYLE_ALPHABET.items()}
_WORD_NAME = st.sampled_from(_FIRST_NAMES)
_WORD_TAIL = st.text(string.ascii_lowercase, min_size=2, max_size=4)


@lru_cache(maxsize=1024)
def _ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(lo, hi)


@lru_cache(maxsize=64)
def _digit_string(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


@lru_cache(maxsize=4096)
def _sampled(options: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from(options)


@st.composite
def _canary(draw: st.DrawFn, style: str | None) -> str:
    registry = draw(canary_registry())
    if style is None:
        style = draw(_STYLE)
    alphabet = _STYLE_ALPHABET[style]
    if style == "upper":
        text = "CNRY" + draw(_BODY[style])
    elif style == "word":
        text = "cnry" + draw(_WORD_NAME) + draw(_WORD_TAIL)
    else:
        text = "cnry" + draw(_BODY[style])
    n = len(registry)
    unique = text
    while unique in registry:
        unique = text + _suffix(n, alphabet)
        n += 1
    registry.append(unique)
    return unique


_CANARY = {style: _canary(style) for style in (None, *CANARY_STYLES)}


def canary(style: str | None = None) -> st.SearchStrategy[str]:
    """A canary string, unique within the example; ``style`` one of ``CANARY_STYLES``
    (drawn when None)."""
    return _CANARY[style]


def _suffix(n: int, alphabet: str) -> str:
    """Bijective base-len(alphabet) numeral of n+1 in ``alphabet`` (never empty)."""
    base = len(alphabet)
    n += 1
    out = []
    while n:
        n, rem = divmod(n - 1, base)
        out.append(alphabet[rem])
    return "".join(reversed(out))


class _Secrets:
    """Mints canaries and records every secret of one composite draw."""

    def __init__(self, draw: st.DrawFn, sink: list[str] | None) -> None:
        self.draw = draw
        self.registry = draw(canary_registry())
        self.sink = sink

    def canary(self, style: str | None = None) -> str:
        c = self.draw(canary(style))
        if self.sink is not None:
            self.sink.append(c)
        return c

    def record(self, secret: str) -> str:
        if secret not in self.registry:
            self.registry.append(secret)
        if self.sink is not None and secret not in self.sink:
            self.sink.append(secret)
        return secret

    def whole(self, value: str) -> str:
        """Record a full value (e.g. a whole email or URL) for the digest check."""
        for target in (self.registry, self.sink):
            wholes = getattr(target, "wholes", None)
            if wholes is not None and value not in wholes:
                wholes.append(value)
        return value

    def pick(self, options: tuple[Any, ...]) -> Any:
        try:
            strategy = _sampled(options)
        except TypeError:                                   # unhashable options
            strategy = st.sampled_from(options)
        return self.draw(strategy)

    def below(self, n: int) -> int:
        """An int in [0, n): shrinks towards 0, so put the tamest case first."""
        return self.draw(_ints(0, n - 1))

    def between(self, lo: int, hi: int) -> int:
        return self.draw(_ints(lo, hi))

    def digits(self, n: int) -> str:
        return self.draw(_digit_string(n))

    def one(self, *makers: Callable[[], Any]) -> Any:
        """Call one of ``makers`` (only the chosen one mints secrets)."""
        return makers[self.below(len(makers))]()

    def host_canary(self) -> str:
        return self.canary(self.pick(("lower", "word", "hex")))


# --------------------------------------------------------------------------------------------
# Generated personal data (each recorded)
# --------------------------------------------------------------------------------------------

def _email(s: _Secrets) -> str:
    local = s.canary(s.pick(("lower", "word", "upper")))
    domain = s.pick(_EMAIL_DOMAINS)
    form = s.below(4)
    if form == 0:
        return s.whole(f"{local}@{domain}")
    if form == 1:
        return s.whole(f"{local}+billing@{domain}")
    if form == 2:
        return s.whole(f"{s.pick(_FIRST_NAMES)}.{local}@{domain}")
    return s.whole(f"{local}@{s.host_canary()}.example.com")


def _name(s: _Secrets) -> str:
    c = s.canary(s.pick(("word", "upper", "lower")))
    first = s.pick(_FIRST_NAMES).capitalize()
    return s.whole(s.pick((f"{first} {c}", f"{c} Smith", f"Dr. {c}-Müller", f"{c}")))


def _ipv4(s: _Secrets) -> str:
    first = s.between(11, 222)
    first += first >= 127                                   # skip loopback
    rest = [s.between(11, 254) for _ in range(3)]
    ip = ".".join(str(x) for x in (first, *rest))
    return s.record(ip)


def _ipv6(s: _Secrets) -> str:
    groups = [s.between(0x1000, 0xFFFF) for _ in range(8)]
    form = s.below(3)
    if form == 0:
        text = ":".join(f"{g:x}" for g in groups)
    elif form == 1:
        groups[3] = groups[4] = 0     # compressible run: "a:b:c::f:g:h"
        text = ":".join(f"{g:x}" for g in groups[:3]) + "::" + ":".join(
            f"{g:x}" for g in groups[5:])
    else:
        text = ":".join(f"{g:X}" for g in groups)
    addr = ipaddress.IPv6Address(text)
    s.record(addr.compressed)
    s.record(addr.exploded)
    return s.record(text)


def _ip(s: _Secrets) -> str:
    return _ipv4(s) if s.below(3) < 2 else _ipv6(s)


def _luhn_check_digit(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    """True when the digits of ``number`` pass the Luhn check."""
    digits = [int(c) for c in number if c.isdigit()]
    if not digits:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_number(s: _Secrets) -> str:
    prefix, length = s.pick((("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15),
                             ("37", 15), ("6011", 16), ("35", 16), ("4", 19)))
    body = prefix + s.digits(length - 1 - len(prefix))
    number = body + _luhn_check_digit(body)
    s.record(number)
    form = s.below(3)
    if form == 0:
        return number
    sep = " " if form == 1 else "-"
    return s.record(sep.join(number[i:i + 4] for i in range(0, len(number), 4)))


def _phone(s: _Secrets) -> str:
    cc = s.pick(("44", "49", "33", "1", "31"))
    digits = s.digits(10)
    digits = "7" + digits[1:]                       # never all zeros
    s.record(cc + digits)
    return s.record(f"+{cc} {digits[:4]} {digits[4:]}")


def _iban(s: _Secrets) -> str:
    bban = s.digits(18)
    rearranged = bban + "DE00"
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    check = 98 - int(numeric) % 97
    iban = f"DE{check:02d}{bban}"
    s.record(iban)
    if s.below(2):
        return s.record(" ".join(iban[i:i + 4] for i in range(0, len(iban), 4)))
    return iban


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(s: _Secrets) -> str:
    c = s.canary()
    claims = orjson.dumps({"sub": c, "email": _email(s), "name": _name(s)})
    token = ".".join((_b64url(b'{"alg":"HS256","typ":"JWT"}'), _b64url(claims),
                      _b64url(hashlib.sha256(c.encode()).digest())))
    return s.record(token)


def _hostile_text(s: _Secrets) -> str:
    """Free text carrying at least one canary."""
    form = s.below(10)
    c = s.canary()
    if form == 0:
        return c
    if form == 1:
        return f"{_name(s)} <{_email(s)}>"
    if form == 2:
        return f"card {_card_number(s)} declined for {_email(s)} from {_ip(s)} ({c})"
    if form == 3:
        return f"  {c}\t\n"
    if form == 4:
        return f"{c}\x00\u202e{s.canary()}\u200b"
    if form == 5:
        return "x" * s.between(1_000, 20_000) + c
    if form == 6:
        return orjson.dumps({"email": _email(s), "note": c}).decode()
    if form == 7:
        return f"Zoë {c} ✓ — café"
    if form == 8:
        return f"line one {c}\nline two call {_phone(s)}\r\niban {_iban(s)}"
    return f"token={_jwt(s)} {c}"


# --------------------------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------------------------

def _segment(s: _Secrets) -> str:
    """One hostile path segment, already in URL syntax."""
    form = s.below(21)
    if form == 0:
        return s.canary()
    if form == 1:
        return s.canary("word")
    if form == 2:
        return _email(s)
    if form == 3:
        return quote(_email(s), safe="")
    if form == 4:
        return quote(quote(_email(s), safe=""), safe="")
    if form == 5:
        return "".join(f"%{b:02X}" for b in s.canary().encode())
    if form == 6:
        return _jwt(s)
    if form == 7:
        return f"{s.canary()}.json"
    if form == 8:
        return f"{s.canary()};jsessionid={s.canary()}"
    if form == 9:
        return f"2026-11-20-{s.canary()}"
    if form == 10:
        return "a" * s.between(60, 400) + s.canary()
    if form == 11:
        return _ipv4(s)
    if form == 12:
        return _card_number(s).replace(" ", "")
    if form == 13:
        return "Zo%C3%AB-" + s.canary("word")
    if form == 14:
        return "{" + s.canary() + "}"
    if form == 15:
        return f"user:{s.canary()}"
    if form == 16:
        return "~" + s.canary("word")
    if form == 17:
        return "@" + s.canary("word")
    if form == 18:
        return _phone(s).replace(" ", "")
    if form == 19:
        return _iban(s).replace(" ", "")
    return s.canary("upper").lower() + "-" + s.canary("word")


def _path(s: _Secrets) -> str:
    """A path with at least one hostile segment; in ``all`` mode every segment is hostile."""
    n = s.between(1, 5)
    if s.below(2) == 0:                                     # mixed: api words + hostile ids
        segments = [s.pick(_CLEAN_PATH_WORDS) for _ in range(n)]
        hostile_at = s.draw(st.sets(st.integers(0, n - 1), min_size=1))
        for i in sorted(hostile_at):
            segments[i] = _segment(s)
    else:                                                   # all: every segment hostile
        segments = [_segment(s) for _ in range(n)]
    path = "/" + "/".join(segments)
    oddity = s.below(6)
    if oddity == 1:
        path += "/"
    elif oddity == 2:
        path = "/" + path                                   # leading double slash
    elif oddity == 3:
        path = path.replace("/", "/./", 1)
    elif oddity == 4:
        path = "/v1/../" + path.lstrip("/")
    return path


def _query(s: _Secrets) -> str:
    n = s.below(4)
    if n == 0:
        return ""
    params = []
    for _ in range(n):
        key = s.pick(("token", "email", "sig", "access_token", "q", None))
        if key is None:
            key = s.canary()
        value_form = s.below(4)
        if value_form == 0:
            value = s.canary()
        elif value_form == 1:
            value = quote_plus(_email(s))
        elif value_form == 2:
            value = _jwt(s)
        else:
            value = quote(_hostile_text(s)[:200], safe="")
            value += s.canary()                             # the 200-char cut may drop it
        params.append(f"{key}={value}")
    return "?" + "&".join(params)


def _userinfo(s: _Secrets) -> str:
    form = s.below(4)
    if form == 0:
        return ""
    if form == 1:
        return f"{s.canary()}@"
    if form == 2:
        return f"{s.canary()}:{s.canary()}@"
    return f"{quote(_email(s), safe='')}:{s.canary()}@"


def _hostile_host(s: _Secrets) -> str:
    """A host whose every non-registrable label carries a canary, or an IP literal, or a host
    with no registrable domain at all (single label, non-ICANN TLD)."""
    form = s.below(10)
    registrable = s.pick(VALID_REGISTRABLE_DOMAINS)
    if form == 0:
        return f"{s.host_canary()}.{registrable}"
    if form == 1:
        return f"{s.host_canary()}.{s.host_canary()}.{registrable}"
    if form == 2:
        return f"{s.canary('upper')}.{registrable.upper()}"
    if form == 3:
        return f"{s.host_canary()}.{registrable}."          # trailing dot
    if form == 4:
        return _ipv4(s)
    if form == 5:
        return f"[{_ipv6(s)}]"
    if form == 6:
        return s.host_canary()                              # single label, no suffix
    if form == 7:
        return f"{s.host_canary()}.{s.pick(('local', 'internal', 'localhost', 'corp', 'lan'))}"
    if form == 8:
        return f"{s.host_canary()}-zoë.{registrable}"       # IDN label
    return f"xn--{s.host_canary()}.{registrable}"


def _url(s: _Secrets, *, host: str | None = None, path: str | None = None) -> str:
    scheme = s.pick(("https", "http", "HTTPS"))
    if host is None:
        host = _hostile_host(s) if s.below(3) else s.pick(_CLEAN_API_HOSTS)
    port = s.pick(("", ":8443", ":443", ":80"))
    if path is None:
        path = _path(s)
    fragment = f"#{s.canary()}" if s.below(4) == 3 else ""
    return s.whole(f"{scheme}://{_userinfo(s)}{host}{port}{path}{_query(s)}{fragment}")


def _clean_path(s: _Secrets, template: str) -> str:
    """A concrete path for a clean template: ids are plain numbers (no secret) of 4 to 7
    digits: an 8-digit number can be a compact date (``19961226``), which the templater
    publishes as ``{date}``, so the event would fall in another cell than its template's."""
    return template.replace("{id}", str(s.between(1000, 9_999_999)))


# --------------------------------------------------------------------------------------------
# Fields shared by the three kinds
# --------------------------------------------------------------------------------------------

def _rfc3339(ms: int, form: int) -> str:
    import time
    sec, milli = divmod(ms, 1000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    return (f"{base}.{milli:03d}Z", f"{base}Z", f"{base}.{milli:03d}+00:00")[form]


def _ts(s: _Secrets, *, valid_only: bool = False, within_ms: int = 5 * WINDOW_MS) -> Any:
    ms = BASE_MS + s.between(0, within_ms - 1)
    form = s.below(10) if not valid_only else s.below(8)
    if form < 4:
        return ms
    if form < 8:
        return _rfc3339(ms, (form - 4) % 3)
    c = s.canary()
    return s.pick((c, f"{_rfc3339(ms, 1)}{c}", f"{c}{_rfc3339(ms, 0)}", f"2026-11-20 {c}",
                   f"{_rfc3339(ms, 0)} {c}"))


def _tenant(s: _Secrets) -> str:
    if s.below(5):
        return s.pick(VALID_TENANTS)
    form = s.below(8)
    if form == 0:
        return _email(s)
    if form == 1:
        return _ip(s)
    if form == 2:
        return f"{s.canary()}.corp"
    if form == 3:
        return f"{s.canary()} {s.canary()}"
    if form == 4:
        return f"{s.canary()}/x"
    if form == 5:
        return "t" * 60 + s.canary()                      # longer than 64
    if form == 6:
        return f"{s.canary()}é"
    return f"{s.canary()}@"


def _extras(s: _Secrets, event: dict[str, Any]) -> None:
    """Unknown top-level keys carrying secrets (a field not in a schema must not exist)."""
    for _ in range(s.below(3)):
        event[s.canary()] = _hostile_text(s)
    if s.below(3) == 2:
        event["ssn"] = s.canary()


# --------------------------------------------------------------------------------------------
# The three kinds
# --------------------------------------------------------------------------------------------

_LATENCY = st.one_of(st.floats(0, 60_000, allow_nan=False), st.integers(0, 60_000))
_DURATION = st.one_of(st.floats(0, 30_000, allow_nan=False), st.integers(0, 30_000))
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6))
_BOOL = st.booleans()


def _http_event(s: _Secrets, cell: dict[str, Any] | None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "http_request"}
    if cell:
        event["ts"] = _ts(s, valid_only=True, within_ms=WINDOW_MS)
        event["tenant_id"] = cell["tenant_id"]
        event["method"] = cell["method"]
        if cell["route_in_field"]:
            event["url"] = _url(s)
            event["route"] = cell["route"]
        else:
            event["url"] = _url(s, host=s.pick(_CLEAN_API_HOSTS),
                                path=_clean_path(s, cell["route"]))
        event["status"] = cell["status"]
    else:
        event["ts"] = _ts(s)
        event["tenant_id"] = _tenant(s)
        event["method"] = (s.pick(VALID_METHODS) if s.below(4) else s.one(
            s.canary, lambda: f"get {s.canary()}", lambda: _email(s)))
        url = _url(s)
        event["url"] = url
        route = _route_field(s, url)
        if route is not None:
            event["route"] = route
        event["status"] = (s.pick(VALID_STATUSES) if s.below(5) else
                           s.pick((0, 99, 600, 999, -200, 2**31)))
    event["latency_ms"] = s.draw(_LATENCY)
    event["client_ip"] = _ip(s)
    event["user_agent"] = f"Mozilla/5.0 ({s.canary()}) {_hostile_text(s)[:300]}{s.canary()}"
    event["request_id"] = s.pick(("req_", "", "urn:uuid:")) + s.canary()
    user: dict[str, Any] = {"id": s.canary(), "email": _email(s), "name": _name(s),
                            "phone": _phone(s)}
    if s.below(3) == 2:
        user[s.canary()] = s.canary()
    if cell is None and s.below(6) == 5:
        user.pop(s.pick(("id", "email")))                  # subjects fall back
    event["user"] = user
    headers = {
        "user-agent": event["user_agent"],
        "authorization": f"Bearer {_jwt(s)}",
        "cookie": f"sid={s.canary()}; email={quote(_email(s))}",
        "x-forwarded-for": f"{_ip(s)}, {_ip(s)}",
        "referer": _url(s),
        f"x-{s.host_canary()}": s.canary(),
    }
    event["headers"] = headers
    _extras(s, event)
    return event


def _route_field(s: _Secrets, url: str) -> str | None:
    """Absent, a clean template, or a raw path / canary placeholder where a template belongs."""
    form = s.below(10)
    if form < 3:
        return None
    if form < 6:
        return s.pick(VALID_ROUTES)
    path = "/" + url.split("://", 1)[1].split("/", 1)[1] if "/" in url.split("://", 1)[1] \
        else "/"
    return s.one(
        lambda: path.split("?", 1)[0].split("#", 1)[0],    # the concrete path itself
        lambda: "/users/" + s.canary(),
        lambda: "/users/" + s.canary("word"),
        lambda: "/v1/orders/{" + s.canary() + "}",         # canary as placeholder name
        lambda: "/v1/" + s.canary("word") + "/{id}",
        lambda: "/v1/users/" + _email(s),
        lambda: s.canary(),                                 # not even a path
        lambda: f"https://{s.host_canary()}.example.com/v1/orders/{{id}}",
        lambda: "/v1/orders/{id}?email=" + quote(_email(s), safe=""),
        lambda: "/v1/orders/:" + s.canary("word"),
        lambda: "/v1/orders/<" + s.canary("word") + ">",
    )


def _billing_event(s: _Secrets, cell: dict[str, Any] | None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "billing_charge"}
    if cell:
        event["ts"] = _ts(s, valid_only=True, within_ms=WINDOW_MS)
        event["tenant_id"] = cell["tenant_id"]
        event["customer_id"] = "cus_" + s.canary()
        event["currency"] = cell["currency"]
        event["amount_minor"] = s.between(0, 10_000_000)
    else:
        event["ts"] = _ts(s)
        event["tenant_id"] = _tenant(s)
        event["customer_id"] = s.pick(("cus_", "")) + s.canary() if s.below(4) else _email(s)
        event["currency"] = (s.pick(VALID_CURRENCIES) if s.below(4) else s.one(
            lambda: s.canary("upper"), lambda: _email(s), lambda: _ip(s),
            lambda: f"EUR {s.canary()}", lambda: _card_number(s)))
        event["amount_minor"] = s.between(-10**6, 2**62)
    event["customer_email"] = _email(s)
    event["customer_name"] = _name(s)
    event["billing_address"] = {
        "name": _name(s),
        "line1": f"{s.between(1, 999)} {s.canary('word').capitalize()} Street",
        "line2": s.canary(),
        "city": s.canary("word"),
        "postal_code": s.canary("upper"),
        "state": s.canary(),
        "country": s.pick(("GB", "DE")) if s.below(2) else s.canary("upper"),
    }
    event["line_items"] = [
        {"sku": f"SKU-{s.canary('upper')}", "description": _hostile_text(s),
         "quantity": s.between(1, 10),
         "amount_minor": s.between(0, 1_000_000)}
        for _ in range(s.between(0, 3))
    ]
    event["payment_token"] = "tok_" + s.canary()
    card = _card_number(s)
    event["card_last4"] = card.replace(" ", "").replace("-", "")[-4:]
    event["card_number"] = card
    event["iban"] = _iban(s)
    _extras(s, event)
    return event


def _webhook_event(s: _Secrets, cell: dict[str, Any] | None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "webhook_delivery"}
    if cell:
        event["ts"] = _ts(s, valid_only=True, within_ms=WINDOW_MS)
        event["tenant_id"] = cell["tenants"][cell["index"] % len(cell["tenants"])]
        cell["index"] += 1
        if cell["registrable"] == "{ip}":
            host = _ipv4(s) if s.below(2) else f"[{_ipv6(s)}]"
        else:
            host = f"{s.host_canary()}.{cell['registrable']}"
        event["endpoint_url"] = _url(s, host=host)
        event["event_type"] = cell["event_type"]
    else:
        event["ts"] = _ts(s)
        event["tenant_id"] = _tenant(s)
        event["endpoint_url"] = _url(s, host=_hostile_host(s))
        event["event_type"] = (s.pick(VALID_EVENT_TYPES) if s.below(4) else s.one(
            s.canary, lambda: f"invoice.{s.canary('word')}", lambda: _email(s),
            lambda: f"charge.succeeded {s.canary()}"))
    event["attempt"] = s.between(1, 5) if cell or s.below(5) else \
        s.pick((0, -1, 10**9))
    success = s.draw(_BOOL)
    event["response_status"] = (s.pick((200, 204)) if success else
                                s.pick((None, 500, 503, 404)))
    event["success"] = success
    event["duration_ms"] = s.draw(_DURATION)
    event["payload"] = _payload(s, depth=s.between(0, 4))
    event["error"] = None if success and s.below(2) else _hostile_text(s)
    _extras(s, event)
    return event


def _payload(s: _Secrets, depth: int) -> dict[str, Any]:
    obj: dict[str, Any] = {"id": "evt_" + s.canary(), "email": _email(s)}
    for _ in range(s.below(4)):
        key = s.canary() if s.below(2) else s.pick(("customer", "card", "ip", "note"))
        form = s.below(6)
        if form == 0:
            obj[key] = _hostile_text(s)
        elif form == 1:
            obj[key] = [_hostile_text(s), _ip(s), s.between(-5, 5), None]
        elif form == 2:
            obj[key] = _card_number(s)
        elif form == 3:
            obj[key] = s.draw(_SCALAR)
        elif depth > 0:
            obj[key] = _payload(s, depth - 1)
        else:
            obj[key] = _phone(s)
    return obj


@st.composite
def hostile_http_request(draw: st.DrawFn, canaries: list[str] | None = None) -> dict[str, Any]:
    """A well-typed ``http_request`` with a secret in every string (see module docstring)."""
    return _http_event(_Secrets(draw, canaries), None)


@st.composite
def hostile_billing_charge(draw: st.DrawFn, canaries: list[str] | None = None) -> dict[str, Any]:
    """A well-typed ``billing_charge`` with a secret in every string."""
    return _billing_event(_Secrets(draw, canaries), None)


@st.composite
def hostile_webhook_delivery(draw: st.DrawFn,
                             canaries: list[str] | None = None) -> dict[str, Any]:
    """A well-typed ``webhook_delivery`` with a secret in every string."""
    return _webhook_event(_Secrets(draw, canaries), None)


_KIND_BUILDERS = {
    "http_request": _http_event,
    "billing_charge": _billing_event,
    "webhook_delivery": _webhook_event,
}


@st.composite
def hostile_cell(draw: st.DrawFn, kind: str, canaries: list[str] | None = None, *,
                 min_size: int = 5, max_size: int = 20) -> list[dict[str, Any]]:
    """Valid events of ``kind`` that share one clean, publishable cell in one minute window
    (``[BASE_MS, BASE_MS + 60 s)``), each from a distinct privacy subject, with secrets in
    every noise field and in every URL part outside the published dimension.

    http: same method/route/status/tenant, distinct ``user.id``; the route comes from the
    ``route`` field (URL path hostile) or, with no ``route``, from a clean numeric path.
    billing: same tenant/currency, distinct ``customer_id``. webhook: same event type and
    registrable domain (``cnry….github.io`` …) or IP literals, distinct tenants (at most
    ``len(VALID_TENANTS)`` of them: the webhook schema's subject is the tenant).
    """
    s = _Secrets(draw, canaries)
    if kind == "http_request":
        cell: dict[str, Any] = {
            "tenant_id": s.pick(VALID_TENANTS), "method": s.pick(VALID_METHODS),
            "route": s.pick(VALID_ROUTES), "status": s.pick(VALID_STATUSES),
            "route_in_field": s.draw(_BOOL),
        }
    elif kind == "billing_charge":
        cell = {"tenant_id": s.pick(VALID_TENANTS), "currency": s.pick(VALID_CURRENCIES)}
    elif kind == "webhook_delivery":
        cell = {"tenants": s.draw(st.permutations(VALID_TENANTS)), "index": 0,
                "registrable": s.pick(VALID_REGISTRABLE_DOMAINS[:4] + ("{ip}",)),
                "event_type": s.pick(VALID_EVENT_TYPES)}
    else:
        raise ValueError("kind must be http_request, billing_charge or webhook_delivery")
    n = draw(st.integers(min_size, max_size))
    return [_KIND_BUILDERS[kind](s, cell) for _ in range(n)]


# --------------------------------------------------------------------------------------------
# Realistic dangerous values in published fields (issue 9): person names, tenant-shaped
# secrets, personal domains — each shared by >= k distinct subjects
# --------------------------------------------------------------------------------------------

# TEST data: common given names and surnames of several origins (plus the examples),
# written out here so the tests need no data set. The fix must not depend on these lists:
# routes also carry *free* names generated below, which no name list contains (only failing
# closed on unknown route literals stops those). Names are lower-case ASCII letters.
# Tenant and host forms use only names the output guard's data knows: names outside every
# list (priyanka, ivanova) are reached there only next to a frequent name or with a surname
# ending - a documented limit of the person_name detector, not something k or the host
# transform can hide.
PERSON_FIRST_NAMES = (
    "john", "jane", "mary", "james", "robert", "jennifer", "michael", "linda", "william",
    "elizabeth", "david", "barbara", "richard", "susan", "joseph", "jessica", "thomas",
    "sarah", "charles", "karen", "christopher", "nancy", "daniel", "margaret", "matthew",
    "patricia", "anthony", "emily", "anika", "ignatius", "alice", "olivia", "sophia",
    "mohammed", "fatima", "wei", "aisha", "carlos", "maria", "anna", "peter", "laura",
)
PERSON_LAST_NAMES = (
    "smith", "johnson", "williams", "jones", "garcia", "miller", "davis", "rodriguez",
    "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "taylor", "jackson",
    "thompson", "harris", "robinson", "ashworth", "doe", "nguyen", "patel", "kowalski",
    "schmidt", "mueller", "okafor", "fernandez", "novak", "kowalczyk", "tanaka", "kim",
)
PERSON_CITIES = ("london", "paris", "berlin", "madrid", "boston", "denver", "dublin", "leeds")
# Where a name sits in a route, and what surrounds it (the examples first).
NAME_ROUTE_FORMS = ("first.last", "firstlast", "first_last", "first-last", "CamelCase",
                    "first%20last", "last/first", "digits", "initial_last", "last.first")
NAME_ROUTE_PREFIXES = ("/v1/users", "/v1/patients", "/v1/authors", "/users", "/v1/people",
                       "/profiles", "/v2/members", "")
NAME_ROUTE_SUFFIXES = ("", "/profile", "/records", "/posts", "/avatar.png", "/settings")
# Tenant ids matching ^[A-Za-z0-9_-]{1,64}$ that are a person's name (``john_smith_london``).
TENANT_NAME_FORMS = ("first_last_city", "first_last", "firstlast", "CamelCase", "first-last",
                     "last_first", "first_last_digits")
# Registrable domains (ICANN eTLD+1) of personal sites; a subdomain may sit in front.
PERSONAL_DOMAIN_FORMS = ("firstlast", "first-last", "firstlast-sub", "first-last-cctld")
PERSONAL_TLDS = ("com", "dev", "me", "io", "net", "org", "de", "fr", "nl")
PERSONAL_CCTLDS = ("co.uk", "com.au", "co.nz")
NAME_KINDS = ("http_request", "billing_charge", "webhook_delivery")
_FREE_CONSONANTS = "bdfgklmnprstvz"
_FREE_VOWELS = "aeiou"
# A part of a /last/first/ route is recorded as a secret on its own only when it is this
# long (shorter names such as "doe" would make the raw substring check noisy).
MIN_PART_SECRET_LEN = 6


@lru_cache(maxsize=1)
def clean_corpus() -> str:
    """Every fixed string a correct output can contain, case-folded, one per line: the clean
    sets above, the shipped schemas, and the modules that write report, metric, summary and
    reason text. The 8-character substring rule of :func:`leaked` ignores substrings of it,
    and generated free names never occur in it (see ``test_strategies``)."""
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    parts = [*VALID_TENANTS, *VALID_METHODS, *map(str, VALID_STATUSES), *VALID_ROUTES,
             *VALID_CURRENCIES, *VALID_EVENT_TYPES, *VALID_REGISTRABLE_DOMAINS,
             *_CLEAN_API_HOSTS, *_CLEAN_PATH_WORDS, "http_request", "billing_charge",
             "webhook_delivery", "__other__", "{ip}"]
    from deidentify.dimensions.vocab import VOCABULARIES
    from deidentify.privacy.guard import Detector
    parts += [d.value for d in Detector]
    parts += [value for vocabulary in VOCABULARIES.values() for value in vocabulary]
    # Modules that write report, metric, summary, reason and log text. Not the transforms
    # and the guard: a vocabulary or name list there must not hide a leak.
    files = [*sorted((root / "schemas").glob("*.yaml")),
             *(root / "deidentify" / rel for rel in (
                 "metrics.py", "preview.py", "pipeline.py", "window.py",
                 "central/state.py", "central/validate.py", "central/app.py",
                 "central/web.py", "privacy/threshold.py",
                 "sidecar/loop.py", "sidecar/app.py", "sidecar/health.py",
                 "sidecar/failpoints.py", "sidecar/offsets.py", "sidecar/publish.py",
                 "sidecar/gate.py", "sidecar/session_metrics.py"))]
    for path in files:
        try:
            parts.append(path.read_text(encoding="utf-8"))
        except OSError:
            continue
    return "\n".join(parts).lower()


def _free_name(s: _Secrets) -> str:
    """A pronounceable made-up name (``kalorina``) that no name list holds."""
    name = "".join(s.pick(tuple(_FREE_CONSONANTS)) + s.pick(tuple(_FREE_VOWELS))
                   for _ in range(s.between(3, 4)))
    name += s.pick(("", "n", "l", "r", "s"))
    while name in clean_corpus():              # practically never: grow it until unique
        name += s.pick(tuple(_FREE_CONSONANTS)) + s.pick(tuple(_FREE_VOWELS))
    return name


def _person(s: _Secrets, *, free: bool) -> tuple[str, str]:
    """(first, last), lower case; with ``free``, either may be a made-up name."""
    first = s.pick(PERSON_FIRST_NAMES)
    last = s.pick(PERSON_LAST_NAMES)
    if free:
        which = s.below(4)
        if which == 1:
            first = _free_name(s)
        elif which == 2:
            last = _free_name(s)
    return first, last


def _record_name(s: _Secrets, text: str, parts: tuple[str, ...] = ()) -> str:
    """Record a name-bearing string, and each long-enough part of it on its own."""
    s.record(text)
    for part in parts:
        if len(part) >= MIN_PART_SECRET_LEN:
            s.record(part)
    return text


def _name_segment(s: _Secrets, form: str, *, free: bool = True) -> tuple[str, str]:
    """``(url_path_part, route_field_part)`` naming a person in ``form``; both recorded.

    The route field version is the same literal as the framework would report it (a
    decoded space for ``first%20last``)."""
    first, last = _person(s, free=free)
    if form == "first.last":
        seg = _record_name(s, f"{first}.{last}")
    elif form == "firstlast":
        seg = _record_name(s, f"{first}{last}")
    elif form == "first_last":
        seg = _record_name(s, f"{first}_{last}")
    elif form == "first-last":
        seg = _record_name(s, f"{first}-{last}")
    elif form == "CamelCase":
        seg = _record_name(s, f"{first.capitalize()}{last.capitalize()}")
    elif form == "first%20last":
        _record_name(s, f"{first} {last}")
        return f"{first}%20{last}", f"{first} {last}"
    elif form == "last/first":
        _record_name(s, f"{last}/{first}", (first, last))
        seg = f"{last}/{first}"
    elif form == "digits":
        seg = _record_name(s, f"{first}{last}{s.between(1, 9)}", (f"{first}{last}",))
    elif form == "initial_last":
        seg = _record_name(s, f"{first[0]}{last}", (f"{first[0]}{last}",))
    elif form == "last.first":
        seg = _record_name(s, f"{last}.{first}")
    else:
        raise ValueError("form must be one of " + ", ".join(NAME_ROUTE_FORMS))
    return seg, seg


def name_route(canaries: list[str] | None = None, *,
               form: str | None = None) -> st.SearchStrategy[tuple[str, str]]:
    """``(url_path, route_field)``: one route with a person's name as a literal segment
    (``/v1/users/alice.smith/profile``, ``/ashworth/ignatius/avatar.png``...)."""
    return _name_route(canaries, form)


@st.composite
def _name_route(draw: st.DrawFn, canaries: list[str] | None, form: str | None
                ) -> tuple[str, str]:
    s = _Secrets(draw, canaries)
    return _name_route_of(s, form or s.pick(NAME_ROUTE_FORMS))


def _name_route_of(s: _Secrets, form: str) -> tuple[str, str]:
    seg, field = _name_segment(s, form)
    prefix = s.pick(NAME_ROUTE_PREFIXES)
    suffix = s.pick(NAME_ROUTE_SUFFIXES)
    if form == "last/first" and s.below(2):
        prefix = ""                                       # /ashworth/ignatius/avatar.png
    path = f"{prefix}/{seg}{suffix}"
    return path, f"{prefix}/{field}{suffix}"


def _tenant_name(s: _Secrets, form: str) -> str:
    first, last = _person(s, free=False)
    if form == "first_last_city":
        text = f"{first}_{last}_{s.pick(PERSON_CITIES)}"
    elif form == "first_last":
        text = f"{first}_{last}"
    elif form == "firstlast":
        text = f"{first}{last}"
    elif form == "CamelCase":
        text = f"{first.capitalize()}{last.capitalize()}"
    elif form == "first-last":
        text = f"{first}-{last}"
    elif form == "last_first":
        text = f"{last}_{first}"
    elif form == "first_last_digits":
        text = f"{first}_{last}_{s.between(1, 99)}"
    else:
        raise ValueError("form must be one of " + ", ".join(TENANT_NAME_FORMS))
    return _record_name(s, text)


def tenant_name(canaries: list[str] | None = None, *,
                form: str | None = None) -> st.SearchStrategy[str]:
    """A person's name shaped as a tenant id (matches ``^[A-Za-z0-9_-]{1,64}$``)."""
    return _tenant_name_strategy(canaries, form)


@st.composite
def _tenant_name_strategy(draw: st.DrawFn, canaries: list[str] | None,
                          form: str | None) -> str:
    s = _Secrets(draw, canaries)
    return _tenant_name(s, form or s.pick(TENANT_NAME_FORMS))


def _personal_domain(s: _Secrets, form: str) -> tuple[str, str]:
    """``(host, registrable)``: a personal site's host and its registrable domain."""
    first, last = _person(s, free=False)
    label = f"{first}{last}" if form in ("firstlast", "firstlast-sub") else f"{first}-{last}"
    s.record(label)
    if form == "first-last-cctld":
        registrable = f"{label}.{s.pick(PERSONAL_CCTLDS)}"
    else:
        registrable = f"{label}.{s.pick(PERSONAL_TLDS)}"
    s.record(registrable)
    host = registrable
    if form == "firstlast-sub":
        host = f"{s.pick(('www', 'blog', 'hooks', 'api'))}.{registrable}"
    return host, registrable


def personal_domain(canaries: list[str] | None = None, *,
                    form: str | None = None) -> st.SearchStrategy[tuple[str, str]]:
    """``(host, registrable_domain)`` of a personal site: ``johnsmith.com``,
    ``jane-doe.dev``, ``blog.maryjones.me``, ``peter-novak.co.uk``."""
    return _personal_domain_strategy(canaries, form)


@st.composite
def _personal_domain_strategy(draw: st.DrawFn, canaries: list[str] | None,
                              form: str | None) -> tuple[str, str]:
    s = _Secrets(draw, canaries)
    return _personal_domain(s, form or s.pick(PERSONAL_DOMAIN_FORMS))


@st.composite
def name_cell(draw: st.DrawFn, kind: str, canaries: list[str] | None = None, *,
              min_size: int = 6, max_size: int = 9, base_ms: int = BASE_MS,
              form: str | None = None) -> list[dict[str, Any]]:
    """Valid events of ``kind`` from ``min_size``.. distinct subjects (>= k of every shipped
    schema, so k cannot be what stops them) in one minute window from ``base_ms``, that all
    share ONE dangerous value in the field their schema publishes:

    * http_request: a person's name as a literal route segment (``NAME_ROUTE_FORMS``), in
      the raw URL only, or also in the service-supplied ``route`` field;
    * billing_charge: a tenant id that is a person's name (``TENANT_NAME_FORMS``), which
      matches the tenant id grammar;
    * webhook_delivery: an endpoint on a personal domain (``PERSONAL_DOMAIN_FORMS``), from
      distinct tenants.

    Every other field is clean, so the only thing that can stop the cell is the handling of
    the dangerous value. Use :func:`clean_twin` for the same events without it.
    """
    s = _Secrets(draw, canaries)
    n = draw(st.integers(min_size, max_size))
    ts = [base_ms + s.between(0, WINDOW_MS - 1) for _ in range(n)]
    events: list[dict[str, Any]] = []
    if kind == "http_request":
        path, route = _name_route_of(s, form or s.pick(NAME_ROUTE_FORMS))
        in_field = s.draw(_BOOL)
        host = s.pick(_CLEAN_API_HOSTS)
        method, status = s.pick(VALID_METHODS), s.pick(VALID_STATUSES)
        tenant = s.pick(VALID_TENANTS)
        for i in range(n):
            url = s.whole(f"https://{host}{path}")
            event = {"type": "http_request", "ts": ts[i], "tenant_id": tenant,
                     "method": method, "url": url, "status": status,
                     "latency_ms": s.between(1, 900), "user": {"id": f"user-{i}-{n}"}}
            if in_field:
                event["route"] = route
            events.append(event)
    elif kind == "billing_charge":
        tenant = _tenant_name(s, form or s.pick(TENANT_NAME_FORMS))
        currency = s.pick(VALID_CURRENCIES)
        for i in range(n):
            events.append({"type": "billing_charge", "ts": ts[i], "tenant_id": tenant,
                           "customer_id": f"cus_{i}_{n}", "currency": currency,
                           "amount_minor": s.between(1, 100_000)})
    elif kind == "webhook_delivery":
        host, _registrable = _personal_domain(s, form or s.pick(PERSONAL_DOMAIN_FORMS))
        event_type = s.pick(VALID_EVENT_TYPES)
        tenants = s.draw(st.permutations(VALID_TENANTS))
        n = min(n, len(tenants))
        for i in range(n):
            success = s.draw(_BOOL)
            url = s.whole(f"https://{host}/{s.pick(('hooks', 'webhook', 'stripe', ''))}")
            events.append({"type": "webhook_delivery", "ts": ts[i], "tenant_id": tenants[i],
                           "endpoint_url": url, "event_type": event_type,
                           "attempt": 1, "response_status": 200 if success else 500,
                           "success": success, "duration_ms": s.between(1, 5000)})
    else:
        raise ValueError("kind must be one of " + ", ".join(NAME_KINDS))
    return events


_CLEAN_TWIN = {
    "http_request": {"url": "https://api.example.com/v1/orders/12345", "route": None},
    "billing_charge": {"tenant_id": "acme"},
    "webhook_delivery": {"endpoint_url": "https://hooks.example.com/stripe"},
}


def clean_twin(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same events with the dangerous value replaced by a clean, publishable one (same
    subjects, window and other dimensions): what a name cell would be without the name."""
    out = []
    for event in events:
        twin = dict(event)
        for key, value in _CLEAN_TWIN[event["type"]].items():
            if value is None:
                twin.pop(key, None)
            else:
                twin[key] = value
        out.append(twin)
    return out


# --------------------------------------------------------------------------------------------
# Garbage
# --------------------------------------------------------------------------------------------

GARBAGE_KINDS = ("wrong_type", "unknown_type", "missing_field", "huge_string", "deep_nesting",
                 "non_object", "extra_keys")
REQUIRED_FIELDS = {
    "http_request": ("ts", "tenant_id", "method", "url", "status", "latency_ms"),
    "billing_charge": ("ts", "tenant_id", "customer_id", "currency", "amount_minor"),
    "webhook_delivery": ("ts", "tenant_id", "endpoint_url", "event_type", "attempt",
                         "response_status", "success", "duration_ms"),
}
# Types each checked field accepts (bool is not an int here).
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "ts": (int, str), "tenant_id": (str,), "method": (str,), "url": (str,), "route": (str,),
    "status": (int,), "latency_ms": (int, float), "customer_id": (str,), "currency": (str,),
    "amount_minor": (int,), "endpoint_url": (str,), "event_type": (str,), "attempt": (int,),
    "response_status": (int, type(None)), "success": (bool,), "duration_ms": (int, float),
}


def has_expected_type(field: str, value: Any) -> bool:
    """Whether ``value`` has a type the raw event contract allows for ``field``."""
    allowed = FIELD_TYPES[field]
    if isinstance(value, bool):
        return bool in allowed
    return isinstance(value, allowed)


def _wrong_value(s: _Secrets, field: str) -> Any:
    # (a value of the candidate's type, how to make one carrying a secret where possible)
    candidates: tuple[tuple[Any, Callable[[], Any]], ...] = (
        ("", s.canary),
        (3.5, lambda: 3.5),
        (True, lambda: s.draw(_BOOL)),
        (None, lambda: None),
        ([], lambda: [s.canary()]),
        ({}, lambda: {s.canary(): s.canary()}),
        (7, lambda: 7),
    )
    wrong = [make for sample, make in candidates if not has_expected_type(field, sample)]
    return wrong[s.below(len(wrong))]()


def _nested(s: _Secrets, depth: int, leaf: Any) -> Any:
    value = leaf
    as_list = s.draw(_BOOL)
    for _ in range(depth):
        value = [value] if as_list else {"a": value}
    return value


@st.composite
def garbage_event(draw: st.DrawFn, canaries: list[str] | None = None, *,
                  kind: str | None = None) -> Any:
    """Something that is not a valid event; ``kind`` one of ``GARBAGE_KINDS`` (drawn if None).

    The result is always a JSON value ``orjson.dumps`` accepts; secrets are recorded.
    """
    s = _Secrets(draw, canaries)
    if kind is None:
        kind = s.pick(GARBAGE_KINDS)
    event_kind = s.pick(tuple(_KIND_BUILDERS))
    base = _KIND_BUILDERS[event_kind](s, None)
    if kind == "wrong_type":
        fields = draw(st.sets(st.sampled_from(REQUIRED_FIELDS[event_kind]), min_size=1))
        for field in sorted(fields):
            base[field] = _wrong_value(s, field)
        return base
    if kind == "unknown_type":
        base["type"] = s.pick((s.canary(), "HTTP_REQUEST", "http_request ", "httpRequest",
                               "", None, 1, ["http_request"], {"name": "http_request"}))
        return base
    if kind == "missing_field":
        for field in draw(st.sets(st.sampled_from(("type", *REQUIRED_FIELDS[event_kind])),
                                  min_size=1)):
            base.pop(field, None)
        return base
    if kind == "huge_string":
        field = s.pick(tuple(f for f in base if isinstance(base[f], str) and f != "type"))
        size = draw(st.integers(64 * 1024, 1024 * 1024))
        base[field] = s.canary() + "A" * size + s.canary()
        return base
    if kind == "deep_nesting":
        field = s.pick(("user", "headers", "payload", "billing_address", "route", "url",
                        "tenant_id", "ts"))
        base[field] = _nested(s, draw(st.integers(20, 200)), s.canary())
        return base
    if kind == "non_object":
        return s.one(
            lambda: [base], lambda: s.canary(), lambda: 42, lambda: -1.5, lambda: None,
            lambda: True, lambda: [], lambda: [s.canary(), {"email": _email(s)}],
        )
    if kind == "extra_keys":
        base[s.canary()] = {s.canary(): _hostile_text(s)}
        base["__proto__"] = {"polluted": s.canary()}
        base["Type"] = s.canary()
        return base
    raise ValueError("kind must be one of " + ", ".join(GARBAGE_KINDS))


def hostile_event(canaries: list[str] | None = None) -> st.SearchStrategy[Any]:
    """One of the three hostile kinds, or garbage (any JSON value)."""
    return st.one_of(
        hostile_http_request(canaries),
        hostile_billing_charge(canaries),
        hostile_webhook_delivery(canaries),
        garbage_event(canaries),
    )


# --------------------------------------------------------------------------------------------
# Raw lines (bytes as they arrive from Kafka)
# --------------------------------------------------------------------------------------------

RAW_LINE_CATEGORIES = ("event", "garbage_json", "broken_json", "invalid_utf8", "bad_escape",
                       "non_object", "deep_nesting", "huge_string", "empty", "bom",
                       "duplicate_keys", "big_number")


@st.composite
def raw_line_with_category(draw: st.DrawFn, canaries: list[str] | None = None, *,
                           category: str | None = None) -> tuple[str, bytes]:
    """``(category, line)``: one raw Kafka message value of ``category`` (drawn if None).

    Large inputs are built as bytes (``b"[" * 100_000``), never through recursion.
    """
    s = _Secrets(draw, canaries)
    if category is None:
        category = s.pick(RAW_LINE_CATEGORIES)
    if category == "event":
        kind = s.pick(tuple(_KIND_BUILDERS))
        return category, orjson.dumps(_KIND_BUILDERS[kind](s, None))
    if category == "garbage_json":
        return category, orjson.dumps(draw(garbage_event(canaries)))
    if category == "broken_json":
        good = orjson.dumps(_http_event(s, None))
        form = s.below(8)
        if form == 0:                                       # cut on a character boundary
            text = good.decode()
            line = text[:draw(st.integers(1, len(text) - 1))].encode()
        elif form == 1:
            line = good[:-1] + b',}'
        elif form == 2:
            line = good.replace(b'"', b"'")
        elif form == 3:
            line = good + b" " + s.canary().encode()
        elif form == 4:
            line = good + good
        elif form == 5:
            line = b'{type: "http_request", url: "' + s.canary().encode() + b'"}'
        elif form == 6:
            line = b'{"type":"http_request","latency_ms":NaN,"url":"' + s.canary().encode() + b'"}'
        else:
            line = b'// ' + s.canary().encode() + b"\n" + good
        return category, line
    if category == "invalid_utf8":
        bad = s.pick((b"\xff\xfe", b"\xc0\xaf", b"\xe2\x82", b"\xed\xa0\x80", b"\x80",
                      b"\xf8\x88\x80\x80\x80"))
        c = s.canary().encode()
        return category, (b'{"type":"http_request","ts":' + str(BASE_MS).encode()
                          + b',"tenant_id":"acme","url":"https://x.example.com/' + c + bad
                          + b'","user":{"email":"' + c + b'@example.com"}}')
    if category == "bad_escape":
        c = s.canary().encode()
        esc = s.pick((b"\\ud800", b"\\udfff", b"\\x41", b"\\u12", b"\\q"))
        return category, b'{"type":"http_request","url":"https://x/' + c + esc + b'"}'
    if category == "non_object":
        c = s.canary()
        value = s.pick(([c], c, [{"type": "http_request", "url": c}], 12, -0.5, None, True))
        return category, orjson.dumps(value)
    if category == "deep_nesting":
        depth = s.pick((1_000, 1_025, 10_000, 100_000))         # orjson's limit is 1024
        form = s.below(3)
        if form == 0:
            return category, b"[" * depth + b"]" * depth
        if form == 1:
            return category, b'{"a":' * depth + b'"' + s.canary().encode() + b'"' + b"}" * depth
        return category, (b'{"type":"http_request","ts":' + str(BASE_MS).encode()
                          + b',"tenant_id":"acme","user":' + b"[" * depth
                          + b'"' + s.canary().encode() + b'"' + b"]" * depth + b"}")
    if category == "huge_string":
        size = draw(st.integers(1 << 20, 4 << 20))
        c = s.canary().encode()
        return category, (b'{"type":"http_request","ts":' + str(BASE_MS).encode()
                          + b',"tenant_id":"acme","method":"GET","url":"https://x.example.com/'
                          + c + b"A" * size + c + b'","status":200,"latency_ms":1}')
    if category == "empty":
        return category, s.pick((b"", b" ", b"\n", b"\t \r\n"))
    if category == "bom":
        return category, b"\xef\xbb\xbf" + orjson.dumps(_http_event(s, None))
    if category == "duplicate_keys":
        c = s.canary().encode()
        return category, (b'{"type":"billing_charge","type":"http_request","tenant_id":"acme",'
                          b'"tenant_id":"' + c + b'.corp","url":"https://x/' + c + b'"}')
    if category == "big_number":
        num = s.pick((b"123456789012345678901234567890", b"1e999", b"-1e999",
                      b"18446744073709551616", b"0.0000000000000000000000000001"))
        return category, (b'{"type":"billing_charge","ts":' + str(BASE_MS).encode()
                          + b',"tenant_id":"acme","customer_id":"' + s.canary().encode()
                          + b'","currency":"EUR","amount_minor":' + num + b"}")
    raise ValueError("category must be one of " + ", ".join(RAW_LINE_CATEGORIES))


def raw_line(canaries: list[str] | None = None) -> st.SearchStrategy[bytes]:
    """One raw message value: valid events, garbage, broken JSON, bad UTF-8, deep nesting…"""
    return raw_line_with_category(canaries).map(lambda pair: pair[1])


# --------------------------------------------------------------------------------------------
# Leak detection
# --------------------------------------------------------------------------------------------

_MIN_FRAGMENT = 8
SUBSTRING_MIN = 8            # a run of this many characters of a secret is a leak
SUBSTRING_MIN_LETTERS = 3    # ... when it holds at least this many ASCII letters
TRUNCATED_DIGEST_HEX = 12    # a hex digest cut to this many characters is still a leak
_DIGESTS = (hashlib.md5, hashlib.sha1, hashlib.sha256, hashlib.sha512)
LEAK_RULES = ("raw", "encoded", "digest", "substring", "whole_digest")


@lru_cache(maxsize=65536)
def _leak_forms(secret: str) -> frozenset[str]:
    forms: set[str] = set()
    for variant in {secret, secret.lower(), secret.upper()}:
        raw = variant.encode()
        forms.add(variant)
        forms.add(quote(variant, safe=""))
        forms.add(quote(variant))
        forms.add(quote_plus(variant))
        forms.add("".join(f"%{b:02X}" for b in raw))
        forms.add("".join(f"%{b:02x}" for b in raw))
        forms.add(raw.hex())
        forms.add(raw.hex().upper())
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            full = enc(raw).decode()
            forms.add(full)
            forms.add(full.rstrip("="))
            # The secret inside a longer base64 string: the characters that depend only on
            # the secret's bytes, for each of the three alignments.
            for pad in range(3):
                data = b"\0" * pad + raw
                start = 3 if pad else 0
                stop = len(data) // 3 * 3
                if stop - start >= 6:
                    fragment = enc(data[start:stop]).decode()
                    if len(fragment) >= _MIN_FRAGMENT:
                        forms.add(fragment)
    for variant in {secret, secret.lower()}:
        raw = variant.encode()
        for algo in (hashlib.md5, hashlib.sha1, hashlib.sha256):
            forms.add(algo(raw).hexdigest())
    forms.discard("")
    return frozenset(forms)


@lru_cache(maxsize=65536)
def _digest_forms(value: str) -> frozenset[str]:
    """Case-folded hashed forms of ``value`` (and of its lower-cased text): the first
    ``TRUNCATED_DIGEST_HEX`` hex digits of its MD5/SHA-1/SHA-256/SHA-512 digests (so a full
    or truncated hex digest is found) and the first 12 characters of the digests in base64
    (standard and URL-safe), all lower-cased: they are searched in the folded output."""
    forms: set[str] = set()
    for variant in {value, value.lower()}:
        raw = variant.encode("utf-8", "surrogatepass")
        for algo in _DIGESTS:
            digest = algo(raw)
            forms.add(digest.hexdigest()[:TRUNCATED_DIGEST_HEX])
            for enc in (base64.b64encode, base64.urlsafe_b64encode):
                forms.add(enc(digest.digest()).decode()[:12].lower())
    return frozenset(forms)


@lru_cache(maxsize=1)
def _clean_grams() -> frozenset[str]:
    corpus = clean_corpus()
    return frozenset(corpus[i:i + SUBSTRING_MIN] for i in range(len(corpus) - SUBSTRING_MIN + 1))


@lru_cache(maxsize=65536)
def secret_fragments(secret: str) -> frozenset[str]:
    """The case-folded ``SUBSTRING_MIN``-character runs of ``secret`` that count as a leak.

    Any substring of 8+ characters contains one of these runs, so finding none of them in
    an output proves that no partial or truncated form of 8+ characters is there. Runs are
    kept only when they hold ``SUBSTRING_MIN_LETTERS`` letters (digit runs of card numbers
    or IPs would match ordinary sums and counts; those secrets are still found whole) and
    do not occur in :func:`clean_corpus` (``@example.com`` of an email may be published as
    the host ``example.com``). Canaries are random-looking (``cnry`` + base32) or person
    names, so their runs never occur in clean output (``test_strategies`` checks it on the
    generator's clean traffic)."""
    low = secret.lower()
    clean = _clean_grams()
    out = set()
    for i in range(len(low) - SUBSTRING_MIN + 1):
        gram = low[i:i + SUBSTRING_MIN]
        if gram in clean:
            continue
        if sum(1 for c in gram if "a" <= c <= "z") >= SUBSTRING_MIN_LETTERS:
            out.add(gram)
    return frozenset(out)


def leak_forms(secret: str) -> set[str]:
    """Every encoded form in which ``secret`` could leak into an output.

    Raw, lower- and upper-cased; URL-encoded (``quote`` with and without ``/`` safe,
    ``quote_plus``, and every byte ``%XX``-encoded); base64 standard and URL-safe with and
    without padding, plus the alignment-independent middle of the secret's base64 when it
    sits inside a longer base64 string (a JWT); hex (both cases); md5, sha1 and sha256
    hexdigests of the raw and lower-cased secret. (:func:`leaked` also looks for partial
    and truncated forms, :func:`secret_fragments`, and truncated digests.)
    """
    return set(_leak_forms(secret))


def _haystack(output: str | bytes | Iterable[str | bytes]) -> str:
    if isinstance(output, bytes | str):
        chunks = [output]
    else:
        chunks = list(output)
    return "\n".join(
        c.decode("utf-8", "replace") if isinstance(c, bytes) else c for c in chunks)


def leaks(output: str | bytes | Iterable[str | bytes], secrets: Iterable[str],
          wholes: Iterable[str] | None = None) -> list[tuple[int, str]]:
    """``(index, rule)`` for every secret found in ``output``; rules from ``LEAK_RULES``.

    ``raw``: the secret in any letter case. ``encoded``: a :func:`leak_forms` form.
    ``digest``: a full or truncated (``TRUNCATED_DIGEST_HEX``) hex digest, or a base64
    digest. ``substring``: any run of 8+ characters of it (:func:`secret_fragments`).
    ``whole_digest``: a digest of a full value of ``wholes`` (default: ``secrets.wholes``,
    see :class:`SecretList`), indexed after the secrets. Indices only, never the values.
    """
    if wholes is None:
        wholes = getattr(secrets, "wholes", None)
    secrets = list(secrets)
    haystack = _haystack(output)
    folded = haystack.lower()
    if len(folded) <= 8 << 20:
        hay_grams = {folded[i:i + SUBSTRING_MIN]
                     for i in range(len(folded) - SUBSTRING_MIN + 1)}
        has_gram = hay_grams.__contains__
    else:                                      # a huge output: search each run instead
        has_gram = folded.__contains__
    found: list[tuple[int, str]] = []
    for i, secret in enumerate(secrets):
        if secret.lower() in folded:
            found.append((i, "raw"))
        elif any(form in haystack for form in _leak_forms(secret)):
            found.append((i, "encoded"))
        elif any(form in folded for form in _digest_forms(secret)):
            found.append((i, "digest"))
        elif any(has_gram(gram) for gram in secret_fragments(secret)):
            found.append((i, "substring"))
    for j, value in enumerate(wholes or ()):
        if any(form in folded for form in _digest_forms(value)):
            found.append((len(secrets) + j, "whole_digest"))
    return found


def leaked(output: str | bytes | Iterable[str | bytes], secrets: Iterable[str],
           wholes: Iterable[str] | None = None) -> list[int]:
    """Indices (into ``secrets``, then ``wholes``) of what :func:`leaks` finds in
    ``output`` (text, bytes decoded as UTF-8 with replacement, or an iterable of them).
    Returns indices, never the secrets, so a failure message can show them."""
    if wholes is None:
        wholes = getattr(secrets, "wholes", None)
    return [i for i, _rule in leaks(output, secrets, wholes)]


def assert_no_leaks(output: str | bytes | Iterable[str | bytes], secrets: list[str],
                    wholes: Iterable[str] | None = None) -> None:
    """Fail when any secret appears in ``output``; the message names only counts, indices
    and the rules that found them."""
    if wholes is None:
        wholes = getattr(secrets, "wholes", None)
    wholes = list(wholes or ())
    hits = leaks(output, secrets, wholes)
    n_secrets = sum(1 for i, _ in hits if i < len(secrets))
    rules = sorted({rule for _, rule in hits})
    assert not hits, (f"{n_secrets} of {len(secrets)} secrets leaked; "
                      f"{len(hits) - n_secrets} of {len(wholes)} full values found hashed "
                      f"(indices {[i for i, _ in hits][:20]}, rules {rules})")

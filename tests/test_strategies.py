"""The shared strategies do what they claim: every string carries a recorded secret, the hard
places are probed, garbage and raw lines cover each category, leak_forms covers each
encoding. Failure messages show field paths and counts, never a generated value.
"""

from __future__ import annotations

import base64
import hashlib
import io
import ipaddress
import re
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.strategies import (
    BASE_MS,
    CANARY_STYLES,
    CLEAN_STRINGS,
    GARBAGE_KINDS,
    KNOWN_KEYS,
    NAME_KINDS,
    NAME_ROUTE_FORMS,
    PERSON_FIRST_NAMES,
    PERSON_LAST_NAMES,
    PERSONAL_DOMAIN_FORMS,
    RAW_LINE_CATEGORIES,
    REQUIRED_FIELDS,
    TENANT_NAME_FORMS,
    VALID_CURRENCIES,
    VALID_EVENT_TYPES,
    VALID_METHODS,
    VALID_REGISTRABLE_DOMAINS,
    VALID_ROUTES,
    VALID_STATUSES,
    VALID_TENANTS,
    WINDOW_MS,
    SecretList,
    assert_no_leaks,
    canary,
    canary_registry,
    clean_corpus,
    clean_twin,
    garbage_event,
    has_expected_type,
    hostile_billing_charge,
    hostile_cell,
    hostile_event,
    hostile_http_request,
    hostile_webhook_delivery,
    leak_forms,
    leaked,
    leaks,
    luhn_valid,
    name_cell,
    name_route,
    personal_domain,
    raw_line,
    raw_line_with_category,
    secret_fragments,
    tenant_name,
)

# Drawing hostile events is expensive (~30 ms each); checking what a strategy produces needs
# no more than 100 examples, whatever the profile (ci asks for 400).
SLOW = settings(deadline=None, max_examples=min(settings().max_examples, 100),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# One pass of plain generation (no shrinking: finding a minimal example is not the point),
# derandomized so that whether a rare probe is reached does not change from run to run.
SURVEY = settings(deadline=None, database=None, phases=[Phase.generate], derandomize=True,
                  suppress_health_check=list(HealthCheck))
TENANT_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?(Z|[+-]\d\d:\d\d)$")
KIND_STRATEGIES = {
    "http_request": hostile_http_request,
    "billing_charge": hostile_billing_charge,
    "webhook_delivery": hostile_webhook_delivery,
}
# Values that are clean by construction in the places they occur.
CLEAN_AT = {"/card_last4": lambda v: v.isdigit() and len(v) == 4,
            "/ts": lambda v: bool(RFC3339.match(v)),
            "/billing_address/country": lambda v: v in ("GB", "DE")}


def survey(strategy: st.SearchStrategy, predicates: dict, examples: int = 300) -> set[str]:
    """Names of the ``predicates`` that at least one of ``examples`` drawn values satisfies."""
    reached: set[str] = set()

    @settings(SURVEY, max_examples=examples)
    @given(strategy)
    def draw(value: Any) -> None:
        reached.update(name for name, p in predicates.items()
                       if name not in reached and p(value))

    draw()
    return reached


CANARY_TOKEN = re.compile(r"cnry[a-z0-9]+")


class SecretIndex:
    """``carries(text)``: does ``text`` hold one of ``secrets``? Canaries and raw secrets
    are looked up directly; only the rest (encoded forms) goes through ``leaked``."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = list(secrets)
        self.folded = {s.lower() for s in secrets}
        self.others = [s.lower() for s in secrets if not s.lower().startswith("cnry")]

    def carries(self, text: str) -> bool:
        low = text.lower()
        for match in CANARY_TOKEN.finditer(low):
            token = match.group()
            if any(token[:end] in self.folded for end in range(len(token), 8, -1)):
                return True
        if any(other in low for other in self.others):
            return True
        return bool(leaked(text, self.secrets))

    def __contains__(self, secret: object) -> bool:
        return isinstance(secret, str) and secret.lower() in self.folded


def carries(text: str, index: SecretIndex) -> bool:
    return index.carries(text)


def secretless_strings(event: Any, secrets: SecretIndex) -> list[str]:
    """Field paths of strings (values and unknown keys) that carry no recorded secret.
    Unknown keys show as ``?`` in the paths, so the result never holds a value."""
    found: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                known = key in KNOWN_KEYS
                if not known and not carries(key, secrets):
                    found.append(f"{path}/<key>")
                walk(item, f"{path}/{key if known else '?'}")
        elif isinstance(value, list):
            for item in value:
                walk(item, f"{path}[]")
        elif isinstance(value, str) and value not in CLEAN_STRINGS:
            clean = CLEAN_AT.get(path)
            if not (clean and clean(value)) and not carries(value, secrets):
                found.append(path)

    walk(event, "")
    return found


def host_of(url: str) -> str:
    netloc = urlsplit(url).netloc.rsplit("@", 1)[-1]
    if netloc.startswith("["):
        return netloc[1:netloc.index("]")]
    return netloc.rsplit(":", 1)[0] if ":" in netloc else netloc


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def host_labels_without_secret(url: str, secrets: SecretIndex) -> int:
    """How many labels left of a clean registrable domain carry no secret; a host with no
    registrable domain (IP literal, single label, unknown TLD) counts 1 unless it carries one."""
    host = host_of(url).rstrip(".").lower()
    for registrable in VALID_REGISTRABLE_DOMAINS:
        if host.endswith("." + registrable):
            labels = host[: -len(registrable) - 1].split(".")
            return sum(1 for label in labels if not carries(label, secrets))
    return 0 if carries(host, secrets) else 1


def path_segments(url: str) -> list[str]:
    return [s for s in urlsplit(url).path.split("/") if s not in ("", ".", "..")]


# -- canaries --------------------------------------------------------------------------------

STYLE_SHAPES = {
    "upper": re.compile(r"^CNRY[A-Z2-7]{12,}$"),
    "lower": re.compile(r"^cnry[a-z2-7]{12,}$"),
    "hex": re.compile(r"^cnry[0-9a-f]{12,}$"),
    "word": re.compile(r"^cnry[a-z]{5,}$"),
}


@pytest.mark.parametrize("style", CANARY_STYLES)
@given(data=st.data())
def test_canary_shape_per_style(style: str, data: st.DataObject) -> None:
    value = data.draw(canary(style))
    shaped = bool(STYLE_SHAPES[style].match(value))
    assert shaped


@SLOW
@given(st.lists(canary(), min_size=60, max_size=60), canary_registry())
def test_canaries_are_unique_within_an_example(values: list[str], registry: list[str]) -> None:
    distinct = len(set(values))
    assert distinct == 60
    recorded = set(values) <= set(registry)
    assert recorded


@SLOW
@given(st.lists(canary("word"), min_size=100, max_size=100))
def test_colliding_draws_get_a_suffix_of_the_same_style(values: list[str]) -> None:
    """Hypothesis often draws equal strings; the suffix keeps them unique and word-like."""
    assert len(set(values)) == 100
    wordlike = all(STYLE_SHAPES["word"].match(v) for v in values)
    assert wordlike


def test_a_collision_really_happens_and_is_resolved() -> None:
    reached = survey(st.tuples(canary("upper"), canary("upper")), {
        "collision": lambda p: p[0][:16] == p[1][:16],
        "unresolved": lambda p: p[0] == p[1],
    })
    assert reached == {"collision"}


# -- hostile events --------------------------------------------------------------------------

@SLOW
@pytest.mark.parametrize("kind", sorted(KIND_STRATEGIES))
@given(data=st.data())
def test_every_string_of_a_hostile_event_carries_a_recorded_secret(
        kind: str, data: st.DataObject) -> None:
    secrets: list[str] = []
    event = data.draw(KIND_STRATEGIES[kind](secrets))
    registry = data.draw(canary_registry())
    missing = secretless_strings(event, SecretIndex(secrets))
    assert missing == [], "strings without a secret at these field paths"
    in_registry = set(secrets) <= set(registry)
    assert in_registry
    serialisable = isinstance(orjson.dumps(event), bytes)
    assert serialisable


def well_typed(event: dict) -> list[str]:
    return [f for f in REQUIRED_FIELDS[event["type"]]
            if f not in event or not has_expected_type(f, event[f])]


def tenant_ok(tenant: str) -> bool:
    """Clean, or a value the tenant pattern rejects (never a pattern-valid secret)."""
    return tenant in VALID_TENANTS or not TENANT_RE.match(tenant)


@SLOW
@given(hostile_http_request(), canary_registry())
def test_hostile_http_request_probes_the_hard_places(event: dict, registry: list[str]) -> None:
    secrets = SecretIndex(registry)
    assert well_typed(event) == []
    segments = path_segments(event["url"])
    hostile_segments = [s for s in segments if carries(s, secrets)]
    assert hostile_segments, "the URL path carries at least one secret"
    route = event.get("route")
    route_ok = route is None or route in VALID_ROUTES or carries(route, secrets)
    user = event["user"]
    subject_fields = [f for f in ("id", "email") if f in user]
    checks = {
        "route": route_ok,
        "tenant": tenant_ok(event["tenant_id"]),
        "method": event["method"] in VALID_METHODS or carries(event["method"], secrets),
        "subject": bool(subject_fields) and all(carries(user[f], secrets)
                                                for f in subject_fields),
        "email shape": "email" not in user or "@" in user["email"],
        "headers": all(carries(v, secrets) for v in event["headers"].values()),
        "client_ip": is_ip(event["client_ip"]) and event["client_ip"] in secrets,
    }
    failed = [name for name, ok in checks.items() if not ok]
    assert failed == []


@SLOW
@given(hostile_billing_charge(), canary_registry())
def test_hostile_billing_charge_probes_the_hard_places(event: dict, registry: list[str]) -> None:
    secrets = SecretIndex(registry)
    assert well_typed(event) == []
    digits = event["card_number"].replace(" ", "").replace("-", "")
    iban = event["iban"].replace(" ", "")
    checks = {
        "tenant": tenant_ok(event["tenant_id"]),
        "currency": event["currency"] in VALID_CURRENCIES or carries(event["currency"], secrets),
        "customer": carries(event["customer_id"], secrets),
        "card luhn": luhn_valid(digits) and 13 <= len(digits) <= 19,
        "card recorded": digits in secrets,
        "iban mod 97": int("".join(str(int(c, 36)) for c in iban[4:] + iban[:4])) % 97 == 1,
        "token": event["payment_token"].startswith("tok_")
        and carries(event["payment_token"], secrets),
        "line items": all(carries(i["description"], secrets) and carries(i["sku"], secrets)
                          for i in event["line_items"]),
    }
    failed = [name for name, ok in checks.items() if not ok]
    assert failed == []


@SLOW
@given(hostile_webhook_delivery(), canary_registry())
def test_hostile_webhook_delivery_probes_the_hard_places(event: dict,
                                                         registry: list[str]) -> None:
    secrets = SecretIndex(registry)
    assert well_typed(event) == []
    url = event["endpoint_url"]
    checks = {
        "host labels": host_labels_without_secret(url, secrets) == 0,
        "path": any(carries(s, secrets) for s in path_segments(url)),
        "tenant": tenant_ok(event["tenant_id"]),
        "event type": event["event_type"] in VALID_EVENT_TYPES
        or carries(event["event_type"], secrets),
        "payload": carries(orjson.dumps(event["payload"]).decode(), secrets),
        "status": event["response_status"] is None or isinstance(event["response_status"], int),
    }
    failed = [name for name, ok in checks.items() if not ok]
    assert failed == []


def clean_dims(event: dict, *, route_required: bool = True) -> bool:
    kind = event["type"]
    ts_ok = isinstance(event["ts"], int) or bool(RFC3339.match(event["ts"]))
    if kind == "http_request":
        route_ok = event.get("route") in VALID_ROUTES or (
            not route_required and "route" not in event)
        return ts_ok and event["tenant_id"] in VALID_TENANTS and route_ok \
            and event["method"] in VALID_METHODS and event["status"] in VALID_STATUSES
    if kind == "billing_charge":
        return ts_ok and event["tenant_id"] in VALID_TENANTS \
            and event["currency"] in VALID_CURRENCIES
    return ts_ok and event["tenant_id"] in VALID_TENANTS \
        and event["event_type"] in VALID_EVENT_TYPES


def _route_probe(kind: str):
    def probe(e: dict) -> bool:
        route = e.get("route") or ""
        return {
            "raw path": route.startswith("/") and route not in VALID_ROUTES
            and "{" not in route and route.count("/") >= 1,
            "canary placeholder": "/{cnry" in route.lower(),
            "absent": "route" not in e,
        }[kind]
    return probe


PROBES = {
    "publishable http": (hostile_http_request, clean_dims),
    "publishable billing": (hostile_billing_charge, clean_dims),
    "publishable webhook": (hostile_webhook_delivery, clean_dims),
    "route is a raw path": (hostile_http_request, _route_probe("raw path")),
    "route with a canary placeholder": (hostile_http_request, _route_probe("canary placeholder")),
    "route absent": (hostile_http_request, _route_probe("absent")),
    "word-like canary in the path": (hostile_http_request, lambda e: any(
        re.fullmatch(r"cnry[a-z]+", s) for s in path_segments(e["url"]))),
    "personal github.io subdomain": (hostile_webhook_delivery,
                                     lambda e: host_of(e["endpoint_url"]).endswith(".github.io")),
    "userinfo": (hostile_webhook_delivery, lambda e: "@" in urlsplit(e["endpoint_url"]).netloc),
    "IPv6 literal host": (hostile_webhook_delivery,
                          lambda e: urlsplit(e["endpoint_url"]).netloc.count("[") == 1),
    "single-label host": (hostile_webhook_delivery,
                          lambda e: "." not in host_of(e["endpoint_url"])
                          and not is_ip(host_of(e["endpoint_url"]))),
    "email as tenant": (hostile_billing_charge, lambda e: "@" in e["tenant_id"]),
    "IP as tenant": (hostile_http_request, lambda e: is_ip(e["tenant_id"])),
    "canary as currency": (hostile_billing_charge,
                           lambda e: e["currency"].startswith("CNRY")),
    "email as currency": (hostile_billing_charge, lambda e: "@" in e["currency"]),
    "JWT in a query": (hostile_http_request,
                       lambda e: re.search(r"=eyJ[\w-]+\.[\w-]+\.[\w-]+", e["url"]) is not None),
    "percent-encoded email in the path": (hostile_http_request,
                                          lambda e: "%40" in urlsplit(e["url"]).path),
    "hostile timestamp": (hostile_http_request,
                          lambda e: isinstance(e["ts"], str) and "cnry" in e["ts"].lower()),
    "status out of range": (hostile_http_request, lambda e: not 100 <= e["status"] <= 599),
}


@pytest.mark.parametrize("strategy", sorted(KIND_STRATEGIES.values(), key=lambda f: f.__name__),
                         ids=lambda f: f.__name__)
def test_the_strategies_reach_each_probe(strategy) -> None:
    probes = {name: predicate for name, (made_by, predicate) in PROBES.items()
              if made_by is strategy}
    missing = sorted(set(probes) - survey(strategy(), probes, examples=1500))
    assert missing == []


# -- publishable cells -----------------------------------------------------------------------

def subject_of(event: dict) -> str:
    if event["type"] == "http_request":
        return event["user"]["id"]
    if event["type"] == "billing_charge":
        return event["customer_id"]
    return event["tenant_id"]


@SLOW
@pytest.mark.parametrize("kind", sorted(KIND_STRATEGIES))
@given(data=st.data())
def test_hostile_cell_shares_one_clean_cell_with_distinct_subjects(
        kind: str, data: st.DataObject) -> None:
    secrets: list[str] = []
    events = data.draw(hostile_cell(kind, secrets, min_size=5, max_size=8))
    assert 5 <= len(events) <= 8
    assert sum(1 for e in events if well_typed(e)) == 0
    unclean = sum(1 for e in events if not clean_dims(e, route_required=False))
    assert unclean == 0
    times = [e["ts"] if isinstance(e["ts"], int) else None for e in events]
    in_window = all(t is None or BASE_MS <= t < BASE_MS + WINDOW_MS for t in times)
    assert in_window
    dims = {
        "http_request": lambda e: (e["tenant_id"], e["method"], e.get("route"), e["status"]),
        "billing_charge": lambda e: (e["tenant_id"], e["currency"]),
        "webhook_delivery": lambda e: (e["event_type"], _registrable(e["endpoint_url"])),
    }[kind]
    if kind == "http_request":
        # Without a route field the template comes from a clean numeric path.
        templated = {re.sub(r"/\d+", "/{id}", urlsplit(e["url"]).path) if "route" not in e
                     else e["route"] for e in events}
        assert len(templated) == 1
        assert len({dims(e)[:2] + dims(e)[3:] for e in events}) == 1
    else:
        assert len({dims(e) for e in events}) == 1
    subjects = {subject_of(e) for e in events}
    assert len(subjects) == min(len(events), len(VALID_TENANTS) if kind == "webhook_delivery"
                                else len(events))
    index = SecretIndex(secrets)
    missing = [path for e in events for path in secretless_strings(
        {k: v for k, v in e.items() if k not in ("url", "endpoint_url")}, index)]
    assert missing == [], "strings without a secret at these field paths"


def _registrable(url: str) -> str:
    host = host_of(url)
    if is_ip(host):
        return "{ip}"
    return next(r for r in VALID_REGISTRABLE_DOMAINS if host.endswith("." + r))


# -- garbage ---------------------------------------------------------------------------------

def nesting_depth(value: Any) -> int:
    depth = 0
    while isinstance(value, dict | list) and value:
        value = next(iter(value.values())) if isinstance(value, dict) else value[0]
        depth += 1
    return depth


def known_type(value: Any) -> bool:
    kind = value.get("type") if isinstance(value, dict) else None
    return isinstance(kind, str) and kind in KIND_STRATEGIES


GARBAGE_CHECKS = {
    "wrong_type": lambda e: isinstance(e, dict) and any(
        f in e and not has_expected_type(f, e[f]) for f in REQUIRED_FIELDS[e["type"]]),
    "unknown_type": lambda e: isinstance(e, dict) and not known_type(e),
    "missing_field": lambda e: isinstance(e, dict) and (
        "type" not in e or any(f not in e for f in REQUIRED_FIELDS[e["type"]])),
    "huge_string": lambda e: any(isinstance(v, str) and len(v) >= 64 * 1024 for v in e.values()),
    "deep_nesting": lambda e: any(nesting_depth(v) >= 20 for v in e.values()),
    "non_object": lambda e: not isinstance(e, dict),
    "extra_keys": lambda e: sum(1 for k in e if k not in KNOWN_KEYS) >= 3,
}


@SLOW
@pytest.mark.parametrize("kind", GARBAGE_KINDS)
@given(data=st.data())
def test_garbage_event_is_what_its_kind_says(kind: str, data: st.DataObject) -> None:
    secrets: list[str] = []
    value = data.draw(garbage_event(secrets, kind=kind))
    ok = GARBAGE_CHECKS[kind](value)
    assert ok
    encoded = orjson.dumps(value)             # always serialisable
    assert isinstance(encoded, bytes) and secrets


def test_hostile_event_mixes_the_three_kinds_and_garbage() -> None:
    kinds = {kind: (lambda wanted: lambda v: known_type(v) and v["type"] == wanted)(kind)
             for kind in KIND_STRATEGIES}
    kinds["non_object"] = lambda v: not isinstance(v, dict)
    kinds["garbage object"] = lambda v: isinstance(v, dict) and not known_type(v)
    kinds["wrong type"] = lambda v: known_type(v) and any(f in v and not has_expected_type(f, v[f]) for f in REQUIRED_FIELDS[v["type"]])
    missing = sorted(set(kinds) - survey(hostile_event(), kinds, examples=1500))
    assert missing == []


# -- raw lines -------------------------------------------------------------------------------

def loads_or_none(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def decodes_as_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


RAW_CHECKS = {
    "event": lambda b: isinstance(loads_or_none(b), dict)
    and loads_or_none(b)["type"] in KIND_STRATEGIES,
    "garbage_json": lambda b: loads_or_none(b) is not None or b == b"null",
    "broken_json": lambda b: loads_or_none(b) is None and decodes_as_utf8(b),
    "invalid_utf8": lambda b: not decodes_as_utf8(b) and loads_or_none(b) is None,
    "bad_escape": lambda b: decodes_as_utf8(b) and loads_or_none(b) is None,
    "non_object": lambda b: b == b"null" or not isinstance(loads_or_none(b), dict | None),
    "deep_nesting": lambda b: (b.startswith(b"[" * 1000) or b.startswith(b'{"a":' * 1000)
                               or b'"user":' + b"[" * 1000 in b),
    "huge_string": lambda b: len(b) >= 1 << 20 and isinstance(loads_or_none(b), dict),
    "empty": lambda b: b.strip() == b"",
    "bom": lambda b: b.startswith(b"\xef\xbb\xbf") and loads_or_none(b[3:]) is not None,
    "duplicate_keys": lambda b: b.count(b'"type"') == 2 and isinstance(loads_or_none(b), dict),
    "big_number": lambda b: b'"amount_minor":' in b
    and not isinstance((loads_or_none(b) or {}).get("amount_minor"), int),
}


@pytest.mark.parametrize("category", RAW_LINE_CATEGORIES)
@settings(deadline=None, max_examples=15, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_raw_line_category_is_what_it_says(category: str, data: st.DataObject) -> None:
    secrets: list[str] = []
    got, line = data.draw(raw_line_with_category(secrets, category=category))
    assert got == category and isinstance(line, bytes)
    ok = RAW_CHECKS[category](line)
    assert ok


def test_raw_line_reaches_every_category() -> None:
    categories = {c: (lambda wanted: lambda pair: pair[0] == wanted)(c)
                  for c in RAW_LINE_CATEGORIES}
    missing = sorted(set(categories) - survey(raw_line_with_category(), categories))
    assert missing == []


def test_raw_line_draws_message_values_of_the_raw_categories() -> None:
    """``raw_line()`` (what the leak tests draw) gives the message values of the categories
    above — valid events among them — not their labels or decoded text."""
    shapes = ("event", "invalid_utf8", "empty", "bom", "deep_nesting", "non_object")
    checks = {c: (lambda check: lambda line: isinstance(line, bytes) and check(line))(
        RAW_CHECKS[c]) for c in shapes}
    missing = sorted(set(shapes) - survey(raw_line(), checks))
    assert missing == []


def test_deep_nesting_is_built_as_bytes_up_to_100000_levels() -> None:
    reached = survey(raw_line_with_category(category="deep_nesting"), {
        "100000 deep": lambda p: p[1].count(b"[") + p[1].count(b'{"a":') >= 100_000,
    }, examples=100)
    assert reached == {"100000 deep"}


# -- leak forms ------------------------------------------------------------------------------

def test_leak_forms_contains_every_encoding() -> None:
    secret = "Alice.Smith+x@Example.com"
    raw = secret.encode()
    lower = secret.lower().encode()
    expected = {
        secret, secret.lower(), secret.upper(),
        quote(secret), quote(secret, safe=""), quote_plus(secret),
        base64.b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
        hashlib.md5(raw).hexdigest(), hashlib.sha1(raw).hexdigest(),
        hashlib.sha256(raw).hexdigest(),
        hashlib.md5(lower).hexdigest(), hashlib.sha1(lower).hexdigest(),
        hashlib.sha256(lower).hexdigest(),
        "".join(f"%{b:02X}" for b in raw),
    }
    missing = len(expected - leak_forms(secret))
    assert missing == 0


@given(canary(), st.binary(max_size=12), st.binary(max_size=12),
       st.sampled_from([base64.b64encode, base64.urlsafe_b64encode]))
def test_a_secret_inside_longer_base64_is_still_found(secret: str, before: bytes, after: bytes,
                                                      encode) -> None:
    """A canary inside a JWT payload: found whatever the alignment."""
    blob = encode(before + secret.encode() + after).decode().rstrip("=")
    found = leaked(blob, [secret]) == [0]
    assert found


@SLOW
@given(hostile_http_request(), canary_registry())
def test_jwt_payload_secrets_are_found(event: dict, secrets: list[str]) -> None:
    token = event["headers"]["authorization"].removeprefix("Bearer ")
    payload = orjson.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    inside = [payload["sub"]]
    found = leaked(token, inside) == [0]
    assert found


@given(canary())
def test_leaked_is_case_insensitive_for_the_secret_itself(secret: str) -> None:
    assert leaked(f"x {secret.capitalize()} y", [secret]) == [0]
    assert leaked(f"x {secret.swapcase()} y", [secret]) == [0]


def test_leaked_and_assert_no_leaks_never_show_the_secret() -> None:
    secrets = ["CNRYAAAABBBBCCCC", "cnryalicezz", "203.0.113.77"]
    output = orjson.dumps({"dims": {"route": "/users/cnryalicezz"},
                           "h": hashlib.sha256(b"CNRYAAAABBBBCCCC").hexdigest()})
    assert leaked(output, secrets) == [0, 1]
    assert leaked([output, b"ip 203.0.113.77"], secrets) == [0, 1, 2]
    assert leaked(b"nothing here", secrets) == []
    assert_no_leaks(b"nothing here", secrets)
    with pytest.raises(AssertionError) as info:
        assert_no_leaks(output, secrets)
    message = str(info.value)
    shown = [s for s in secrets if any(f in message for f in leak_forms(s))]
    assert shown == [] and "2 of 3" in message


@pytest.mark.parametrize("number, valid", [
    ("4242424242424242", True), ("378282246310005", True), ("6011111111111117", True),
    ("4242424242424241", False), ("1234567812345678", False), ("", False),
])
def test_luhn_valid(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


# -- realistic dangerous values (issue 9) ----------------------------------------------------

NAME_SUBJECT = {"http_request": lambda e: e["user"]["id"],
                "billing_charge": lambda e: e["customer_id"],
                "webhook_delivery": lambda e: e["tenant_id"]}
NAME_FIELD = {"http_request": lambda e: (e["url"], e.get("route")),
              "billing_charge": lambda e: e["tenant_id"],
              "webhook_delivery": lambda e: urlsplit(e["endpoint_url"]).hostname}


@SLOW
@pytest.mark.parametrize("kind", NAME_KINDS)
@given(data=st.data())
def test_name_cell_shares_one_dangerous_value_among_k_subjects(kind: str,
                                                               data: st.DataObject) -> None:
    secrets = SecretList()
    events = data.draw(name_cell(kind, secrets))
    assert len(events) >= 6
    assert len({NAME_SUBJECT[kind](e) for e in events}) == len(events)
    assert len({NAME_FIELD[kind](e) for e in events}) == 1
    assert all(BASE_MS <= e["ts"] < BASE_MS + WINDOW_MS for e in events)
    assert all(TENANT_RE.match(e["tenant_id"]) for e in events)
    assert all(has_expected_type(f, e[f]) for e in events for f in REQUIRED_FIELDS[kind])
    assert secrets and secrets.wholes if kind != "billing_charge" else secrets
    # the dangerous value carries a recorded secret
    field = NAME_FIELD[kind](events[0])
    text = field[0] if kind == "http_request" else field
    assert leaked(text, secrets)
    # the clean twin carries none
    twin = clean_twin(events)
    assert not leaked([orjson.dumps(e) for e in twin], secrets)


def test_name_strategies_reach_every_form() -> None:
    for strategy, forms in ((name_route, NAME_ROUTE_FORMS), (tenant_name, TENANT_NAME_FORMS),
                            (personal_domain, PERSONAL_DOMAIN_FORMS)):
        for form in forms:
            value = survey_one(strategy(form=form))
            assert value, form


def survey_one(strategy: st.SearchStrategy) -> Any:
    seen: list[Any] = []

    @settings(SURVEY, max_examples=5)
    @given(strategy)
    def draw(value: Any) -> None:
        seen.append(value)

    draw()
    return seen[0] if seen else None


@settings(SURVEY, max_examples=200)
@given(tenant_name(), canary_registry())
def test_tenant_names_match_the_tenant_grammar_and_name_a_person(tenant: str,
                                                                 secrets: list[str]) -> None:
    assert TENANT_RE.match(tenant)
    low = tenant.lower()
    assert any(f in low for f in PERSON_FIRST_NAMES) and any(n in low for n in PERSON_LAST_NAMES)
    assert tenant in secrets


@settings(SURVEY, max_examples=200)
@given(personal_domain(), canary_registry())
def test_personal_domains_are_registrable_domains_of_a_name(pair: tuple[str, str],
                                                            secrets: list[str]) -> None:
    host, registrable = pair
    assert icann_psl().privatesuffix(host) == registrable
    assert registrable in secrets and leaked(host, secrets)


@lru_cache(maxsize=1)
def icann_psl() -> Any:
    from publicsuffixlist import PublicSuffixList
    return PublicSuffixList(only_icann=True, accept_unknown=False)


@settings(SURVEY, max_examples=300)
@given(name_route(), canary_registry())
def test_name_routes_put_a_recorded_name_in_a_path_segment(pair: tuple[str, str],
                                                           secrets: list[str]) -> None:
    path, route = pair
    assert path.startswith("/") and route.startswith("/")
    assert leaked(path, secrets) and leaked(route, secrets)
    assert "//" not in path


@SLOW
@given(name_route(), canary_registry())
def test_free_names_and_name_parts_never_occur_in_clean_output_words(pair, secrets) -> None:
    corpus = clean_corpus()
    for secret in secrets:
        assert secret.lower() not in corpus


# -- the leak detector's new rules -----------------------------------------------------------

def test_any_substring_of_8_characters_is_found_and_7_are_not_enough() -> None:
    secret = "priyanka_ashworth"
    for start in range(len(secret) - 7):
        assert leaks(f"/v1/{secret[start:start + 8]}/x", [secret]) == [(0, "substring")]
    assert leaks("/v1/priyank/x", [secret]) == []


def test_substring_rule_ignores_clean_words_and_digit_runs() -> None:
    email = "cnryqwertzuiopas@example.com"
    card = "4111111111111111"
    # example.com is a publishable host, 11111111 a plausible count
    assert leaks('{"host": "example.com", "count": 111111111}', [email, card]) == []
    assert secret_fragments(card) == frozenset()
    assert "example." not in secret_fragments(email)


def test_truncated_and_base64_digests_are_found() -> None:
    secret = "john.smith"
    for algo in (hashlib.md5, hashlib.sha1, hashlib.sha256, hashlib.sha512):
        digest = algo(secret.encode())
        assert leaks(f"/v1/{digest.hexdigest()[:12]}", [secret]) == [(0, "digest")]
        assert leaks(f"/v1/{digest.hexdigest()[:16].upper()}", [secret]) == [(0, "digest")]
        b64 = base64.urlsafe_b64encode(digest.digest()).decode()[:14]
        assert leaks(f"id={b64}", [secret]) == [(0, "digest")]


def test_digests_of_full_values_are_found() -> None:
    secrets = SecretList()
    secrets.append("cnryjohnsmithzq")
    url = "https://api.example.com/v1/users/cnryjohnsmithzq/profile"
    secrets.wholes.append(url)
    hashed = hashlib.sha256(url.encode()).hexdigest()[:12]
    assert leaks(f'{{"route": "/v1/h/{hashed}"}}', secrets) == [(1, "whole_digest")]
    assert leaked(f"/v1/h/{hashed}", secrets) == [1]
    # a full value's own text is not a secret by itself (it holds the canary, found raw)
    assert leaks("https://api.example.com/v1/users/", secrets) == []


def test_the_detector_does_not_false_alarm_on_clean_traffic_outputs() -> None:
    """Secrets of every strategy against everything a correct run on the generator's clean
    traffic outputs (aggregates, keys, report, central summary and metrics): nothing found."""
    from prometheus_client import generate_latest

    from deidentify.central.collector import CentralCollector
    from deidentify.central.validate import AggregateValidator
    from deidentify.generate import TelemetryGenerator
    from deidentify.pipeline import Pipeline
    from deidentify.preview import write_report
    from deidentify.schema import default_schema_dir, load_schemas

    schemas = load_schemas(default_schema_dir())
    start = BASE_MS
    gen = TelemetryGenerator(seed=7, region="eu", start_ms=start, events_per_second=100)
    pipeline = Pipeline(schemas, region="eu")
    pipeline.process_batch([(i, v) for i, (_k, v) in enumerate(gen.encoded(20_000))])
    aggregates = pipeline.close_all()
    assert len(aggregates) > 20
    collector = CentralCollector(schemas, validator=AggregateValidator(
        schemas, now_ms=lambda: start + 600_000), clock=lambda: start / 1000 + 600)
    for agg in aggregates:
        collector.handle(agg.to_json())
    report = io.StringIO()
    write_report(pipeline, len(aggregates), report)
    outputs = ([a.to_json() for a in aggregates] + [a.key for a in aggregates]
               + [report.getvalue(), orjson.dumps(collector.summary()),
                  generate_latest(collector.metrics.registry)])
    secrets = SecretList()

    @settings(SURVEY, max_examples=150)
    @given(st.one_of(*(name_cell(kind, secrets) for kind in NAME_KINDS),
                     hostile_event(secrets)))
    def draw(_value: Any) -> None:
        pass

    draw()
    assert len(secrets) > 500
    assert leaks(outputs, secrets) == []

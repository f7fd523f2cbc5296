"""RouteTemplate: table of segment classes and hostile inputs, then properties."""

from __future__ import annotations

import re
import string
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from deidentify.dimensions.host import split_url
from deidentify.dimensions.route import (
    MORE,
    OTHER,
    ROUTE_GRAMMAR,
    SHIPPED_VOCABULARY,
    RouteTemplate,
    RouteVocabulary,
    _path_of,
    declared_template,
    is_valid_route,
)
from deidentify.dimensions.routewords import FILE_EXTENSIONS, ROUTE_WORDS
from deidentify.errors import ConfigError
from tests.strategies import canary_registry, hostile_http_request, leaked

TEMPLATE = RouteTemplate()
UUID = "0b6e1f2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFsaWNlIn0"
       ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
VERSION_RE = re.compile(r"v[0-9]{1,2}(?:\.[0-9]{1,2})?")

# ----------------------------------------------------------------------------- URL templating

URL_CASES = [
    # (id, url, expected)
    ("plain", "https://api.example.com/v1/orders", "/v1/orders"),
    ("numeric-id", "https://api.example.com/v1/orders/12345", "/v1/orders/{id}"),
    ("two-digit-id", "/v1/orders/42", "/v1/orders/{id}"),
    ("one-digit-kept", "/2/users", "/2/users"),
    ("version-kept", "/v1/orders", "/v1/orders"),
    ("version-two-digits", "/api/v10/users", "/api/v10/users"),
    ("version-dotted", "/v19.0/me", "/v19.0/me"),
    ("digits-inside-word", "/orders/order-12345", "/orders/{id}"),
    ("x86-is-id", "/files/x86", "/files/{id}"),
    ("sha256-is-token", "/hash/sha256", "/hash/{token}"),
    ("three-single-digits", "/packages/1.2.3", "/packages/{id}"),
    ("ipv4-single-digits", "/ip/1.2.3.4", "/ip/{ip}"),
    ("ipv4", "/ip/192.168.0.1", "/ip/{ip}"),
    ("uuid", f"/files/{UUID}", "/files/{uuid}"),
    ("uuid-uppercase", f"/files/{UUID.upper()}", "/files/{uuid}"),
    ("hex-run", "/commits/deadbeef42", "/commits/{hex}"),
    ("hex-32", "/objects/9e107d9d372bb6826bd81d3542a419d6", "/objects/{hex}"),
    ("hex-word-no-digit-is-word", "/deadbeef", "/{word}"),
    ("email", "/u/alice@example.com/profile", "/u/{email}/profile"),
    ("email-percent-encoded", "/u/alice%40example.com/profile", "/u/{email}/profile"),
    ("email-lower-percent", "/u/alice%40example.com", "/u/{email}"),
    ("jwt", f"/session/{JWT}", "/session/{token}"),
    ("token-mixed", "/keys/sk_live_51H8xYzAbCdEf", "/keys/{token}"),
    ("token-canary", "/v1/cnryQ7pX2mLk9Zr/x", "/v1/{token}/x"),
    ("token-lower-alnum", "/v1/k3j5h2g7f9d1s", "/v1/{token}"),
    ("token-mixed-case-letters", "/t/AbXyZkLmQrSt", "/t/{token}"),
    ("token-letters-only", "/t/xkcdqzptrwvbn", "/t/{token}"),
    ("token-letters-upper", "/t/CNRYQXWJVZKPLMHB", "/t/{token}"),
    ("token-short-two-digits", "/r/x7k9p2", "/r/{token}"),
    ("short-one-digit-is-word", "/r/ab3kx", "/r/{word}"),
    ("api-version-kept", "/apis/batch/v1beta1/jobs", "/apis/batch/v1beta1/jobs"),
    ("false-positive-utf8mb4", "/settings/utf8mb4", "/settings/{token}"),
    ("date-iso", "/reports/2026-11-20", "/reports/{date}"),
    ("date-compact", "/reports/20261120", "/reports/{date}"),
    ("date-time", "/reports/2026-11-20T10:00:00Z", "/reports/{date}"),
    ("bad-date-is-id", "/reports/20261399", "/reports/{id}"),
    ("long-segment", "/slug/" + "a" * 49, "/slug/{long}"),
    ("segment-at-limit", "/slug/" + "api-" * 12, "/slug/" + "api-" * 12),
    ("unsafe-space", "/search/hello%20world", "/search/{seg}"),
    ("unsafe-unicode", "/cities/m%C3%BCnchen", "/cities/{seg}"),
    ("unsafe-encoded-slash", "/a%2Fb/c", "/{seg}/c"),
    ("unsafe-handle", "/@alice", "/{seg}"),
    ("double-encoded-email", "/u/alice%2540example.com", "/u/{seg}"),
    ("invalid-percent", "/x/%ff%fe", "/x/{seg}"),
    ("tilde-home", "/~alice/files", "/{seg}/files"),
    ("dot-segments", "/a/./../b", "/a/{seg}/{seg}/b"),
    ("well-known", "/.well-known/openid-configuration", "/.well-known/openid-configuration"),
    ("ordinary-words", "/checkout-session/api/orders", "/checkout-session/api/orders"),
    ("case-lowered", "/V1/Orders/Search", "/v1/orders/search"),
    ("camel-case-is-word", "/v1/Orders/getUserProfile", "/v1/orders/{word}"),
    ("percent-decoded-word", "/%6Frders", "/orders"),
    ("depth-capped", "/a/b/c/d/e/f/g/h/i/j", "/a/b/c/d/e/f/g/h/" + MORE),
    ("depth-exact", "/a/b/c/d/e/f/g/h", "/a/b/c/d/e/f/g/h"),
    ("empty-segments-collapse", "/v1//orders///", "/v1/orders"),
    ("root", "https://example.com", "/"),
    ("root-slash", "https://example.com/", "/"),
    ("query-dropped", "/search?q=alice@example.com&id=123", "/search"),
    ("fragment-dropped", "/search#alice", "/search"),
    ("userinfo-dropped", "https://alice:secret@example.com/v1/x", "/v1/x"),
    ("port-dropped", "http://example.com:8080/v1/x", "/v1/x"),
    ("scheme-relative", "//cdn.example.com/assets/app.js", "/assets/app.js"),
    ("backslashes", "https:\\\\example.com\\v1\\orders\\77", "/v1/orders/{id}"),
    ("host-first", "hooks.example.com/path", "/path"),
    ("host-first-port", "example.com:8443/v1/x", "/v1/x"),
    ("uppercase-scheme", "HTTPS://EXAMPLE.COM/V1/Orders", "/v1/orders"),
    ("whitespace-stripped", "  https://example.com/v1/x \n", "/v1/x"),
    ("tab-inside-removed", "https://exa\tmple.com/v1/x", "/v1/x"),
    # route literals fail closed: only known words survive (issue 9)
    ("name-first-dot-last", "/v1/users/alice.smith/profile", "/v1/users/{word}/profile"),
    ("name-firstlast", "/v1/patients/johnsmith/records", "/v1/patients/{word}/records"),
    ("name-first-underscore-last", "/v1/authors/priyanka_ashworth/posts",
     "/v1/authors/{word}/posts"),
    ("name-last-first-file", "/ashworth/ignatius/avatar.png", "/{word}/{word}/avatar.png"),
    ("name-camel", "/u/JohnSmith", "/u/{word}"),
    ("name-hyphen", "/u/mary-jane", "/u/{word}"),
    ("name-with-known-word", "/u/api-alice", "/u/{word}"),
    ("name-with-extension", "/photos/alice.jpg", "/photos/{word}"),
    ("name-dot-last-ext", "/photos/alice.smith.png", "/photos/{word}"),
    ("name-encoded-space", "/u/alice%20smith", "/u/{seg}"),
    ("name-that-is-a-word", "/u/grace", "/u/{word}"),
    ("page-is-a-name", "/page/2", "/{word}/2"),
    ("plain-unknown-word", "/wibble", "/{word}"),
    ("digits-dot", "/v1/orders/1.2", "/v1/orders/{id}"),
    ("digits-dash", "/a/1-3", "/a/{id}"),
    ("digits-dots", "/releases/3.4.5", "/releases/{id}"),
    ("punctuation-only", "/a/-/_", "/a/{seg}/{seg}"),
    ("known-compound", "/v1/payment_intents/x/confirm", "/v1/payment_intents/x/confirm"),
    ("known-file", "/favicon.ico", "/favicon.ico"),
    ("known-file-compound", "/apple-touch-icon.png", "/apple-touch-icon.png"),
    ("known-file-multi-dot", "/static/app.bundle.js", "/static/app.bundle.js"),
    ("unknown-extension", "/static/app.exe", "/static/{word}"),
    ("dot-prefixed", "/.env", "/.env"),
    ("version-beta", "/apis/batch/v2beta1/cronjobs", "/apis/batch/v2beta1/cronjobs"),
    ("next-js", "/_next/static/chunks/main.js", "/_next/static/chunks/main.js"),
    ("javascript", "javascript:alert(1)", OTHER),
    ("mailto", "mailto:alice@example.com", OTHER),
    ("data-uri", "data:text/plain,alice", OTHER),
    ("empty", "", OTHER),
    ("only-query", "?q=1", OTHER),
]


@pytest.mark.parametrize(("url", "expected"), [c[1:] for c in URL_CASES],
                         ids=[c[0] for c in URL_CASES])
def test_url_templating(url: str, expected: str) -> None:
    assert TEMPLATE(None, url) == expected
    assert is_valid_route(expected)


# ----------------------------------------------------------------------------- route field

ROUTE_CASES = [
    # (id, route field, url, expected)
    ("template-used", "/v1/orders/{id}", "https://x.com/v1/orders/12345", "/v1/orders/{id}"),
    ("template-without-url", "/v1/orders/{id}", None, "/v1/orders/{id}"),
    ("template-uppercase-lowered", "/v1/Orders/{Order_ID}", None, "/v1/orders/{order_id}"),
    ("express-style", "/users/:user_id/posts", None, "/users/{user_id}/posts"),
    ("express-style-camel", "/users/:userId/posts", None, "/users/{param}/posts"),
    ("flask-style", "/users/<int:user_id>", None, "/users/{user_id}"),
    ("starlette-converter", "/files/{path:path}", None, "/files/{path}"),
    ("catch-all", "/docs/{*slug}", None, "/docs/{slug}"),
    ("nextjs-style", "/blog/[...slug]", None, "/blog/{slug}"),
    ("trailing-slash", "/v1/orders/", None, "/v1/orders"),
    ("root", "/", None, "/"),
    ("depth-capped", "/a/b/c/d/e/f/g/h/i", None, "/a/b/c/d/e/f/g/h/" + MORE),
    ("more-marker-kept", "/a/b/" + MORE, None, "/a/b/" + MORE),
    ("raw-id-falls-back-to-url", "/users/12345", "https://x.com/users/12345", "/users/{id}"),
    ("raw-id-without-url", "/users/12345", None, OTHER),
    ("raw-email-falls-back", "/u/alice@example.com", "/u/alice%40example.com", "/u/{email}"),
    ("raw-canary-falls-back", "/u/cnryQ7pX2mLk9Zr", "/u/cnryQ7pX2mLk9Zr", "/u/{token}"),
    ("percent-in-route", "/u/alice%40example.com", None, OTHER),
    ("no-leading-slash", "v1/orders/{id}", "/v1/orders/99", "/v1/orders/{id}"),
    ("placeholder-name-with-id", "/u/{user12345}", None, OTHER),
    ("placeholder-name-token", "/u/{cnryQ7pX2mLk9Zr}", None, OTHER),
    ("bad-placeholder", "/u/{a b}", None, OTHER),
    ("more-marker-alone", "/" + MORE, None, OTHER),
    ("route-not-str", 123, "/v1/orders/7", "/v1/orders/7"),
    ("route-none-url-none", None, None, OTHER),
    ("url-not-str", None, b"/v1/orders", OTHER),
    ("url-dict", None, {"path": "/x"}, OTHER),
    ("empty-route", "", "/v1/x", "/v1/x"),
    # the route field obeys the same known-literal rule as the URL
    ("route-field-name", "/v1/patients/johnsmith/records", None, "/v1/patients/{word}/records"),
    ("route-field-name-url-too", "/v1/users/alice.smith/profile",
     "https://x.com/v1/users/alice.smith/profile", "/v1/users/{word}/profile"),
    ("route-field-unknown-placeholder", "/v1/users/{alice}", None, "/v1/users/{param}"),
    ("route-field-camel-placeholder", "/v1/orders/{orderId}", None, "/v1/orders/{param}"),
    ("route-field-word-placeholder", "/static/{fileName}", None, "/static/{filename}"),
    ("route-field-compound-placeholder", "/v1/x/{address_id}", None, "/v1/x/{address_id}"),
    ("route-field-own-placeholders", "/v1/{word}/{param}/{uuid}", None,
     "/v1/{word}/{param}/{uuid}"),
]


@pytest.mark.parametrize(("route", "url", "expected"), [c[1:] for c in ROUTE_CASES],
                         ids=[c[0] for c in ROUTE_CASES])
def test_route_field(route: object, url: object, expected: str) -> None:
    assert TEMPLATE(route, url) == expected


def test_depth_and_length_are_configurable() -> None:
    shallow = RouteTemplate(max_depth=2, max_segment_len=5)
    assert shallow(None, "/a/b/c") == "/a/b/" + MORE
    assert shallow(None, "/abcdef/b") == "/{long}/b"
    assert shallow("/abcdef/{id}", "/x") == "/x"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_depth": 0}, "max_depth must be between 1 and 32"),
    ({"max_depth": 33}, "max_depth must be between 1 and 32"),
    ({"max_segment_len": 0}, "max_segment_len must be between 1 and 64"),
    ({"max_segment_len": 65}, "max_segment_len must be between 1 and 64"),
    ({"cache_size": -1}, "cache_size must be an integer >= 0"),
    ({"max_depth": "8"}, "max_depth must be between 1 and 32"),
], ids=["depth-zero", "depth-too-deep", "seglen-zero", "seglen-too-long", "cache-negative",
        "depth-str"])
def test_constructor_validates(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RouteTemplate(**kwargs)


# ----------------------------------------------------------------------------- grammar

VALID_ROUTE_CASES = [
    ("other", OTHER, True),
    ("root", "/", True),
    ("template", "/v1/orders/{id}", True),
    ("more", "/a/b/" + MORE, True),
    ("well-known", "/.well-known/x", True),
    ("version", "/api/v10/x", True),
    ("empty", "", False),
    ("no-slash", "v1/orders", False),
    ("uppercase", "/v1/Orders", False),
    ("digits", "/users/12345", False),
    ("token", "/u/cnryq7px2mlk9zr", False),
    ("hex", "/x/deadbeef42", False),
    ("empty-segment", "/a//b", False),
    ("trailing-slash", "/a/", False),
    ("dots", "/a/..", False),
    ("tilde-first", "/~alice", False),
    ("space", "/a b", False),
    ("more-in-middle", "/a/" + MORE + "/b", False),
    ("more-alone", "/" + MORE, False),
    ("placeholder-digits", "/u/{id12}", False),
    ("placeholder-upper", "/u/{Id}", False),
    ("too-deep", "/a" * 33, False),
    ("segment-too-long", "/" + "a" * 65, False),
    ("newline", "/a\n", False),
    ("not-str", 5, False),
    ("unknown-word", "/users/alice", False),
    ("unknown-word-compound", "/users/alice-smith", False),
    ("name-file", "/photos/alice.png", False),
    ("unknown-placeholder-name", "/users/{alice}", False),
    ("digits-and-punctuation", "/x/1.2", False),
    ("word-placeholder", "/users/{word}/{param}", True),
    ("known-file", "/static/app.js", True),
]


@pytest.mark.parametrize(("value", "valid"), [c[1:] for c in VALID_ROUTE_CASES],
                         ids=[c[0] for c in VALID_ROUTE_CASES])
def test_is_valid_route(value: object, valid: bool) -> None:
    assert is_valid_route(value) is valid  # type: ignore[arg-type]


def test_grammar_is_compiled_pattern() -> None:
    assert isinstance(ROUTE_GRAMMAR, re.Pattern)
    assert ROUTE_GRAMMAR.match("/v1/orders/{id}")
    assert ROUTE_GRAMMAR.match("/v1/orders\n") is None


# ----------------------------------------------------------------------------- cache


def test_cache_is_bounded_and_transparent() -> None:
    small = RouteTemplate(cache_size=4)
    uncached = RouteTemplate(cache_size=0)
    for i in range(100):
        url = f"/v1/item{i % 10}/{i}?q={i}"
        route = f"/r/{i}" if i % 3 else None
        assert small(route, url) == uncached(route, url)
        assert small.cache_len() <= 8
    assert uncached.cache_len() == 0


def test_long_paths_are_not_cached() -> None:
    t = RouteTemplate()
    assert t(None, "/" + "a/" * 300) == "/a/a/a/a/a/a/a/a/" + MORE
    assert t.cache_len() == 0


# ----------------------------------------------------------------------------- properties

WORDS = ["orders", "v1", "v2", "api", "checkout-session", "users", "items", "search", "2",
         "webhooks", "invoices", ".well-known", "payment_methods", "getUserProfile", "Orders"]
HEX = "0123456789abcdefABCDEF"
BASE32 = string.ascii_uppercase + string.ascii_lowercase + "234567"


@st.composite
def canaries(draw: st.DrawFn) -> str:
    """``cnry`` + 10-24 random hex or base32 characters, mixed case, with at least one digit."""
    alphabet = draw(st.sampled_from([HEX, BASE32, string.ascii_letters + string.digits]))
    body = list(draw(st.text(alphabet=alphabet, min_size=10, max_size=24)))
    body.insert(draw(st.integers(0, len(body))), draw(st.sampled_from("234567")))
    return "cnry" + "".join(body)


@st.composite
def segments(draw: st.DrawFn) -> str:
    """One raw (possibly percent-encoded) path segment of any class, friendly or hostile."""
    kind = draw(st.sampled_from(["word", "number", "uuid", "email", "canary", "text", "date",
                                 "encoded", "alnum"]))
    if kind == "word":
        return draw(st.sampled_from(WORDS))
    if kind == "number":
        return str(draw(st.integers(0, 10**12)))
    if kind == "uuid":
        return str(draw(st.uuids()))
    if kind == "email":
        return draw(st.sampled_from(["alice@example.com", "alice%40example.com",
                                     "b.o+b@mail.example.org"]))
    if kind == "canary":
        return draw(canaries())
    if kind == "date":
        d = draw(st.dates())
        return d.isoformat() if draw(st.booleans()) else d.strftime("%Y%m%d")
    if kind == "encoded":
        return quote(draw(st.text(min_size=1, max_size=20)), safe="")
    if kind == "alnum":
        return draw(st.text(alphabet=string.ascii_letters + string.digits + "-_.~",
                            min_size=1, max_size=60))
    return draw(st.text(max_size=30).filter(lambda s: "/" not in s and "?" not in s
                                            and "#" not in s and "\\" not in s))


@st.composite
def urls(draw: st.DrawFn) -> str:
    """A URL or path with random scheme/userinfo/host/port/query/fragment around segments."""
    path = "/" + "/".join(draw(st.lists(segments(), max_size=12)))
    prefix = draw(st.sampled_from(["", "https://api.example.com", "http://u:p@h.example:8080",
                                   "//cdn.example.net", "HTTPS://Example.COM"]))
    query = draw(st.sampled_from(["", "?q=cnry0000000000", "?a=1&b=alice@example.com",
                                  "#frag"]))
    return prefix + path + query


@st.composite
def routes(draw: st.DrawFn) -> object:
    """What a route field may hold: None, a non-str, a template, or a raw path."""
    return draw(st.one_of(
        st.none(),
        st.integers(),
        st.sampled_from(["/v1/orders/{id}", "/users/:id", "/", "/a/b/" + MORE]),
        urls(),
        st.text(max_size=40),
    ))


def _digits_only_in_versions(route: str) -> bool:
    """No segment has 2 adjacent or 3 digits in all, unless it is a version token."""
    return all(VERSION_RE.fullmatch(seg) for seg in route.split("/")
               if re.search(r"[0-9]{2}", seg) or len(re.findall(r"[0-9]", seg)) > 2)


@given(route=routes(), url=st.one_of(urls(), st.text(max_size=80), st.none(), st.integers()))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_output_always_valid_fixed_point_and_digit_free(route: object, url: object) -> None:
    out = TEMPLATE(route, url)
    assert is_valid_route(out)
    assert _digits_only_in_versions(out)
    if out != OTHER:
        assert RouteTemplate()(out, None) == out


@given(canary=canaries(), before=st.lists(st.sampled_from(WORDS), max_size=4),
       after=st.lists(st.sampled_from(WORDS), max_size=3),
       wrap=st.sampled_from(["{}", "x-{}", "{}-y", "{}.json", "a_{}_b", "%s"]),
       in_route=st.booleans(), encode=st.booleans())
def test_canary_never_survives(canary: str, before: list[str], after: list[str], wrap: str,
                               in_route: bool, encode: bool) -> None:
    seg = wrap.replace("%s", "{}").format(canary)
    if encode:
        seg = "".join(f"%{ord(c):02X}" if i % 3 == 0 else c for i, c in enumerate(seg))
    path = "/" + "/".join([*before, seg, *after])
    out = RouteTemplate()(path if in_route else None, "https://api.example.com" + path)
    assert canary.lower() not in out.lower()
    assert canary[4:].lower() not in out.lower()
    assert is_valid_route(out)


@given(url=urls())
def test_cache_agrees_with_uncached(url: str) -> None:
    assert TEMPLATE(None, url) == RouteTemplate(cache_size=0)(None, url)


@given(url=urls(), noise=st.sampled_from(["", " ", "\t", "\\x", "?", "#", "\x00", "\x07", "x\x1b",
                                         "?\x00"]))
@example(url="https://api.example.com/a", noise="\x00")      # stripped: a C0 control at the end
@example(url="https://api.example.com/a", noise="x\x1b")
def test_fast_path_agrees_with_split_url(url: str, noise: str) -> None:
    parts = split_url(url + noise)
    assert _path_of(url + noise) == (None if parts is None else parts[1])


@pytest.mark.parametrize("word", ["orders", "v1", "checkout-session", "api", "webhooks",
                                  "subscriptions", "authentication", "configuration",
                                  "payment_methods", "oauth2", "2", "index.html",
                                  "balance_transactions", "openid-configuration",
                                  "introspection", "recommendations", "v1beta1", "Orders",
                                  "avatar.png", "favicon.ico", "robots.txt", "healthz",
                                  ".well-known", "x"])
def test_shipped_words_are_kept(word: str) -> None:
    assert TEMPLATE(None, "/" + word) == "/" + word.lower()


@pytest.mark.parametrize("word", ["getUserProfile", "XMLHttpRequest", "checkoutSessions",
                                  "customerBalanceTransactions", "internationalization",
                                  "alicesmith", "ordersx", "tweets"])
def test_unknown_words_become_placeholders(word: str) -> None:
    """camelCase is not split and concatenations are not segmented: declare such routes."""
    assert TEMPLATE(None, "/" + word) == "/{word}"
    declared = RouteTemplate(vocabulary=RouteVocabulary(["/" + word]))
    assert declared(None, "/" + word) == "/" + word.lower()


@given(junk=st.one_of(st.text(), st.binary(), st.integers(), st.floats(), st.none(),
                      st.lists(st.text()), st.dictionaries(st.text(), st.text())),
       junk2=st.one_of(st.text(), st.none(), st.binary()))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_never_raises_never_logs(junk: object, junk2: object,
                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.clear()
    with caplog.at_level("DEBUG"):
        out = TEMPLATE(junk, junk2)
        out2 = TEMPLATE(junk2, junk)
    assert is_valid_route(out) and is_valid_route(out2)
    assert caplog.records == []


@given(event=hostile_http_request(), secrets=canary_registry())
@settings(max_examples=min(settings.default.max_examples, 100))  # whole events: slow
def test_shared_hostile_requests_leak_nothing(event: dict, secrets: list[str]) -> None:
    """The project's hostile requests: no secret survives route templating, letter-only
    ones included (they are not route words, so they become ``{word}``)."""
    out = TEMPLATE(event.get("route"), event.get("url"))
    assert is_valid_route(out)
    assert leaked(out, secrets) == []


# ----------------------------------------------------------------------------- declared routes

DECLARED = RouteVocabulary([
    "/v1/accounts/{id}/members/{member}",
    "/v1/users/{user}",
    "/v1/users/me",
    "/hash/sha256",
    "/v1/getUserProfile",
    "/v1/users/{user_id}",          # same shape as /v1/users/{user}: the first one is kept
    "/deep/a/b/c/d/e/f/g/h/{x}",
])
DECLARED_TEMPLATE = RouteTemplate(vocabulary=DECLARED)

DECLARED_CASES = [
    # (id, route field, url, expected)
    ("shape-match-url", None, "https://x.com/v1/accounts/acct_42/members/alice.smith",
     "/v1/accounts/{id}/members/{member}"),
    ("shape-match-url-case-and-encoding", None, "/V1/Accounts/x%41/members/bob",
     "/v1/accounts/{id}/members/{member}"),
    ("shape-match-route-field", "/v1/accounts/:acct/members/:who", None,
     "/v1/accounts/{id}/members/{member}"),
    ("raw-path-in-route-field-matches", "/v1/users/johnsmith", None, "/v1/users/{user}"),
    ("literal-beats-placeholder", None, "/v1/users/me", "/v1/users/me"),
    ("placeholder-when-no-literal", None, "/v1/users/Grace", "/v1/users/{user}"),
    ("declared-identifier-like-literal", None, "/hash/sha256", "/hash/sha256"),
    ("declared-camel-literal", None, "/v1/getUserProfile", "/v1/getuserprofile"),
    ("declared-literal-elsewhere", None, "/x/getuserprofile", "/x/getuserprofile"),
    # a declared literal the classes would replace ({token}), where no template matches
    ("declared-identifier-like-literal-elsewhere", None, "/x/sha256", "/x/sha256"),
    ("declared-identifier-like-literal-in-url", None,
     "https://api.example.com/v2/SHA256?x=1", "/v2/sha256"),
    ("no-match-other-depth", None, "/v1/users/alice/posts", "/v1/users/{word}/posts"),
    ("no-match-falls-back-to-words", None, "/v1/accounts/alice", "/v1/accounts/{word}"),
    ("declared-name-kept", "/v1/items/{member}", None, "/v1/items/{member}"),
    ("deep-declared-truncated", None, "/deep/a/b/c/d/e/f/g/h/alice",
     "/deep/a/b/c/d/e/f/g/" + MORE),
]


@pytest.mark.parametrize(("route", "url", "expected"), [c[1:] for c in DECLARED_CASES],
                         ids=[c[0] for c in DECLARED_CASES])
def test_declared_routes(route: object, url: object, expected: str) -> None:
    out = DECLARED_TEMPLATE(route, url)
    assert out == expected
    assert is_valid_route(out, DECLARED)
    assert RouteTemplate(vocabulary=DECLARED)(out, None) == out


@given(route=routes(), url=st.one_of(urls(), st.text(max_size=80), st.none()),
       declared_path=st.sampled_from(["/v1/accounts/acct_1/members/alice.smith",
                                      "/v1/users/me", "/v1/users/Grace", "/hash/sha256",
                                      "/v1/getUserProfile", "/deep/a/b/c/d/e/f/g/h/i"]),
       use_declared=st.booleans())
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_declared_output_always_valid_and_fixed_point(route: object, url: object,
                                                      declared_path: str,
                                                      use_declared: bool) -> None:
    if use_declared:
        url = "https://api.example.com" + declared_path
    out = DECLARED_TEMPLATE(route, url)
    assert is_valid_route(out, DECLARED)
    if out != OTHER:
        assert RouteTemplate(vocabulary=DECLARED)(out, None) == out


def test_declared_literals_are_valid_only_with_their_vocabulary() -> None:
    assert is_valid_route("/v1/getuserprofile", DECLARED)
    assert not is_valid_route("/v1/getuserprofile")
    assert is_valid_route("/hash/sha256", DECLARED)
    assert not is_valid_route("/hash/sha256")
    assert is_valid_route("/v1/users/{user}", DECLARED)
    assert not is_valid_route("/v1/users/{sha256}")


def test_vocabulary_keeps_first_of_a_shape() -> None:
    assert "/v1/users/{user}" in DECLARED.templates
    assert "/v1/users/{user_id}" not in DECLARED.templates
    assert DECLARED.literals >= {"v1", "users", "me", "sha256", "getuserprofile"}
    assert DECLARED.names >= {"id", "member", "user"}


@pytest.mark.parametrize(("template", "message"), [
    ("v1/orders", "starting with '/'"),
    ("/v1/or ders", "segment 2 must be a literal"),
    ("/v1/{a b}", "segment 2 is not a placeholder"),
    ("/" + "a/" * 33, "at most 32 segments"),
    ("/" + "a" * 65, "segment 1 must be a literal"),
    ("/v1/..", "segment 2 must be a literal"),
    (42, "starting with '/'"),
], ids=["no-slash", "space", "bad-placeholder", "too-deep", "too-long", "dots", "not-str"])
def test_declared_template_errors(template: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        declared_template(template)
    with pytest.raises(ConfigError, match=message):
        RouteVocabulary([template])  # type: ignore[list-item]


def test_declared_template_normalises() -> None:
    assert declared_template("/V1/Orders/{orderId}/") == "/v1/orders/{orderid}"
    assert declared_template("/users/:id/posts/<int:post_id>") == "/users/{id}/posts/{post_id}"
    assert declared_template("/") == "/"


def test_vocabulary_cache_is_bounded() -> None:
    vocab = RouteVocabulary(cache_size=3)
    for word in ["orders", "alice", "users", "bob", "api", "carol", "v1"]:
        vocab.is_known(word)
        assert len(vocab._known_cache) <= 3
    assert vocab.is_known("orders") and not vocab.is_known("alice")


# ----------------------------------------------------------------------------- vocabulary


# Given names that are also English words (the brief's examples and more) and the surnames
# of the examples: none may be a shipped route word.
NAME_WORDS = ["will", "mark", "grace", "rose", "bill", "page", "april", "june", "may", "max",
              "frank", "victor", "grant", "price", "cook", "king", "hope", "faith", "joy",
              "ray", "dawn", "summer", "autumn", "ruby", "jack", "guy", "art", "chase",
              "august", "ashworth", "ignatius", "priyanka", "smith", "alice", "john",
              "johnsmith", "edit", "line", "link", "min", "ai", "he", "hu", "ko", "post",
              # surnames that are route words, found published by a name-corpus probe
              "pages", "sales", "fields", "field", "company", "font", "brands", "brand", "block",
              "parent", "room", "key", "list", "stock", "branch", "hook", "merchant", "dev",
              "server", "us"]


def test_vocabulary_has_no_name_words() -> None:
    from deidentify.generate.words import FIRST_NAMES, LAST_NAMES, ascii_fold
    generated = {ascii_fold(n) for n in FIRST_NAMES + LAST_NAMES}
    assert not (generated & ROUTE_WORDS), sorted(generated & ROUTE_WORDS)
    assert not (set(NAME_WORDS) & ROUTE_WORDS), sorted(set(NAME_WORDS) & ROUTE_WORDS)
    for name in NAME_WORDS:
        assert TEMPLATE(None, f"/users/{name}/profile") == "/users/{word}/profile"


def test_vocabulary_words_are_publishable() -> None:
    """Every shipped word is lowercase, kept by the classifier and valid in the grammar."""
    for word in ROUTE_WORDS | {f"avatar.{ext}" for ext in FILE_EXTENSIONS}:
        assert word == word.lower()
        assert TEMPLATE(None, "/" + word) == "/" + word, word
        assert is_valid_route("/" + word)


# A letter-only word that is neither shipped (a route word or a file extension) nor declared,
# in any case. Short draws hit the vocabulary's own words often enough to test the filter.
unknown_words = st.one_of(
    st.text(string.ascii_letters, min_size=2, max_size=16),
    st.sampled_from(sorted(FILE_EXTENSIONS | ROUTE_WORDS | DECLARED.literals)).map(
        lambda w: w + "x"),
).filter(lambda w: not SHIPPED_VOCABULARY.is_known(w.lower())
         and not DECLARED.is_known(w.lower()) and w.lower() not in DECLARED.names
         and w.lower() not in FILE_EXTENSIONS and w.isalpha())


@st.composite
def word_paths(draw: st.DrawFn, word: str) -> tuple[str, str]:
    """``word`` in a path of any shape: alone, first.last, first_last, with a known word,
    with a file extension, percent-encoded, between known words; as URL and route field."""
    other = draw(unknown_words)
    known = draw(st.sampled_from(["api", "users", "v1", "orders", "x", "2", "profile"]))
    form = draw(st.sampled_from([
        "{w}", "{w}.{o}", "{w}_{o}", "{o}-{w}", "{k}-{w}", "{w}_{k}", "{w}.png", "{k}.{w}",
        "{w}.{o}.json", ".{w}", "_{w}", "{w}-2", "{W}", "{w}{O}"]))
    seg = form.format(w=word, o=other, k=known, W=word.upper(), O=other.capitalize())
    if draw(st.booleans()):
        seg = "".join(f"%{ord(c):02X}" if i % 2 else c for i, c in enumerate(seg))
    before = draw(st.lists(st.sampled_from(WORDS), max_size=4))
    after = draw(st.lists(st.sampled_from(WORDS + [word, other]), max_size=3))
    path = "/" + "/".join([*before, seg, *after])
    placeholder = draw(st.sampled_from(["{%s}", ":%s", "<%s>", "[%s]"])) % word
    route = "/" + "/".join([*before, draw(st.sampled_from([seg, placeholder])), *after])
    return path, route


def _parts(route: str) -> set[str]:
    """Every word of an output route: segments, their -_. parts, placeholder names."""
    out = set()
    for seg in route.split("/"):
        seg = seg.strip("{}")
        out.add(seg)
        out.update(re.split(r"[-_.]", seg))
    return out


@given(data=st.data(), word=unknown_words, declared=st.booleans(),
       in_route=st.sampled_from(["none", "route", "both"]))
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_unknown_words_never_published(data: st.DataObject, word: str, declared: bool,
                                       in_route: str) -> None:
    """A letter-only word that is neither a route word nor declared never appears in an
    output route, whatever the path shape, as a raw URL or in the service's route field."""
    path, route = data.draw(word_paths(word))
    template = RouteTemplate(vocabulary=DECLARED) if declared else RouteTemplate()
    route_field = None if in_route == "none" else route
    url = None if in_route == "route" else "https://api.example.com" + path
    out = template(route_field, url)
    assert word.lower() not in _parts(out)
    assert is_valid_route(out, DECLARED if declared else None)

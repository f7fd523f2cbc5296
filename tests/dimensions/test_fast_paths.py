"""The cached and inline fast paths of ``route`` and ``host`` agree with a cold computation.

The route templater and the host extractor memoise (route field, URL path, segment, route
shape; authority), and the generated extractor reads the route-field and authority caches
inline instead of calling them. None of that may change a single output: each property
below runs a *sequence* of hostile inputs through warm objects (small caches, so entries are
evicted and re-learned) and compares every answer with an object that caches nothing.
"""

from __future__ import annotations

import re
import string

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from deidentify.dimensions import route as route_module
from deidentify.dimensions.host import NOT_IN_FAST_URL, HostExtractor
from deidentify.dimensions.route import (
    _HEX_ID_SEARCH,
    RouteTemplate,
    RouteVocabulary,
    _classify,
)
from deidentify.schema import load_schemas
from deidentify.schema.compile import Extracted

# ----------------------------------------------------------------------------- strategies

# Pools small enough that a sequence repeats segments, shapes and authorities (cache hits),
# varied enough to reach every segment class.
_WORDS = ["v1", "users", "orders", "customers", "invoices", "pdf", "Orders", "members",
          "accounts", ".well-known", "getUserProfile", "avatar.png", "2", "v19.0", "-", ".."]
_IDENT_ALPHABET = string.ascii_letters + string.digits + "_-.~"


@st.composite
def _segment(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["word", "digits", "uuid", "hex", "token", "email", "name",
                                 "escaped", "date", "text", "ip"]))
    if kind == "word":
        return draw(st.sampled_from(_WORDS))
    if kind == "digits":
        return str(draw(st.integers(0, 10 ** 14)))
    if kind == "uuid":
        u = str(draw(st.uuids()))
        return u.upper() if draw(st.booleans()) else u
    if kind == "hex":     # hex runs of every length around 8, with and without digits
        body = draw(st.text("0123456789abcdefABCDEFxg_", min_size=1, max_size=24))
        return draw(st.sampled_from(["", "ord_", "file_", "a"])) + body
    if kind == "token":
        return draw(st.sampled_from(["cus_", "tok_", "cs_live_", ""])) + draw(
            st.text(_IDENT_ALPHABET, min_size=1, max_size=40))
    if kind == "email":
        local = draw(st.sampled_from(["yusuf.rossi", "a", "f.suzuki+shop", "x9"]))
        at = draw(st.sampled_from(["@", "%40", "%2540"]))
        return local + at + draw(st.sampled_from(["outlook.com", "gmail.com", "mail.co.uk"]))
    if kind == "name":
        return draw(st.sampled_from(["heidi.kowalski", "alice", "AliceSmith", "johnsmith",
                                     "victor.silva", "mAelle", "o'brien"]))
    if kind == "escaped":
        raw = draw(st.text(max_size=12))
        return "".join(f"%{b:02X}" for b in raw.encode()) or "%"
    if kind == "date":
        return draw(st.sampled_from(["2026-11-20", "20261120", "2026-13-01", "1999-01-01T10:00Z"]))
    if kind == "ip":
        return ".".join(str(draw(st.integers(0, 300))) for _ in range(4))
    return draw(st.text(max_size=20).filter(lambda s: not set(s) & set("/?#\\")))


@st.composite
def _url(draw: st.DrawFn) -> str:
    depth = draw(st.sampled_from([0, 1, 2, 3, 4, 9, 12, 40]))   # deep paths exceed max_depth
    path = "/" + "/".join(draw(_segment()) for _ in range(depth))
    if draw(st.booleans()):
        path += "/"
    prefix = draw(st.sampled_from(["https://api.eu.shopfront.io", "http://u:p@h.example:8080",
                                   "//cdn.example.net", "HTTPS://Example.COM", "", "api.x.io",
                                   "javascript:", "https:", "https:/"]))
    query = draw(st.sampled_from(["", "?token=eyJx.eyJy.z", "?q=Silva&e=a%40b.com", "#f"]))
    return prefix + path + query


@st.composite
def _route_field(draw: st.DrawFn) -> str | None:
    return draw(st.one_of(
        st.none(),
        st.sampled_from(["/v1/orders/{id}", "/v1/users/:user_id", "/v1/orders", "/", "",
                         "/v1/customers/{customerId}/invoices", "/a/b/{...}", "orders",
                         "/users/<int:id>", "/v1/invoices/[...slug]"]),
        _url().map(lambda u: u[u.find("/"):] if "/" in u else u),   # raw paths: not templates
    ))


def _authority(draw: st.DrawFn) -> str:
    host = draw(st.sampled_from(["hooks.slack.com", "HOOKS.slack.com", "eo6ad7b0.m.pipedream.net",
                                 "webhook.site", "alice.github.io", "10.0.0.1", "[::1]",
                                 "example.co.uk", "xn--fiqs8s", "b\u00fccher.de", "h%41.com",
                                 "localhost", "", "a..b.com", "example.com."]))
    userinfo = draw(st.sampled_from(["", "alice@", "bob:pw@", "x%40y.com@"]))
    port = draw(st.sampled_from(["", ":443", ":8443", ":"]))
    return userinfo + host + port


@st.composite
def _endpoint(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["https://", "http://", "wss://", "ws://", "HTTPS://", "ftp://",
                                   "https:/", "https:///", "//", "", "https:\\\\",
                                   "https:/x/", "https://x/"]))
    tail = draw(st.sampled_from(["", "/", "/services/T1/B2/abc", "?x=1/2", "#frag/x",
                                 "\\x", " /x", "\t/x", "/a b", "//x"]))
    return scheme + _authority(draw) + tail


# ----------------------------------------------------------------------------- route

DECLARED = RouteVocabulary(["/v1/accounts/{account_id}/members/{member}", "/hash/sha256",
                            "/v1/invoices/{id}/pdf"])


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(calls=st.lists(st.tuples(_route_field(), _url()), min_size=1, max_size=30),
       cache_size=st.sampled_from([1, 2, 5, 65536]), declared=st.booleans(),
       max_depth=st.sampled_from([1, 2, 8, 32]))
def test_warm_templater_agrees_with_uncached(calls: list[tuple[str | None, str]],
                                             cache_size: int, declared: bool,
                                             max_depth: int) -> None:
    vocab = DECLARED if declared else None
    warm = RouteTemplate(vocabulary=vocab, cache_size=cache_size, max_depth=max_depth)
    cold = RouteTemplate(vocabulary=vocab, cache_size=0, max_depth=max_depth)
    for route, url in calls * 2:           # the second pass hits what the first one cached
        assert warm(route, url) == cold(route, url)
        assert warm(None, url) == cold(None, url)
    assert cold.cache_len() == 0


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(urls=st.lists(_url(), min_size=1, max_size=30),
       cache_size=st.sampled_from([1, 2, 5, 65536]),
       tails=st.lists(st.sampled_from(["", "?", "?a=1", "?q=Silva#f", "?x/../y", "?%40"]),
                      min_size=1, max_size=3))
def test_url_hits_hold_what_the_templater_answers(urls: list[str], cache_size: int,
                                                  tails: list[str]) -> None:
    """The generated extractor reads ``url_hits`` by ``url.split("?", 1)[0]``: every key,
    followed by any query, must template exactly as an uncached templater does."""
    warm = RouteTemplate(cache_size=cache_size)
    cold = RouteTemplate(cache_size=0)
    for url in urls:
        warm(None, url)
    assert len(warm.url_hits) <= cache_size and not cold.url_hits
    for key, hit in warm.url_hits.items():
        assert "?" not in key and "#" not in key
        for tail in tails:
            assert cold(None, key + tail) == hit


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(calls=st.lists(st.tuples(_url(), st.sampled_from(["", "?", "?a=1", "?q=Silva#f"])),
                      min_size=1, max_size=30),
       cache_size=st.sampled_from([1, 2, 5, 65536]), declared=st.booleans(),
       max_depth=st.sampled_from([1, 2, 8, 32]))
@example(calls=[("https://api.example.com/v1/a\x7fb", ""), ("https://h/v1/a\tb", "?x"),
                ("https://h/v1/caf\u00e9", ""), ("https://h/v1/a#b/c", ""),
                ("https://h/v1/a\\b", ""), ("https://h", ""), ("https://h/", "?x"),
                ("https:///v1/x", ""), ("http://u:p@h:8080//v1//orders/", ""),
                ("https://h/v1/orders ", "")],          # split_url strips the space
         cache_size=65536, declared=False, max_depth=8)
def test_url_miss_answers_what_the_call_does(calls: list[tuple[str, str]], cache_size: int,
                                             declared: bool, max_depth: int) -> None:
    """The generated extractor's URL-cache miss, ``url_miss(url.split("?", 1)[0], url)``:
    its own split of the plain ``http(s)://host/path`` shape and its fallback to the call
    answer what an uncached templater does, warm or cold, and what it caches stays true."""
    vocab = DECLARED if declared else None
    warm = RouteTemplate(vocabulary=vocab, cache_size=cache_size, max_depth=max_depth)
    cold = RouteTemplate(vocabulary=vocab, cache_size=0, max_depth=max_depth)
    for url, tail in calls * 2:            # the second pass hits what the first one cached
        full = url + tail
        assert warm.url_miss(full.split("?", 1)[0], full) == cold(None, full)
    for key, hit in warm.url_hits.items():
        assert cold(None, key) == hit and cold(None, key + "?a=1") == hit
    assert cold.cache_len() == 0


def test_interned_outputs_stay_bounded_without_the_path_cache() -> None:
    """url_miss never writes the path cache, whose clearing used to bound the interned
    outputs: they are bounded by themselves (twice the cache size)."""
    t = RouteTemplate(cache_size=2)
    words = ["users", "orders", "invoices", "files", "reports", "accounts"]
    seen = set()
    for a in words:
        for b in words:
            url = f"https://api.example.com/v1/{a}/{b}"
            seen.add(t.url_miss(url, url))
            assert len(t._intern) <= 4
    assert len(seen) == len(words) ** 2        # distinct outputs went through the intern


def test_url_hits_are_keyed_by_the_url_before_its_query() -> None:
    warm = RouteTemplate()
    assert warm(None, "https://api.example.com/v1/orders?customer=cus_x1") == "/v1/orders"
    assert warm(None, "https://api.example.com/v1/users/ord_c64d17ea214a#f") == "/v1/users/{hex}"
    assert warm(None, "//cdn.example.net/v1/files") == "/v1/files"      # not the fast shape
    assert warm(None, "https://api.example.com/v1/a b") == "/v1/{seg}"   # not the fast shape
    assert warm.url_hits == {"https://api.example.com/v1/orders": "/v1/orders",
                             "https://api.example.com/v1/users/ord_c64d17ea214a":
                                 "/v1/users/{hex}"}


def test_shapes_keep_their_depth_marker() -> None:
    """A cut path and a path of exactly the cut depth share segments, not routes."""
    warm = RouteTemplate(max_depth=2)
    for url, want in [("/v1/orders", "/v1/orders"), ("/v1/orders/12345", "/v1/orders/{...}"),
                      ("/v1/orders", "/v1/orders"), ("/v1/orders/x/y", "/v1/orders/{...}"),
                      ("/v1/12345", "/v1/{id}"), ("/v1/67890/x", "/v1/{id}/{...}")]:
        assert warm(None, "https://api.example.com" + url) == want


def _classify_in_table_order(seg: str, max_len: int) -> str | None:
    """The segment classes of the route module docstring, one rule after the other, first
    match wins: what ``_classify`` (which skips rules that cannot match) must equal."""
    r = route_module
    if "@" in seg and r._EMAIL_RE.fullmatch(seg):
        return "{email}"
    if seg.startswith("eyJ") and r._JWT_RE.fullmatch(seg):
        return "{token}"
    if len(seg) > max_len:
        return "{long}"
    if seg[0] in "12" and r._DATE_RE.fullmatch(seg):
        return "{date}"
    if not r._SAFE_RE.fullmatch(seg) or seg[0] == "~" or not seg.strip("."):
        return "{seg}"
    if seg.isdigit():
        return "{id}" if len(seg) > 1 else None
    if r._IPV4_RE.fullmatch(seg):
        return "{ip}"
    if r._ALPHA_RE.search(seg) is None:
        return "{id}" if re.search("[0-9]", seg) else "{seg}"
    if len(seg) == 36 and r._UUID_RE.fullmatch(seg):
        return "{uuid}"
    if _hex_id_reference(seg):
        return "{hex}"
    for chunk in re.findall("[A-Za-z0-9]{6,}", seg):
        if _token_chunk_reference(chunk):
            return "{token}"
    if (re.search("[0-9]{2}", seg) or len(re.findall("[0-9]", seg)) > 2) \
            and not r._VERSION_RE.fullmatch(seg):
        return "{id}"
    return None


def _token_chunk_reference(chunk: str) -> bool:
    """The high-entropy chunk rule of the route module docstring, spelled out."""
    digits = len(re.findall("[0-9]", chunk))
    letters = re.search("[A-Za-z]", chunk) is not None
    if len(chunk) < 10:
        return (digits >= 2 and letters
                and not re.fullmatch("v[0-9](?:alpha|beta|rc)[0-9]", chunk, re.IGNORECASE))
    if digits:
        return letters
    if (not chunk.islower() and not chunk.isupper()
            and len(re.findall("(?:^|[A-Z])[a-z](?=[A-Z])", chunk)) >= 2):
        return True
    low = chunk.lower()
    rare = sum(low[i:i + 2] not in route_module._COMMON_BIGRAMS for i in range(len(low) - 1))
    return rare >= 3


@given(chunk=st.one_of(st.from_regex("[A-Za-z0-9]{6,24}", fullmatch=True),
                       st.text("0123456789vVabetlrcxqzAXQ", min_size=6, max_size=14)))
@example(chunk="v1beta1")
@example(chunk="x7k9p2")
@example(chunk="ab3kx9")
@example(chunk="abcdefghij")
@example(chunk="cnryAbCdEfGh")
@example(chunk="1234567890")
def test_token_chunk_is_the_documented_rule(chunk: str) -> None:
    assert route_module._is_token_chunk(chunk) == _token_chunk_reference(chunk)


@given(seg=st.one_of(_segment(), st.text("0123456789abcdefxyzABCXYZ_-.@~", min_size=1,
                                         max_size=70), st.text(min_size=1, max_size=20)),
       max_len=st.sampled_from([1, 8, 48, 64]))
def test_classify_equals_the_rules_in_table_order(seg: str, max_len: int) -> None:
    if seg:
        assert _classify(seg, max_len) == _classify_in_table_order(seg, max_len)


CLASSIFY_EDGES = ["eyJhbGci.eyJzdWIi.sig", "eyJabc", "20261120", "2026-11-20T10Z", "1999",
                  "1.2.3.4", "1.2.3.4a", "a.b", "0b6e3c1a-aaaa-4bbb-8ccc-0123456789ab",
                  "ABCDEFAB-ABCD-ABCD-ABCD-ABCDEFABCDEF", "a@b.c", "a_b@c", "~x", "..", "-", "_",
                  "a" * 49, "x" * 48, "ord_" + "c64d17ea" * 7, "v10", "v1beta1", "x86", "a1b2c3",
                  "cnryAb12Cd34Ef", "alice", "Alice_Smith", "xqjzvbkwpf", "2", "22", "a_1_2_3"]


def test_classify_edges_equal_the_rules_in_table_order() -> None:
    for seg in CLASSIFY_EDGES:
        for max_len in (1, 8, 48, 64):
            assert _classify(seg, max_len) == _classify_in_table_order(seg, max_len), seg


def _hex_id_reference(seg: str) -> bool:
    """The documented rule, spelled out: a maximal run of 8+ hex characters with a digit."""
    return any(re.search("[0-9]", run) for run in re.findall("[0-9a-fA-F]{8,}", seg))


@given(seg=st.text("0123456789abcdefABCDEFgxyz_-.", max_size=40))
def test_hex_search_is_the_hex_run_rule(seg: str) -> None:
    assert (_HEX_ID_SEARCH(seg) is not None) == _hex_id_reference(seg)


def test_hex_search_examples() -> None:
    for seg, hit in [("ord_c64d17ea214aaafa", True), ("deadbeef", False), ("deadbeef4", True),
                     ("abcdefa1", True), ("abcdef1", False), ("g1234567", False),
                     ("x1234567a", True), ("abcdefabc-1", False), ("beefcafe1234", True)]:
        assert (_HEX_ID_SEARCH(seg) is not None) is hit, seg
        assert _hex_id_reference(seg) is hit, seg


# ----------------------------------------------------------------------------- host

def test_fast_url_patterns_stop_at_exactly_whitespace_and_c0_controls() -> None:
    # The listed class must be ``[\s\x00-\x20]`` over every code point: a character missing
    # from it would let a fast pattern read a URL that split_url reads differently.
    listed = re.compile(f"[{NOT_IN_FAST_URL}]").match
    spaces = re.compile(r"[\s\x00-\x20]").match
    chars = list(map(chr, range(0x110000)))
    assert [c for c in chars if listed(c)] == [c for c in chars if spaces(c)]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(urls=st.lists(_endpoint(), min_size=1, max_size=30),
       cache_size=st.sampled_from([1, 2, 5, 65536]))
def test_warm_host_extractor_agrees_with_uncached(urls: list[str], cache_size: int) -> None:
    warm = HostExtractor(cache_size=cache_size)
    cold = HostExtractor(cache_size=0)
    for url in urls * 2:
        assert warm(url) == cold(url)
    assert len(warm.fast_hits) <= cache_size and warm.cache_len() <= cache_size
    assert not cold.fast_hits


def test_fast_hits_hold_only_fast_authorities() -> None:
    """An authority learnt from a URL of another shape is not read by the split shortcut."""
    host = HostExtractor()
    assert host("https://ho st.example.com/x") == HostExtractor(cache_size=0)(
        "https://ho st.example.com/x")
    assert "ho st.example.com" not in host.fast_hits
    assert host("https://hooks.slack.com/services/x") == "slack.com"
    assert host.fast_hits == {"hooks.slack.com": "slack.com"}


# ----------------------------------------------------------------------------- generated

def _http(route: str | None, url: str | None) -> dict:
    event = {"type": "http_request", "ts": 1795687200000, "tenant_id": "acme", "method": "GET",
             "status": 200, "latency_ms": 3.5, "user": {"id": "u1"}}
    if route is not None:
        event["route"] = route
    if url is not None:
        event["url"] = url
    return event


def _webhook(url: str) -> dict:
    return {"type": "webhook_delivery", "ts": 1795687200000, "tenant_id": "acme",
            "endpoint_url": url, "event_type": "charge.succeeded", "success": True,
            "duration_ms": 20}


SCHEMAS = load_schemas()          # warm across examples: the inline caches fill up
COLD_ROUTE = RouteTemplate(cache_size=0)
COLD_HOST = HostExtractor(cache_size=0)


def _cold_dims(schema_name: str, event: dict) -> object:
    if schema_name == "http_requests":
        return COLD_ROUTE(event.get("route"), event.get("url"))
    return COLD_HOST(event["endpoint_url"])


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(st.one_of(
    st.tuples(_route_field(), st.one_of(st.none(), _url())).map(lambda p: _http(*p)),
    _endpoint().map(_webhook)), min_size=1, max_size=30))
def test_generated_extractors_agree_with_reference_and_cold(events: list[dict]) -> None:
    decoder = SCHEMAS.decoder
    for event in events * 2:
        line = orjson.dumps(event)
        struct = decoder.decode(line)
        for cs, extract in decoder.by_class[type(struct)]:
            want = cs.extract_reference(orjson.loads(line))
            assert extract(struct) == want == cs.extract(orjson.loads(line))
            if type(want) is Extracted:
                # the route / host dimension (the second / first) against a cold object
                dim = want.dims[1] if cs.name == "http_requests" else want.dims[0]
                assert dim == _cold_dims(cs.name, event)


def _generated_and_reference(event: dict) -> tuple[object, object]:
    decoder = SCHEMAS.decoder
    line = orjson.dumps(event)
    struct = decoder.decode(line)
    ((cs, extract),) = decoder.by_class[type(struct)]
    return extract(struct), cs.extract_reference(orjson.loads(line))


def test_generated_inline_reads_fall_through_like_the_call() -> None:
    """Inputs next to each inline shortcut: what was cached first must not decide the next."""
    cases = [
        _webhook("https://hooks.slack.com/services/a"),      # learns hooks.slack.com
        _webhook("https:/x/hooks.slack.com/services/a"),     # authority x, not slack.com
        _webhook("https://x/hooks.slack.com"),
        _webhook("HTTPS://hooks.slack.com/services/a"),
        _webhook("https://hooks.slack.com?x=/a"),
        _webhook("ftp://hooks.slack.com/a"),
        _http("/users/12345", "https://api.example.com/v1/orders/ord_c64d17ea214aaafa"),
        _http("/users/12345", "https://api.example.com/v1/users/yusuf.rossi%40outlook.com"),
        _http("/users/12345", None),                        # not a template, no URL
        _http("/v1/orders/{id}", "https://api.example.com/v1/orders/1"),
        _http("/v1/orders/{id}", None),
        # the URL cache (url_hits) next to its inline read: the URL decides only without a
        # route field or with one known not to be a template
        _http(None, "https://api.example.com/v1/customers?page=2"),     # learns the URL
        _http(None, "https://api.example.com/v1/customers#x?y"),        # fragment: a call
        _http("/v1/charges/{id}", "https://api.example.com/v1/customers?page=3"),
        _http("/users/12345", "https://api.example.com/v1/customers?page=4"),
        _http("/v1/refunds/:id", "https://api.example.com/v1/customers"),
        _http(None, "https://api.example.com/v1/customers/"),
    ]
    dims = []
    for event in cases * 2:
        got, want = _generated_and_reference(event)
        assert got == want
        dims.append(got.dims[0] if event["type"] == "webhook_delivery" else got.dims[1])
    assert dims[:len(cases)] == ["slack.com", "__other__", "__other__", "slack.com",
                                 "slack.com", "slack.com", "/v1/orders/{hex}",
                                 "/v1/users/{email}", "__other__", "/v1/orders/{id}",
                                 "/v1/orders/{id}", "/v1/customers", "/v1/customers",
                                 "/v1/charges/{id}", "/v1/customers", "/v1/refunds/{id}",
                                 "/v1/customers"]

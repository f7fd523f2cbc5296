"""HostExtractor: table of URL shapes and hostile inputs, then properties."""

from __future__ import annotations

import ipaddress
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from deidentify.dimensions.host import (
    IP_PLACEHOLDER,
    OTHER,
    HostExtractor,
    _host_of,
    is_valid_host,
    split_url,
)
from deidentify.errors import ConfigError
from tests.strategies import assert_no_leaks, canary_registry, hostile_webhook_delivery

EXTRACT = HostExtractor()

HOST_CASES = [
    # (id, url, expected)
    ("plain", "https://api.stripe.com/v1/charges", "stripe.com"),
    ("userinfo-port-path-query", "https://alice%40example.com:pw@api.stripe.com:8443/x?y",
     "stripe.com"),
    ("userinfo-with-at", "https://alice@example.com@hooks.example.org/x", "example.org"),
    ("private-suffix-ignored", "https://alice.github.io/repo", "github.io"),
    ("bare-private-suffix", "alice.github.io", "github.io"),
    ("multi-label-suffix", "https://bob.smith.example.co.uk/a", "example.co.uk"),
    ("deep-subdomain", "https://a.b.c.d.example.com", "example.com"),
    ("registrable-itself", "https://example.com", "example.com"),
    ("uppercase", "HTTPS://API.Example.COM/x", "example.com"),
    ("trailing-dot", "https://api.example.com./x", "example.com"),
    ("port-only", "https://example.com:443", "example.com"),
    ("query-no-path", "https://example.com?x=alice.example.org", "example.com"),
    ("fragment-no-path", "https://example.com#alice", "example.com"),
    ("host-first", "hooks.example.com/path", "example.com"),
    ("host-first-port", "hooks.example.com:8443/path", "example.com"),
    ("scheme-relative", "//cdn.example.net/app.js", "example.net"),
    ("special-no-slashes", "https:example.org/x", "example.org"),
    ("special-backslashes", "http:\\\\evil.example.com\\x", "example.com"),
    ("three-slashes", "https:///hooks.example.com/x", "example.com"),
    ("whitespace", "  https://example.com/x\n", "example.com"),
    ("tab-in-host", "https://exa\tmple.com/x", "example.com"),
    ("percent-encoded-host", "https://%65xample.com/x", "example.com"),
    ("idn-unicode", "https://shop.münchen.de/", "xn--mnchen-3ya.de"),
    ("idn-punycode", "https://www.xn--mnchen-3ya.de/", "xn--mnchen-3ya.de"),
    ("idn-suffix", "https://a.b.xn--fiqs8s/", "b.xn--fiqs8s"),
    ("wildcard-suffix", "https://x.y.ck/", "x.y.ck"),
    ("underscore-subdomain", "https://_dmarc.example.com", "example.com"),
    ("ws-scheme", "wss://stream.example.com/socket", "example.com"),
    ("ipv4", "http://192.168.0.1/x", IP_PLACEHOLDER),
    ("ipv4-userinfo", "http://user@192.168.0.1/", IP_PLACEHOLDER),
    ("ipv4-port", "http://10.0.0.1:8080/", IP_PLACEHOLDER),
    ("ipv4-decimal", "http://2130706433/", IP_PLACEHOLDER),
    ("ipv4-hex", "http://0x7f.1/", IP_PLACEHOLDER),
    ("ipv4-octal", "http://0177.0.0.1/", IP_PLACEHOLDER),
    ("ipv4-short", "http://127.1/", IP_PLACEHOLDER),
    ("ipv4-trailing-dot", "http://127.0.0.1./", IP_PLACEHOLDER),
    ("ipv4-host-first", "10.1.2.3:9000/x", IP_PLACEHOLDER),
    ("ipv6", "http://[::1]:80/", IP_PLACEHOLDER),
    ("ipv6-full", "https://[2001:db8::8a2e:370:7334]/x", IP_PLACEHOLDER),
    ("ipv6-zone", "http://[fe80::1%25eth0]/", IP_PLACEHOLDER),
    ("ipv6-v4-mapped", "http://[::ffff:192.0.2.1]/", IP_PLACEHOLDER),
    ("ipv6-unbracketed", "::1", IP_PLACEHOLDER),
    ("ipv6-bad", "http://[::zz]/", OTHER),
    ("ipv6-unclosed", "http://[::1/", OTHER),
    ("ipv4-out-of-range", "http://256.1.1.1/", OTHER),
    ("ipv4-too-many-parts", "http://1.2.3.4.5/", OTHER),
    ("ipv4-bad-octal", "http://09.1.1.1/", OTHER),
    ("numeric-tld", "http://example.123/", OTHER),
    ("localhost", "http://localhost:8080/x", OTHER),
    ("localhost-bare", "localhost", OTHER),
    ("single-label", "http://intranet/x", OTHER),
    ("bare-suffix", "https://co.uk/", OTHER),
    ("bare-tld", "https://com/", OTHER),
    ("unknown-tld", "https://printer.office.local/", OTHER),
    ("internal-tld", "https://api.svc.internal/", OTHER),
    ("empty", "", OTHER),
    ("spaces-only", "   ", OTHER),
    ("scheme-only", "https://", OTHER),
    ("userinfo-only", "https://alice@/x", OTHER),
    ("bare-path", "/v1/orders", OTHER),
    ("javascript", "javascript:alert(1)", OTHER),
    ("mailto", "mailto:alice@example.com", OTHER),
    ("data-uri", "data:text/html,<b>x</b>", OTHER),
    ("bad-chars", "https://exa$mple.com/", OTHER),
    ("empty-label", "https://a..example.com/", OTHER),
    ("label-too-long", "https://" + "a" * 64 + ".example.com/", OTHER),
    ("bad-percent", "https://%ff.example.com/", OTHER),
    ("encoded-slash-in-host", "https://evil.com%2F.example.com/", OTHER),
    ("underscore-registrable", "https://my_site.com/", OTHER),
]


@pytest.mark.parametrize(("url", "expected"), [c[1:] for c in HOST_CASES],
                         ids=[c[0] for c in HOST_CASES])
def test_host_extraction(url: str, expected: str) -> None:
    assert EXTRACT(url) == expected
    assert is_valid_host(expected)


@pytest.mark.parametrize("value", [None, 5, 3.5, b"https://example.com", ["example.com"],
                                   {"host": "example.com"}],
                         ids=["none", "int", "float", "bytes", "list", "dict"])
def test_non_str_is_other(value: object) -> None:
    assert EXTRACT(value) == OTHER


VALID_HOST_CASES = [
    ("registrable", "example.com", True),
    ("multi-suffix", "example.co.uk", True),
    ("punycode", "xn--mnchen-3ya.de", True),
    ("ip", IP_PLACEHOLDER, True),
    ("other", OTHER, True),
    ("subdomain", "api.example.com", False),
    ("personal-subdomain", "alice.github.io", False),
    ("public-suffix", "co.uk", False),
    ("tld", "com", False),
    ("unknown-tld", "example.local", False),
    ("uppercase", "Example.com", False),
    ("trailing-dot", "example.com.", False),
    ("ipv4", "127.0.0.1", False),
    ("unicode", "münchen.de", False),
    ("port", "example.com:443", False),
    ("empty", "", False),
    ("not-str", 1, False),
]


@pytest.mark.parametrize(("value", "valid"), [c[1:] for c in VALID_HOST_CASES],
                         ids=[c[0] for c in VALID_HOST_CASES])
def test_is_valid_host(value: object, valid: bool) -> None:
    assert is_valid_host(value) is valid  # type: ignore[arg-type]


SPLIT_CASES = [
    ("full", "https://u:p@h.example:1/a/b?q#f", ("u:p@h.example:1", "/a/b")),
    ("bare-path", "/a/b?x", ("", "/a/b")),
    ("scheme-relative", "//h/a", ("h", "/a")),
    ("host-first", "h.example/a", ("h.example", "/a")),
    ("no-path", "https://h", ("h", "")),
    ("javascript", "javascript:x", None),
    ("empty", "", None),
]


@pytest.mark.parametrize(("url", "expected"), [c[1:] for c in SPLIT_CASES],
                         ids=[c[0] for c in SPLIT_CASES])
def test_split_url(url: str, expected: tuple[str, str] | None) -> None:
    assert split_url(url) == expected


def test_constructor_validates() -> None:
    with pytest.raises(ConfigError, match="cache_size must be an integer >= 0"):
        HostExtractor(cache_size=-1)


def test_cache_is_bounded_and_transparent() -> None:
    small = HostExtractor(cache_size=3)
    uncached = HostExtractor(cache_size=0)
    for i in range(50):
        url = f"https://h{i}.example{i % 7}.com/p?{i}"
        assert small(url) == uncached(url) == f"example{i % 7}.com"
        assert small.cache_len() <= 3
    assert uncached.cache_len() == 0


# ----------------------------------------------------------------------------- properties

REGISTRABLE = ["example.com", "example.co.uk", "example.com.au", "example.de", "stripe.com",
               "example.xn--fiqs8s", "github.io", "example.k12.ak.us"]
LABEL_CHARS = string.ascii_lowercase + string.digits


@st.composite
def labels(draw: st.DrawFn) -> str:
    """A random DNS label that cannot collide with any suffix: ``cnry`` + 4-30 chars."""
    body = draw(st.text(alphabet=LABEL_CHARS + "-", min_size=4, max_size=30))
    return "cnry" + body.strip("-") + draw(st.sampled_from(LABEL_CHARS))


@st.composite
def hostile_urls(draw: st.DrawFn) -> tuple[str, str, list[str]]:
    """(url, expected registrable domain, secrets that must not appear in the output)."""
    secrets = draw(st.lists(labels(), min_size=1, max_size=3))
    registrable = draw(st.sampled_from(REGISTRABLE))
    host = ".".join([*secrets, registrable])
    if draw(st.booleans()):
        host = host.upper()
    if draw(st.booleans()):
        host += "."
    user = draw(labels())
    scheme = draw(st.sampled_from(["https://", "http://", "//", "", "wss://", "HTTP://"]))
    userinfo = draw(st.sampled_from(["", f"{user}@", f"{user}:pw@", f"{user}%40mail.com@"]))
    port = draw(st.sampled_from(["", ":443", ":8080"]))
    tail = draw(st.sampled_from(["", "/", f"/u/{user}", f"?email={user}@x.com", f"#{user}"]))
    if scheme == "" and userinfo:
        userinfo = ""  # host-first strings with userinfo are not a shape anyone sends
    return f"{scheme}{userinfo}{host}{port}{tail}", registrable, [*secrets, user]


@given(case=hostile_urls())
def test_personal_subdomains_and_userinfo_never_survive(case: tuple[str, str, list[str]]
                                                        ) -> None:
    url, registrable, secrets = case
    out = EXTRACT(url)
    assert out == registrable
    for secret in secrets:
        assert secret not in out


@given(address=st.ip_addresses(),
       form=st.sampled_from(["plain", "decimal", "hex", "userinfo"]),
       port=st.sampled_from(["", ":80"]))
def test_ip_literals_become_placeholder(address: ipaddress.IPv4Address | ipaddress.IPv6Address,
                                        form: str, port: str) -> None:
    if address.version == 6:
        host = f"[{address}]"
    elif form == "decimal":
        host = str(int(address))
    elif form == "hex":
        host = hex(int(address))
    else:
        host = str(address)
    userinfo = "alice:pw@" if form == "userinfo" else ""
    assert EXTRACT(f"http://{userinfo}{host}{port}/x") == IP_PLACEHOLDER


@given(value=st.one_of(st.text(), st.text(alphabet=string.printable),
                       st.builds(lambda a, b: f"https://{a}/{b}", st.text(), st.text()),
                       st.none(), st.integers(), st.binary()))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_output_always_valid_never_raises_never_logs(value: object,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.clear()
    with caplog.at_level("DEBUG"):
        out = EXTRACT(value)
    assert is_valid_host(out)
    assert caplog.records == []


@given(case=hostile_urls())
def test_output_is_a_fixed_point(case: tuple[str, str, list[str]]) -> None:
    out = EXTRACT(case[0])
    assert EXTRACT(out) == out


@given(case=hostile_urls(),
       noise=st.sampled_from(["", " ", "\t", "\\", "//", "\x00", "\x07", "/\x1b", "?\x00"]))
@example(case=("https://example.com", "example.com", []), noise="\x00")   # stripped: C0 end
@example(case=("https://example.com", "example.com", []), noise="/\x1b")
def test_fast_path_agrees_with_split_url(case: tuple[str, str, list[str]], noise: str) -> None:
    url = case[0] + noise
    parts = split_url(url)
    slow = OTHER if parts is None or not parts[0] else _host_of(parts[0])
    assert HostExtractor(cache_size=0)(url) == slow


@given(event=hostile_webhook_delivery(), secrets=canary_registry())
@settings(max_examples=min(settings.default.max_examples, 100))  # whole events: slow
def test_shared_hostile_endpoints_never_leak(event: dict, secrets: list[str]) -> None:
    """The project's hostile webhook URLs: every secret sits outside the registrable domain."""
    out = EXTRACT(event["endpoint_url"])
    assert is_valid_host(out)
    assert_no_leaks(out, secrets)

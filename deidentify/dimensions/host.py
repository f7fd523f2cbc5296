"""The ``host`` dimension: a URL reduced to its registrable domain (eTLD+1).

``HostExtractor()(url)`` returns exactly one of

* a registrable domain: the public suffix from the ICANN section of the Public Suffix List
  plus one label, lowercased ASCII (IDNs as punycode ``xn--`` labels), no trailing dot;
* :data:`IP_PLACEHOLDER` (``{ip}``) for IPv4/IPv6 literals, including bracketed IPv6 and the
  WHATWG IPv4 number forms (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``);
* :data:`OTHER` (``__other__``) for everything else: non-str input, empty or unparsable
  strings, non-hierarchical schemes (``javascript:``, ``mailto:``, ``data:``), single labels
  (``localhost``), bare public suffixes (``co.uk``, ``github.io``'s parent ``io``), TLDs that
  are not on the ICANN list (``.local``, ``.internal``, ``.corp``: fail closed), hosts with
  characters outside ``[a-z0-9_-]`` per label, over-long labels.

Invariants

* Userinfo, port, path, query and fragment never reach the output: only the host part of the
  authority is looked at, and only its registrable domain is kept. Every label left of the
  registrable domain (``alice`` in ``alice.github.io``) is dropped, so a personal subdomain
  never survives.
* Every output satisfies :func:`is_valid_host`, which the central collector uses to
  re-validate: a registrable domain is only valid if the PSL maps it to itself.
* No value is ever logged or put into an exception; malformed input yields ``OTHER``.

Accepted input shapes (decided): ``scheme://authority/...``; ``//authority/...``; special
schemes (http, https, ws, wss, ftp) with any number of slashes or backslashes after the colon
(as browsers do); host-first strings without a scheme (``hooks.example.com/path``,
``example.com:8443/x``). A bare path (``/x/y``) has no host and yields ``OTHER``. Backslashes
count as slashes. The host is percent-decoded once before validation.

Memory: one shared, lazily loaded PSL parser per process (a frozenset of ~10k suffixes,
about 1-2 MiB, ~50 ms to load), plus per extractor a cache of at most ``cache_size`` entries
keyed on the authority string (keys longer than :data:`MAX_CACHED_KEY_CHARS` are computed
uncached). The cache is a plain dict that is cleared when full: worst case about
``cache_size x (MAX_CACHED_KEY_CHARS + 150 B)`` (~25 MiB at the default 65536); typical
authorities are ~20 characters (~10 MiB). Output strings are interned per extractor. A second
dict of the same bound, :attr:`HostExtractor.fast_hits`, holds the authorities of the common
``http(s)://`` / ``ws(s)://`` shape, so a known host costs one ``str.split`` and one lookup
(the generated extractor reads it inline); at most doubling the figures above.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from urllib.parse import unquote

from publicsuffixlist import PublicSuffixList

from deidentify.contract import IP_PLACEHOLDER, OTHER
from deidentify.errors import ConfigError

__all__ = ["IP_PLACEHOLDER", "OTHER", "HostExtractor", "is_valid_host", "split_url"]


MAX_CACHED_KEY_CHARS = 256
_MAX_HOST_CHARS = 253

SPECIAL_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp"})

# ``scheme:`` per RFC 3986 (dots allowed, which is why ``example.com:8443/x`` also matches).
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# After a would-be scheme: a port and then the end of the authority -> it was host:port.
_PORT_AFTER_RE = re.compile(r"[0-9]{1,5}(?:[/?#]|\Z)")
# WHATWG: strip leading/trailing C0 controls and space; remove tab/newline anywhere.
_STRIP_CHARS = "".join(map(chr, range(0x21)))
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")

# What the fast URL patterns never take (as a character class body): a C0 control, space,
# and every other character ``\s`` matches, listed because testing the category per
# character is the slowest part of such a match (tests/dimensions/test_fast_paths.py checks
# the list against ``\s``).
NOT_IN_FAST_URL = r"\x00-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Common case scheme://authority[/?#...]: the authority without running split_url. No
# whitespace and no C0 control in it (split_url strips C0 controls at the ends): such URLs
# take split_url, so both always agree.
_FAST_AUTHORITY_MATCH = re.compile(
    rf"(?:https?|wss?)://([^/?#\\{NOT_IN_FAST_URL}]+)(?:[/?#]|\Z)").match
# ``url.split("/", 3)[0]`` of a URL the pattern above may match: with ``[1] == ""`` and
# ``[2]`` a key of ``fast_hits`` (an authority that pattern captured: no ``/?#\\``, no
# whitespace, no C0 control), the pattern captures exactly ``[2]``.
FAST_SCHEMES = frozenset({"http:", "https:", "ws:", "wss:"})

_LABEL_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
# What may be published: hostname labels (no underscore), at least two of them.
_HOST_GRAMMAR = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# WHATWG IPv4 number parts: decimal, 0x-hex (possibly empty after 0x), leading-0 octal.
_IPV4_PART_RE = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")


@functools.cache
def _psl() -> PublicSuffixList:
    """The ICANN-only PSL; unknown TLDs are *not* public suffixes (fail closed)."""
    return PublicSuffixList(only_icann=True, accept_unknown=False)


def split_url(url: str) -> tuple[str, str] | None:
    """Split a URL-ish string into ``(authority, path)``; ``None`` if it has no usable shape.

    The authority still contains userinfo and port; the path has no query or fragment and
    starts with ``/`` or is empty. Backslashes count as slashes. Shared by ``route``.
    """
    s = url.strip(_STRIP_CHARS)
    if "\t" in s or "\n" in s or "\r" in s:
        s = s.translate(_TAB_NEWLINE)
    if "\\" in s:
        s = s.replace("\\", "/")
    for sep in ("#", "?"):
        cut = s.find(sep)
        if cut >= 0:
            s = s[:cut]
    if not s:
        return None
    if s.startswith("//"):
        rest = s[2:]
    elif s[0] == "/":
        return "", s
    else:
        m = _SCHEME_RE.match(s)
        if m is None:
            rest = s  # host-first: hooks.example.com/path
        else:
            after = s[m.end():]
            scheme = s[:m.end() - 1].lower()
            if after.startswith("//"):
                rest = after[2:]
                if scheme in SPECIAL_SCHEMES:
                    rest = rest.lstrip("/")
            elif scheme in SPECIAL_SCHEMES:
                rest = after.lstrip("/")  # http:example.com, http:/example.com
            elif _PORT_AFTER_RE.match(after):
                rest = s  # example.com:8443/path
            else:
                return None  # javascript:, mailto:, data:, urn: ... no authority
    slash = rest.find("/")
    if slash < 0:
        return rest, ""
    return rest[:slash], rest[slash:]


def _host_of(authority: str) -> str:
    """Map one authority (``userinfo@host:port``) to a registrable domain, ``{ip}`` or OTHER."""
    hostport = authority.rpartition("@")[2]
    if not hostport:
        return OTHER
    if hostport[0] == "[":
        end = hostport.find("]")
        if end < 0:
            return OTHER
        try:
            ipaddress.IPv6Address(unquote(hostport[1:end]))
        except ValueError:
            return OTHER
        return IP_PLACEHOLDER
    if hostport.count(":") > 1:  # an unbracketed IPv6 literal, or garbage
        try:
            ipaddress.IPv6Address(unquote(hostport))
        except ValueError:
            return OTHER
        return IP_PLACEHOLDER
    host = hostport.partition(":")[0]
    if "%" in host:
        try:
            host = unquote(host, errors="strict")
        except UnicodeDecodeError:
            return OTHER
    if host.endswith("."):
        host = host[:-1]
    if not host or len(host) > _MAX_HOST_CHARS * 4:
        return OTHER
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return OTHER
    host = host.lower()
    labels = host.split(".")
    if _IPV4_PART_RE.fullmatch(labels[-1]):
        return IP_PLACEHOLDER if _is_ipv4_number_form(labels) else OTHER
    if len(host) > _MAX_HOST_CHARS or len(labels) < 2:
        return OTHER
    for label in labels:
        if not _LABEL_RE.fullmatch(label):
            return OTHER
    domain = _psl().privatesuffix(host)
    if domain is None or not _HOST_GRAMMAR.fullmatch(domain):
        return OTHER
    return domain


def _is_ipv4_number_form(labels: list[str]) -> bool:
    """WHATWG IPv4 parser: 1-4 numeric parts (decimal, 0x hex, 0-prefixed octal)."""
    if len(labels) > 4:
        return False
    numbers = []
    for part in labels:
        if len(part) > 40 or not _IPV4_PART_RE.fullmatch(part):
            return False
        if part[:2] in ("0x", "0X"):
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part[0] == "0":
            try:
                numbers.append(int(part, 8))
            except ValueError:
                return False
        else:
            numbers.append(int(part))
    if any(n > 255 for n in numbers[:-1]):
        return False
    return numbers[-1] < 256 ** (5 - len(numbers))


def is_valid_host(value: str) -> bool:
    """True for ``{ip}``, ``__other__`` or a string the PSL maps to itself as eTLD+1.

    This is the publication grammar the central collector re-validates against: any
    subdomain (``alice.github.io``), public suffix (``co.uk``), unknown TLD, uppercase or
    punctuation makes it false.
    """
    if type(value) is not str:
        return False
    if value == IP_PLACEHOLDER or value == OTHER:
        return True
    if len(value) > _MAX_HOST_CHARS or not _HOST_GRAMMAR.fullmatch(value):
        return False
    return _psl().privatesuffix(value) == value


class HostExtractor:
    """``url -> registrable domain | '{ip}' | '__other__'`` with a bounded cache.

    Construct once per compiled schema; calling it is a dict lookup for a known authority.
    """

    __slots__ = ("_cache", "_cache_size", "_intern", "fast_hits")

    def __init__(self, *, cache_size: int = 65536) -> None:
        if type(cache_size) is not int or cache_size < 0:
            raise ConfigError("HostExtractor cache_size must be an integer >= 0")
        self._cache_size = cache_size
        self._cache: dict[str, str] = {}
        self._intern: dict[str, str] = {}
        # Authority captured by _FAST_AUTHORITY_MATCH -> result (see FAST_SCHEMES): for a str
        # url, a = url.split("/", 3); if len(a) > 2, a[0] in FAST_SCHEMES, not a[1] and a[2]
        # is a key, the value is self(url). Read-only outside this class (the generated
        # extractor reads it inline); the same dict for the extractor's lifetime.
        self.fast_hits: dict[str, str] = {}
        _psl()  # load the list now, not on the first event

    def __call__(self, url: object) -> str:
        """eTLD+1 of ``url`` (ICANN PSL), ``{ip}`` for IP literals, else ``__other__``."""
        if type(url) is not str:
            return OTHER
        a = url.split("/", 3)
        if len(a) > 2 and a[0] in FAST_SCHEMES and not a[1]:
            hit = self.fast_hits.get(a[2])
            if hit is not None:
                return hit
        m = _FAST_AUTHORITY_MATCH(url)
        if m is not None:
            authority = m[1]
        else:
            parts = split_url(url)
            if parts is None:
                return OTHER
            authority = parts[0]
        hit = self._cache.get(authority)
        if hit is None:
            hit = _host_of(authority) if authority else OTHER
            if len(authority) <= MAX_CACHED_KEY_CHARS and self._cache_size:
                if len(self._cache) >= self._cache_size:
                    self._cache.clear()
                    self._intern.clear()
                hit = self._intern.setdefault(hit, hit)
                self._cache[authority] = hit
            else:
                return hit
        if m is not None:
            fast = self.fast_hits
            if len(fast) >= self._cache_size:
                fast.clear()
            fast[authority] = hit
        return hit

    def cache_len(self) -> int:
        """Entries currently cached (for tests and metrics; never the keys)."""
        return len(self._cache)

"""The ``route`` dimension: a request reduced to a route template such as ``/v1/orders/{id}``.

``RouteTemplate()(route, url)`` uses the event's framework route field when it is a genuine
template, otherwise templates the path of ``url``; anything it cannot make safe is
:data:`OTHER`.

Segment classes (first match wins; the segment is percent-decoded once, case preserved for
classification)

==========================================  =============  ==================================
segment                                     becomes        e.g.
==========================================  =============  ==================================
``local@domain`` (also ``%40``)             ``{email}``    ``alice@example.com``
JWT (``eyJ...`` with three dot parts)       ``{token}``    ``eyJhbGci.eyJzdWIi.sig``
longer than ``max_segment_len``             ``{long}``     a 60-character slug
valid date, optional time suffix            ``{date}``     ``2026-11-20``, ``20261120``
characters outside ``[A-Za-z0-9._~-]``      ``{seg}``      ``hello world``, ``@alice``, ``é``
only punctuation, or a leading ``~``        ``{seg}``      ``..``, ``-``, ``~alice``
2+ digits only                              ``{id}``       ``12345``
dotted-quad IPv4                            ``{ip}``       ``10.0.0.1``, ``1.2.3.4``
2+ characters, only digits and punctuation  ``{id}``       ``1.2``, ``1-3``, ``3.4.5``
UUID 8-4-4-4-12                             ``{uuid}``     ``0b6e...-...``
a hex run of 8+ containing a digit          ``{hex}``      ``deadbeef42``
a high-entropy alphanumeric chunk           ``{token}``    ``cnryAb12Cd34Ef``
any other 2+ digit run, or 3+ digits        ``{id}``       ``order-12345``, ``x86``, ``1.2.3``
not a *known* literal (below)               ``{word}``     ``alice.smith``, ``johnsmith``
==========================================  =============  ==================================

Route literals fail closed. A segment that passes every class above is still published only
when it is *known* (:class:`RouteVocabulary`); anything else becomes ``{word}``. Known means,
on the lowercased segment:

* a literal of a template the schema declares (``routes:`` or the service's OpenAPI
  document) - declared literals are published as declared, even when the classes above would
  replace them (``/hash/sha256``);
* a shipped route word (:data:`deidentify.dimensions.routewords.ROUTE_WORDS`: ``api``,
  ``users``, ``profile``, ``avatar``... and no person names), a single letter or digit, or a
  version token (``v1``, ``v10``, ``v19.0``, ``v1beta1``);
* words of those kinds joined by ``-`` or ``_`` (``payment_intents``,
  ``openid-configuration``), optionally followed by ``.`` + a known file extension
  (``avatar.png``, ``favicon.ico``, ``index.html``); a leading ``.`` is allowed
  (``.well-known``).

No other rule makes a word known: camelCase is not split (``getUserProfile`` becomes ``{word}``
unless declared) and concatenations are never split into words (``alicesmith`` is one
unknown word).
``/users/alice.smith``, ``/v1/patients/johnsmith/records`` and
``/ashworth/ignatius/avatar.png`` give ``/users/{word}``, ``/v1/patients/{word}/records`` and
``/{word}/{word}/avatar.png``, however many users visit them.

Declared templates also match *by shape*, as a router does: a path or route field with the
same number of segments whose segments equal the template's literals (case-insensitive,
percent-decoded) is published as that template, its other segments being whatever they are
(``/v1/accounts/acct_42/members/alice.smith`` -> ``/v1/accounts/{id}/members/{member}``).
At each position a literal beats a placeholder.

A kept segment is lowercased. A *chunk* is a maximal ``[A-Za-z0-9]`` run of the segment; it is
high-entropy when it has 6-9 characters, letters and 2+ digits (``x7k9p2``; API versions such
as ``v1beta1`` excepted), or 10+ characters and (a) mixes letters and digits, or (b) mixes cases
in a way camelCase does not (two or more one-letter lowercase runs before an uppercase
letter), or (c) lowercased, has 3+ letter pairs that ordinary words do not contain (see
``_COMMON_BIGRAMS``: ``xq``, ``jz``, ``vb``...). Rule (a) is guaranteed: any random identifier of
10+ characters that contains a letter and a digit is replaced. Letter-only random strings are
caught statistically (c: 85% at 10 letters, 98% at 16); short codes with at most one digit
(``ab3kx``) and plain words (``/users/alice``) cannot be told from route words by pattern at
all - the known-literal rule turns them into ``{word}``. Accepted false positives:
``utf8mb4``, ``oauth2callback``, ``kwonlyargcount`` become ``{token}``.

Decisions

* Case: classification sees the original case (so ``AbXyZk...`` looks random); kept segments
  are lowercased, so ``/v1/Orders`` and ``/v1/orders`` are one route. The grammar has no
  uppercase.
* One-digit segments (``/2/tweets``, ``v1``, ``oauth2``) stay: a single digit has ten values
  and identifies nobody. Two or more consecutive digits, or three or more digits in all,
  anywhere in a segment replace the whole segment, except version tokens ``v`` + 1-2 digits
  with an optional ``.`` + 1-2 digits (``v10``, ``v19.0``). Consequence: ``x86`` and ``1.2.3``
  become ``{id}``; that is accepted. A segment of two or more characters with no letter
  (``1.2``, ``1-3``) is an identifier too.
* Depth: empty segments are dropped (``//`` and trailing ``/`` collapse); more than
  ``max_depth`` segments keep the first ``max_depth`` and append ``{...}``.
* Unsafe characters give ``{seg}`` (the route keeps its shape) rather than ``OTHER``.
* The route field is used only if it starts with ``/``, each literal segment is classified as
  *kept* (no percent-decoding: ``%`` is unsafe) and each placeholder has a clean name.
  Placeholders ``{name}``, ``{name:conv}``, ``{*name}``, ``:name``, ``<name>``,
  ``<conv:name>``, ``[name]`` and ``[...name]`` are normalised to ``{name}`` (lowercased).
  A raw path in the route field (``/users/12345``) is not a template: the URL is used. The
  route field obeys the known-literal rule like a URL: an unknown literal becomes ``{word}``,
  and a placeholder whose name is not known (a declared name, one of this module's
  placeholder names, or known words joined by ``_`` such as ``user_id``; camelCase names
  such as ``{orderId}`` are not split) becomes ``{param}``.
* URL shapes are those of :func:`deidentify.dimensions.host.split_url`: scheme, userinfo,
  host, port, query and fragment are dropped; ``\\`` counts as ``/``; a string without scheme
  or leading ``/`` is read host-first (``hooks.example.com/x`` -> ``/x``), so a host never
  lands in a route; non-hierarchical schemes (``javascript:``) give ``OTHER``.

Invariants (property-tested)

* Every output satisfies :func:`is_valid_route` with the same vocabulary.
* Every output is a fixed point: ``RouteTemplate(vocabulary=v)(out, None) == out`` for
  ``out != OTHER``.
* Every literal of an output is known: a letter-only word that is neither a shipped route
  word nor declared never reaches the output, whatever the path shape.
* Outside version tokens and declared literals, no output segment has two consecutive
  digits or three digits.
* No value is ever logged or raised; bad input of any type yields ``OTHER``.

Memory: five caches per templater, each a dict of at most ``cache_size`` entries that
is cleared when full: the route field, the URL path, the URL up to its query (common
``http(s)://host/path`` shape only) and the raw path segment (keys longer than
:data:`MAX_CACHED_KEY_CHARS` are computed uncached), and the route *shape* (the tuple of
segment outputs, placeholders and known literals only, so a shape never holds raw text) whose
grammar check is done once. Outputs are interned, so a cache entry costs its key (~50 B +
length) plus ~100 B of dict overhead: ~10 MiB per cache for typical 40-character paths at the
default 65536, ~25 MiB worst case; shapes are few (one per published route). The route-field
and URL caches are also read inline by the generated extractor
(:attr:`RouteTemplate.route_hits`, :attr:`RouteTemplate.url_hits`); its URL-cache miss
(:meth:`RouteTemplate.url_miss`) neither reads nor writes the path cache. Interned outputs are
cleared when they number twice ``cache_size``. A
:class:`RouteVocabulary` holds its declared templates (a trie, ~200 B per template segment)
and a known-word cache of at most ``cache_size`` entries, cleared when full.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from urllib.parse import unquote

from deidentify.dimensions.host import NOT_IN_FAST_URL, OTHER, split_url
from deidentify.dimensions.routewords import FILE_EXTENSIONS, ROUTE_WORDS
from deidentify.errors import ConfigError

__all__ = ["MORE", "OTHER", "PARAM", "PLACEHOLDER_NAMES", "ROUTE_GRAMMAR", "WORD",
           "RouteTemplate", "RouteVocabulary", "declared_template", "is_valid_route"]

MORE = "{...}"
WORD = "{word}"
"""Placeholder for a literal segment that is not known (see the module docstring)."""
PARAM = "{param}"
"""Placeholder replacing a route field's placeholder whose name is not known."""
PLACEHOLDER_NAMES = frozenset({"id", "uuid", "hex", "token", "email", "date", "long", "seg",
                               "ip", "word", "param"})
"""The names of this module's own placeholders: always known."""
MAX_DEPTH_LIMIT = 32
MAX_SEGMENT_LEN_LIMIT = 64
MAX_CACHED_KEY_CHARS = 256
_MAX_ROUTE_CHARS = 1 + (MAX_SEGMENT_LEN_LIMIT + 1) * (MAX_DEPTH_LIMIT + 1)

_NAME = r"[a-z_][a-z0-9_]{0,31}"
_LITERAL = rf"(?!\.+(?:/|\Z))[a-z0-9._-][a-z0-9._~-]{{0,{MAX_SEGMENT_LEN_LIMIT - 1}}}"
ROUTE_GRAMMAR: re.Pattern[str] = re.compile(
    rf"^(?:/|(?:/(?:{_LITERAL}|\{{{_NAME}\}})){{1,{MAX_DEPTH_LIMIT}}}(?:/\{{\.\.\.\}})?)\Z")
"""What a published route may look like: ``/``, or 1-32 segments that are lowercase literals
over ``[a-z0-9._~-]`` (not only dots, not starting with ``~``, at most 64 characters) or
placeholders ``{name}``, optionally followed by ``/{...}``. :func:`is_valid_route` adds the
segment classification on top."""

_SAFE_RE = re.compile(r"[A-Za-z0-9._~-]+")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")
_DATE_RE = re.compile(
    r"(?:19|20)[0-9]{2}(?:-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[Tt_ ][0-9:.+\-Zz]*)?"
    r"|(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]))")
_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_DIGIT_RE = re.compile(r"[0-9]")
_DIGIT_RUN_RE = re.compile(r"[0-9]{2,}")
_IPV4_RE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_VERSION_RE = re.compile(r"[vV][0-9]{1,2}(?:\.[0-9]{1,2})?")
_CHUNK_RE = re.compile(r"[A-Za-z0-9]{6,}")
# A maximal run of 8+ hex characters that contains a digit: at a run's start (lookbehind), 8
# hex characters ahead, and a digit after only hex letters.
_HEX_ID_SEARCH = re.compile(r"(?<![0-9a-fA-F])(?=[0-9a-fA-F]{8})[a-fA-F]*[0-9]").search
_API_VERSION_RE = re.compile(r"v[0-9](?:alpha|beta|rc)[0-9]", re.IGNORECASE)
# Version tokens that are known literals (lowercase): v1, v10, v19.0, v1beta1, v2alpha.
_KNOWN_VERSION_RE = re.compile(r"v[0-9]{1,2}(?:(?:alpha|beta|rc)[0-9]?|\.[0-9]{1,2})?")
_COMPOUND_SPLIT_RE = re.compile(r"[-_]")
_ALPHA_RE = re.compile(r"[A-Za-z]")
_SHORT_LOWER_RUN_RE = re.compile(r"(?:^|[A-Z])[a-z](?=[A-Z])")

# Letter pairs that occur inside ordinary (English, programming) words: each pair in at least
# 20 distinct lowercase words of CPython 3.11's standard library sources (identifiers,
# comments, docstrings; 11,877 words). A random letter has a ~49% chance of forming a pair
# outside this set with its neighbour; words almost never have three such pairs (0.2% of
# held-out words of 10+ letters: ``kwonlyargcount``), random strings of 10/12/16 letters have
# them 85%/92%/98% of the time.
_COMMON_FOLLOWERS = {
    "a": "bcdfgiklmnprstuvwxy", "b": "acdeijloprstuy", "c": "acdehiklmnoprstuvy",
    "d": "abcdefgilnoprstuy", "e": "abcdefgiklmnopqrstuvwxy", "f": "adefiloprstuy",
    "g": "aeghilmnorstu", "h": "aeilortu", "i": "abcdefglmnoprstvxz", "j": "eu",
    "k": "aegilsw", "l": "abcdefilnopstuvy", "m": "abdeilmopstu",
    "n": "acdefghiklmnoprstuvy", "o": "abcdfgiklmnoprstuvwx", "p": "acdefhiloprstuy",
    "q": "u", "r": "abcdefgiklmnoprstuvwy", "s": "abcdefghiklmnoprstuvwy",
    "t": "abcdefhilmnoprstuvwy", "u": "abcdefgilmnoprst", "v": "aeio", "w": "aehinors",
    "x": "acefipt", "y": "eilmnpst", "z": "aeio",
}
_LETTERS_DELETED = str.maketrans("", "", string.ascii_letters)
_COMMON_BIGRAMS = frozenset(a + b for a, followers in _COMMON_FOLLOWERS.items()
                            for b in followers)
_RARE_BIGRAMS_FOR_TOKEN = 3

_ROUTE_PLACEHOLDER_RE = re.compile(
    r"\{\*?([A-Za-z_][A-Za-z0-9_]{0,31})(?::[^{}/]{0,64})?\}"
    r"|:([A-Za-z_][A-Za-z0-9_]{0,31})"
    r"|<(?:[A-Za-z_]+:)?([A-Za-z_][A-Za-z0-9_]{0,31})>"
    r"|\[(?:\.\.\.)?([A-Za-z_][A-Za-z0-9_]{0,31})\]")
# Common case http(s)://host/path?...: the path without running the general splitter. No
# whitespace and no C0 control in host or path (split_url strips C0 controls at the ends and
# removes tabs and newlines): those URLs take split_url, so both always agree.
_FAST_URL_MATCH = re.compile(
    rf"https?://[^/?#\\{NOT_IN_FAST_URL}]+(/[^?#\\{NOT_IN_FAST_URL}]*|)(?:[?#]|\Z)").match

_NOT_TEMPLATE = ""  # cached marker for "this route field is not a template"


def _is_token_chunk(chunk: str) -> bool:
    """True if a 6+ character alphanumeric chunk looks like a generated identifier."""
    # A chunk is ASCII letters and digits: it has a letter unless isdigit(), a digit unless
    # isalpha().
    if len(chunk) < 10:
        return (len(chunk.translate(_LETTERS_DELETED)) >= 2 and not chunk.isdigit()
                and not _API_VERSION_RE.fullmatch(chunk))
    if not chunk.isalpha():
        return not chunk.isdigit()
    if not chunk.islower() and not chunk.isupper():
        if len(_SHORT_LOWER_RUN_RE.findall(chunk)) >= 2:
            return True
    low = chunk.lower()
    rare = 0
    for i in range(len(low) - 1):
        if low[i:i + 2] not in _COMMON_BIGRAMS:
            rare += 1
            if rare >= _RARE_BIGRAMS_FOR_TOKEN:
                return True
    return False


def _classify(seg: str, max_len: int) -> str | None:
    """The placeholder replacing ``seg`` (decoded, original case), or None to keep it.

    None only means "not an identifier"; whether a kept segment is *known* is the
    vocabulary's decision (:meth:`RouteVocabulary.is_known`).
    """
    if seg.isascii() and len(seg) <= max_len:
        bare = seg.replace("_", "")
        if bare.isalnum():              # ASCII letters, digits and "_", not only "_"
            if not bare.isdigit():
                # With a letter (ord_c64d17ea, cus_xAyCO6Mz, alice): none of the rules
                # before the identifier rules can apply (email, JWT, date, UUID and IPv4
                # need "@", ".", "-" or no letter; unsafe and punctuation-only need other
                # characters).
                return _classify_identifier(seg)
            if "_" not in seg:          # only digits: of the rules before, only a date
                if seg[0] in "12" and _DATE_RE.fullmatch(seg):
                    return "{date}"
                return "{id}" if len(seg) > 1 else None
    if "@" in seg and _EMAIL_RE.fullmatch(seg):
        return "{email}"
    if seg.startswith("eyJ") and _JWT_RE.fullmatch(seg):
        return "{token}"
    if len(seg) > max_len:
        return "{long}"
    if seg[0] in "12" and _DATE_RE.fullmatch(seg):
        return "{date}"
    if not _SAFE_RE.fullmatch(seg) or seg[0] == "~" or not seg.strip("."):
        return "{seg}"
    if seg.isdigit():
        return "{id}" if len(seg) > 1 else None
    if _IPV4_RE.fullmatch(seg):
        return "{ip}"
    if _ALPHA_RE.search(seg) is None:   # only digits and punctuation: 1.2, 1-3, 3.4.5, -
        return "{id}" if _DIGIT_RE.search(seg) is not None else "{seg}"
    if len(seg) == 36 and _UUID_RE.fullmatch(seg):
        return "{uuid}"
    return _classify_identifier(seg)


def _classify_identifier(seg: str) -> str | None:
    """The last rules of :func:`_classify` (hex, token, digits) for a safe segment with a
    letter that no earlier rule replaced."""
    if _HEX_ID_SEARCH(seg) is not None:
        return "{hex}"
    for chunk in _CHUNK_RE.findall(seg):
        if _is_token_chunk(chunk):
            return "{token}"
    if (_DIGIT_RUN_RE.search(seg) or len(_DIGIT_RE.findall(seg)) > 2) \
            and not _VERSION_RE.fullmatch(seg):
        return "{id}"
    return None


def _shipped_part(part: str) -> bool:
    """One ``-``/``_``-separated part of a literal: a shipped word, one character, a version."""
    return (part in ROUTE_WORDS or len(part) == 1
            or _KNOWN_VERSION_RE.fullmatch(part) is not None)


def _shipped_compound(word: str) -> bool:
    """Shipped parts joined by ``-``/``_`` (empty parts allowed: ``_next``), at least one."""
    if word in ROUTE_WORDS:
        return True
    parts = [p for p in _COMPOUND_SPLIT_RE.split(word) if p]
    return bool(parts) and all(_shipped_part(p) for p in parts)


def _shipped_literal(lit: str) -> bool:
    """True if a lowercase literal is known from the shipped vocabulary alone."""
    if _shipped_compound(lit):
        return True
    if lit[0] == ".":                   # .well-known, .env
        lit = lit[1:]
        if not lit or lit[0] == ".":
            return False
        if _shipped_compound(lit):
            return True
    if "." not in lit:
        return False
    *stem, ext = lit.split(".")         # avatar.png, app.bundle.js, socket.io
    return ext in FILE_EXTENSIONS and all(p and _shipped_compound(p) for p in stem)


def _placeholder_name(seg: str) -> str | None:
    """The lowercased name of a route-field placeholder segment, or None if malformed."""
    m = _ROUTE_PLACEHOLDER_RE.fullmatch(seg)
    if m is None:
        return None
    return next(g for g in m.groups() if g is not None).lower()


def declared_template(text: object) -> str:
    """Normalise one declared route template (schema ``routes:``, OpenAPI paths).

    Accepts ``/v1/orders/{id}`` (and the route field's placeholder syntaxes); literals are
    lowercased. Raises :class:`ValueError` with a reason that names segment positions, never
    echoes event data (a declared template is configuration).
    """
    if type(text) is not str or not text.startswith("/"):
        raise ValueError("a route template is a string starting with '/'")
    if len(text) > _MAX_ROUTE_CHARS:
        raise ValueError(f"a route template is at most {_MAX_ROUTE_CHARS} characters")
    raw = [s for s in text.split("/") if s]
    if len(raw) > MAX_DEPTH_LIMIT:
        raise ValueError(f"a route template has at most {MAX_DEPTH_LIMIT} segments")
    out = []
    for i, seg in enumerate(raw, 1):
        if seg[0] in "{:<[":
            name = _placeholder_name(seg)
            if name is None:
                raise ValueError(f"segment {i} is not a placeholder such as {{id}}")
            out.append("{" + name + "}")
        else:
            lit = seg.lower()
            if not re.fullmatch(_LITERAL, lit):
                raise ValueError(f"segment {i} must be a literal of [a-z0-9._~-] (at most "
                                 f"{MAX_SEGMENT_LEN_LIMIT} characters, not only dots) or a "
                                 "placeholder such as {id}")
            out.append(lit)
    route = "/" + "/".join(out)
    if not ROUTE_GRAMMAR.match(route):  # pragma: no cover - each segment was checked above
        raise ValueError("not a route template")
    return route


def _shape(template: str) -> tuple[str | None, ...]:
    """Segments of a normalised template with placeholders as None."""
    return tuple(None if s[0] == "{" else s for s in template.split("/") if s)


class RouteVocabulary:
    """What a route may publish as literals: the shipped words plus a schema's declarations.

    Build once per route dimension from the schema's declared templates (already validated
    by the schema loader; they are normalised again here, :class:`ConfigError` if one is not
    a template). Templates with the same shape (``/users/{id}``, ``/users/{user_id}``) keep
    the first. Immutable apart from the bounded known-word cache.
    """

    __slots__ = ("_cache_size", "_known_cache", "_trie", "literals", "names", "templates")

    def __init__(self, templates: Iterable[str] = (), *, cache_size: int = 65536) -> None:
        if type(cache_size) is not int or cache_size < 0:
            raise ConfigError("RouteVocabulary cache_size must be an integer >= 0")
        kept: dict[tuple[str | None, ...], str] = {}
        for text in templates:
            try:
                route = declared_template(text)
            except ValueError as exc:
                raise ConfigError(f"declared route template: {exc}") from None
            kept.setdefault(_shape(route), route)
        self.templates: tuple[str, ...] = tuple(kept.values())
        segs = [s for t in self.templates for s in t.split("/") if s]
        self.literals: frozenset[str] = frozenset(s for s in segs if s[0] != "{")
        self.names: frozenset[str] = frozenset(s[1:-1] for s in segs if s[0] == "{")
        # Trie over segments: node = (literal children, placeholder child, template or None)
        root: list = [{}, None, None]
        for route in self.templates:
            node = root
            for seg in _shape(route):
                if seg is None:
                    if node[1] is None:
                        node[1] = [{}, None, None]
                    node = node[1]
                else:
                    node = node[0].setdefault(seg, [{}, None, None])
            node[2] = tuple(s for s in route.split("/") if s)
        self._trie = root
        self._cache_size = cache_size
        self._known_cache: dict[str, bool] = {}

    def is_known(self, literal: str) -> bool:
        """True if a lowercase literal (that the classifier keeps) may be published."""
        hit = self._known_cache.get(literal)
        if hit is None:
            hit = literal in self.literals or _shipped_literal(literal)
            if self._cache_size and len(literal) <= MAX_CACHED_KEY_CHARS:
                if len(self._known_cache) >= self._cache_size:
                    self._known_cache.clear()
                self._known_cache[literal] = hit
        return hit

    def is_known_name(self, name: str) -> bool:
        """True if a lowercase placeholder name may be published as is."""
        if name in self.names or name in PLACEHOLDER_NAMES:
            return True
        return _classify(name, 32) is None and _shipped_compound(name)

    def match(self, keys: list[str]) -> tuple[str, ...] | None:
        """The segments of the declared template ``keys`` matches by shape, or None.

        ``keys`` are lowercased, decoded segments; a literal beats a placeholder at each
        position (with backtracking), as in an HTTP router.
        """
        if not self.templates or len(keys) > MAX_DEPTH_LIMIT:
            return None
        return _match(self._trie, keys, 0)


def _match(node: list, keys: list[str], i: int) -> tuple[str, ...] | None:
    if i == len(keys):
        return node[2]
    child = node[0].get(keys[i])
    if child is not None:
        found = _match(child, keys, i + 1)
        if found is not None:
            return found
    if node[1] is not None:
        return _match(node[1], keys, i + 1)
    return None


SHIPPED_VOCABULARY = RouteVocabulary()
"""The vocabulary of a route dimension that declares no templates."""


def is_valid_route(value: str, vocabulary: RouteVocabulary | None = None) -> bool:
    """True for ``__other__`` or a route the templater could have published.

    The grammar must match, every placeholder name must be known, and every literal segment
    must be one the templater keeps (no digit runs, tokens, hex, ...) and knows (declared,
    shipped route words), so a route is valid exactly when templating it again with the same
    ``vocabulary`` changes nothing. The central collector re-validates with this, passing the
    vocabulary of the schema's route dimension.
    """
    if type(value) is not str:
        return False
    if value == OTHER:
        return True
    if len(value) > _MAX_ROUTE_CHARS or not ROUTE_GRAMMAR.match(value):
        return False
    vocab = SHIPPED_VOCABULARY if vocabulary is None else vocabulary
    for seg in value.split("/")[1:]:
        if not seg or seg == MORE:
            continue
        if seg[0] == "{":
            if not vocab.is_known_name(seg[1:-1]):
                return False
        elif seg not in vocab.literals and (
                _classify(seg, MAX_SEGMENT_LEN_LIMIT) is not None or not vocab.is_known(seg)):
            return False
    return True


def _path_of(url: str) -> str | None:
    """The path of ``url`` (no query/fragment), or None when it has no usable shape."""
    m = _FAST_URL_MATCH(url)
    if m is not None:
        return m[1]
    parts = split_url(url)
    return None if parts is None else parts[1]


class _Segments(dict):
    """The raw path segment cache: ``cache[seg]`` is the segment's output, learned (and
    stored when short) by ``__missing__`` on a miss, so a whole path is read with one
    ``map`` over its segments."""

    __slots__ = ("_max_len", "_size", "_vocab")

    def __init__(self, vocab: RouteVocabulary, max_len: int, size: int) -> None:
        super().__init__()
        self._vocab = vocab
        self._max_len = max_len
        self._size = size

    def __missing__(self, seg: str) -> str:
        """The output of one raw URL path segment, remembered if short: a declared literal
        as declared, else its class's placeholder, else the lowercased literal if known,
        else ``{word}``."""
        decoded = unquote(seg) if "%" in seg else seg
        vocab = self._vocab
        literals = vocab.literals
        if literals and (lit := decoded.lower()) in literals:
            out = lit
        else:
            placeholder = _classify(decoded, self._max_len)
            if placeholder is None:
                lit = decoded.lower()
                out = lit if vocab.is_known(lit) else WORD
            else:
                out = placeholder
        size = self._size
        if size and len(seg) <= MAX_CACHED_KEY_CHARS:
            if len(self) >= size:
                self.clear()
            self[seg] = out
        return out


class RouteTemplate:
    """``(route field, url) -> '/v1/orders/{id}' | '__other__'`` with bounded caches.

    Construct once per compiled route dimension, with the :class:`RouteVocabulary` of its
    declared templates (default: shipped words only). For a route field seen before the
    call is one dict lookup; for a URL path seen before it is a path split plus one dict
    lookup.
    """

    __slots__ = ("_cache_size", "_intern", "_max_depth", "_max_segment_len", "_path_cache",
                 "_route_cache", "_segment_cache", "_shape_cache", "_url_cache", "_vocab")

    def __init__(self, *, vocabulary: RouteVocabulary | None = None, max_depth: int = 8,
                 max_segment_len: int = 48, cache_size: int = 65536) -> None:
        if type(max_depth) is not int or not 1 <= max_depth <= MAX_DEPTH_LIMIT:
            raise ConfigError(f"RouteTemplate max_depth must be between 1 and {MAX_DEPTH_LIMIT}")
        if type(max_segment_len) is not int or not 1 <= max_segment_len <= MAX_SEGMENT_LEN_LIMIT:
            raise ConfigError("RouteTemplate max_segment_len must be between 1 and "
                              f"{MAX_SEGMENT_LEN_LIMIT}")
        if type(cache_size) is not int or cache_size < 0:
            raise ConfigError("RouteTemplate cache_size must be an integer >= 0")
        if vocabulary is not None and not isinstance(vocabulary, RouteVocabulary):
            raise ConfigError("RouteTemplate vocabulary must be a RouteVocabulary")
        self._vocab = SHIPPED_VOCABULARY if vocabulary is None else vocabulary
        self._max_depth = max_depth
        self._max_segment_len = max_segment_len
        self._cache_size = cache_size
        self._route_cache: dict[str, str] = {}
        self._path_cache: dict[str, str] = {}
        self._segment_cache = _Segments(self._vocab, max_segment_len, cache_size)
        self._shape_cache: dict[tuple, str] = {}
        self._url_cache: dict[str, str] = {}
        self._intern: dict[str, str] = {}

    @property
    def vocabulary(self) -> RouteVocabulary:
        return self._vocab

    @property
    def route_hits(self) -> dict[str, str]:
        """The route-field cache, read-only outside this class: for a route field ``r`` with
        ``route_hits.get(r)`` non-empty, that value is ``self(r, url)`` for any ``url`` (an
        empty value means "not a template": the URL decides). The same dict for the
        templater's lifetime (cleared when full, never replaced); the generated extractor
        reads it inline."""
        return self._route_cache

    @property
    def url_hits(self) -> dict[str, str]:
        """URLs of the common ``http(s)://host/path`` shape, cut before their query, ->
        their route, read-only outside this class: for a str ``url`` with
        ``url_hits.get(url.split("?", 1)[0])`` not None, that value is ``self(None, url)``
        (and ``self(r, url)`` for a route field ``r`` with ``route_hits[r] == ""``). A key is
        exactly what :data:`_FAST_URL_MATCH` matched before its query or fragment, so any
        URL that starts with it and goes on with ``?`` (or ends there) has the same path.
        The same dict for the templater's lifetime (cleared when full, never replaced); the
        generated extractor reads it inline."""
        return self._url_cache

    def __call__(self, route: object, url: object) -> str:
        """A route template for the event, or ``OTHER``; never raw identifying text."""
        if type(route) is str:
            hit = self._route_cache.get(route)
            if hit is None:
                hit = self._remember(self._route_cache, route, self._from_route_field(route))
            if hit:  # "" (_NOT_TEMPLATE): fall through to the URL
                return hit
        if type(url) is not str:
            return OTHER
        m = _FAST_URL_MATCH(url)  # inlined _path_of: this is the per-event path
        if m is None:
            path = _path_of(url)
            if path is None:
                return OTHER
            hit = self._path_cache.get(path)
            return self._from_path(path) if hit is None else hit
        path = m[1]
        hit = self._path_cache.get(path)
        if hit is None:
            hit = self._from_path(path)
        end = m.end(1)              # the URL up to its query or fragment (see url_hits)
        size = self._cache_size
        if end <= MAX_CACHED_KEY_CHARS and size:
            urls = self._url_cache
            if len(urls) >= size:
                urls.clear()
            urls[url[:end]] = hit
        return hit

    def url_miss(self, key: str, url: str) -> str:
        """``self(None, url)``, for a str ``url`` whose ``url.split("?", 1)[0]`` is ``key``
        (the generated extractor's :attr:`url_hits` miss, which has ``key`` at hand).

        A key of the plain ``http(s)://host/path`` shape (printable ASCII, no space, ``#``
        or ``\\``: a subset of what :data:`_FAST_URL_MATCH` takes, with the same host and
        path) is split once, into scheme, host and the path's segments, and templated from
        those; the path cache is neither read nor written (the URL cache, written here under
        the key :meth:`__call__` would use, answers the URL the next time). Any other key
        takes :meth:`__call__`."""
        parts = key.split("/")
        if (len(parts) > 3 and not parts[1] and parts[2]
                and (parts[0] == "https:" or parts[0] == "http:")
                and key.isascii() and key.isprintable()
                and " " not in key and "#" not in key and "\\" not in key):
            del parts[:3]
            hit = self._from_segments(parts)
            size = self._cache_size
            if len(key) <= MAX_CACHED_KEY_CHARS and size:
                urls = self._url_cache
                if len(urls) >= size:
                    urls.clear()
                urls[key] = hit
            return hit
        return self(None, url)

    def cache_len(self) -> int:
        """Entries currently cached by route field, URL path and URL (never the keys)."""
        return len(self._route_cache) + len(self._path_cache) + len(self._url_cache)

    def _remember(self, cache: dict[str, str], key: str, value: str) -> str:
        if self._cache_size and len(key) <= MAX_CACHED_KEY_CHARS:
            if len(cache) >= self._cache_size:
                cache.clear()
            value = self._interned(value)
            cache[key] = value
        return value

    def _interned(self, route: str) -> str:
        """The one string kept for an output (cleared when it holds twice the cache size,
        so that it stays bounded whichever caches fill)."""
        intern = self._intern
        if len(intern) >= 2 * self._cache_size:
            intern.clear()
        return intern.setdefault(route, route)

    def _finish(self, segments: list[str], more: bool) -> str | None:
        if len(segments) > self._max_depth:
            del segments[self._max_depth:]
            more = True
        if more:
            segments.append(MORE)
        route = "/" + "/".join(segments)
        return route if ROUTE_GRAMMAR.match(route) else None

    def _declared(self, keys: list[str]) -> str | None:
        """The declared template ``keys`` match by shape (depth-capped), or None."""
        found = self._vocab.match(keys)
        return None if found is None else self._finish(list(found), False)

    def _from_route_field(self, route: str) -> str:
        """The normalised route field, or ``_NOT_TEMPLATE`` if a literal is an identifier."""
        if not route.startswith("/") or len(route) > _MAX_ROUTE_CHARS:
            return _NOT_TEMPLATE
        raw = [s for s in route.split("/") if s]
        more = bool(raw) and raw[-1] == MORE
        if more:
            raw.pop()
        elif self._vocab.templates:
            keys = ["{" if s[0] in "{:<[" else s.lower() for s in raw]
            declared = self._declared(keys)
            if declared is not None:
                return declared
        vocab = self._vocab
        segments = []
        for seg in raw[:self._max_depth]:
            if seg[0] in "{:<[":
                name = _placeholder_name(seg)
                if name is None:
                    return _NOT_TEMPLATE
                if name in vocab.names:
                    segments.append("{" + name + "}")
                elif _classify(name, 32) is not None:
                    return _NOT_TEMPLATE
                else:
                    segments.append("{" + name + "}" if vocab.is_known_name(name) else PARAM)
                continue
            lit = seg.lower()
            if lit in vocab.literals:
                segments.append(lit)
            elif _classify(seg, self._max_segment_len) is not None:
                return _NOT_TEMPLATE
            else:
                segments.append(lit if vocab.is_known(lit) else WORD)
        more = more or len(raw) > self._max_depth
        return self._finish(segments, more) or _NOT_TEMPLATE

    def _from_path(self, path: str) -> str:
        """Template a URL path (no query/fragment) segment by segment; remembered in the
        path cache when short. The output is interned (a shape's or a declared route's one
        string), so a cache entry holds its key and a shared value."""
        raw = path.split("/")
        if not raw[0]:
            del raw[0]              # the "" before a leading "/"
        route = self._from_segments(raw)
        size = self._cache_size
        if len(path) <= MAX_CACHED_KEY_CHARS and size:
            paths = self._path_cache
            if len(paths) >= size:
                paths.clear()
            paths[path] = route
        return route

    def _from_segments(self, raw: list[str]) -> str:
        """Template a path given as its segments (``path.split("/")`` without the "" before
        a leading "/"; empty segments are dropped here); ``raw`` may be changed. The output
        is interned (a shape's or a declared route's one string)."""
        if "" in raw:
            raw = list(filter(None, raw))
        route = None
        if self._vocab.templates:
            route = self._declared([(unquote(s) if "%" in s else s).lower() for s in raw])
            if route is not None and self._cache_size:
                route = self._interned(route)
        if route is None:
            more = len(raw) > self._max_depth
            if more:
                del raw[self._max_depth:]
            # A segment not cached yet is learned by the cache's __missing__ (_Segments).
            # The same few shapes come back with different identifiers, so the grammar
            # check of a shape is cached (its key holds only outputs: placeholders and
            # known literals).
            shape = (more, *map(self._segment_cache.__getitem__, raw))
            route = self._shape_cache.get(shape)
            if route is None:
                route = self._finish(list(shape[1:]), more) or OTHER
                if self._cache_size:
                    route = self._interned(route)
                    if len(self._shape_cache) >= self._cache_size:
                        self._shape_cache.clear()
                    self._shape_cache[shape] = route
        return route

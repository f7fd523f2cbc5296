"""Person names in compound forms: the output guard's ``person_name`` detector.

A published string (a route, a tenant id, a host, an enum value, a key) hits when it holds a
person's name the way software writes one: two name tokens side by side, or one run of
letters that splits into a first name and a surname.

=========================================  ==============================================
form                                       e.g.
=========================================  ==============================================
first.last, first_last, first-last         ``alice.smith``, ``priya_ashworth``
spaces, percent-encoded spaces             ``Alice Smith``, ``alice%20smith``, ``%2520``
CamelCase                                  ``JohnSmith``, ``JaneDOE``
last.first, across route segments          ``smith.john``, ``/ashworth/ignatius/avatar.png``
digits or other words around               ``john.smith42``, ``john_smith_london``
concatenated first+last, last+first        ``johnsmith``, ``larsvirtanen``, ``smithjohn``
personal domains                           ``johnsmith.com``, ``jane-doe.dev``
=========================================  ==============================================

How a string is read
--------------------
It is percent-decoded (twice, for ``%2520``) when it holds ``%``, folded to ASCII (``Zoë`` ->
``zoe``), cut at placeholders (``{id}``: tokens on either side are never neighbours), and
split into letter tokens at every non-letter and at case changes (``JohnSmith`` -> ``john``,
``smith``). One-letter tokens are skipped, so a middle initial (``john.q.smith``) keeps the
names adjacent. Then:

- **pair**: two neighbouring tokens where one is a first name and the other a surname, in
  either order, and *both* are name tokens (below);
- **concatenation**: a token of at least 6 letters that is not an English word and splits
  into a *frequent* first name followed by any surname (``johnsmith``), or a *frequent*
  surname followed by a frequent first name (``smithjohn``), each part at least 3 letters.
  A first name is frequent when it is a US Census first name, or Faker lists it for at
  least ``CONCAT_MIN_LANGUAGES`` (2) languages, or it has at least 6 letters (``sibusiso``);
  a surname when at least 0.001 % of the US population bears it (``CONCAT_LAST_MIN_SHARE``)
  or Faker lists it for 2 languages. Short names from one list alone split too many
  identifiers: ``isol`` + ``ines`` in ``isolines``.

- **name + unknown**: a frequent first name or surname of 4+ letters next to a token no
  list knows (not a name, not an English word, 5+ letters): ``priyanka_smith``,
  ``john_ivanova``; and a frequent first name of 4+ letters running on into such a token
  that has a surname ending (``-ova``, ``-ski``, ``-sson``, ``-yan``, ...: ``johnivanova``,
  ``annakowalska``). This reaches names outside the lists; it also flags company names
  made of a surname and an invented word (``dunder-mifflin``), which is the safe side.

A single name on its own (``/users/alice``, tenant ``tyrell``) never hits: one given name or
one surname is shared by thousands of people, and most route words, tenants and company
names are words that some family bears (``/orders/king``, ``hooli``). Keeping a lone name out
of the central topic is the job of the route literal rules (layer 2) and k (layer 3).

Name data (loaded once per process, lazily, into frozensets)
------------------------------------------------------------
- US Census 1990 first-name files (5,163 names) and surname file (88,799 names covering 90 %
  of the US population), each name with its share of the population, from the ``names``
  package.
- The person providers of ``faker`` (``faker/providers/person/<locale>``): the first names
  and surnames of every locale written in Latin script (:data:`FAKER_LOCALES`: 60 locales
  of 34 languages, from Azerbaijani to Zulu, Finnish, Swedish, Polish, Icelandic, Irish, and
  Indian and Pakistani names written in English), plus the romanized lists of ``ja_JP``,
  ``zh_CN`` and ``zh_TW``: 19,537 first names and 26,106 surnames after folding, 15,441
  first names and 17,352 surnames that the Census lists lack (``lars``, ``virtanen``,
  ``lindqvist``, ``jurgen``, ``kowalczyk``, ``hiroshi``). The provider classes are imported
  and their list attributes read as data (nothing random runs), then the provider modules
  are dropped from ``sys.modules`` so that their lists are freed. Why these locales: a
  name turns up in a URL, a tenant id or a host in ASCII; lists in another script
  (Cyrillic, Greek, Arabic, Hebrew, Indic, Georgian, Armenian, hangul, kanji, Thai) fold to
  nothing, and transliterating them is ambiguous (``Дмитрий``: dmitry, dmitriy, dmitrij). A
  name with a letter that does not fold to ASCII is dropped rather than kept mangled (``ə``
  is folded to ``e`` first). A name in several parts is kept run together and each part of
  4+ letters on its own (``de Vries`` -> ``devries``, ``vries``), so particles (``de``,
  ``van``, ``mac``) are not names. Names of fewer than ``FAKER_MIN_LEN`` (4) letters are taken from the Census only:
  Faker's short ones are mostly abbreviations in software (``Dev``: en_IN, ``Org``: et_EE,
  ``Sys``: da_DK, ``Geo``, ``Tex``, ``Exa``: en) that the English word list below lacks.
  Not read: Icelandic patronymic stems (``last_names_without_suffix``), middle names.
- English words: the English word-count list of ``pyspellchecker`` (about 160,000 lowercase
  words with counts from a large English corpus). It is read at load time only and not kept.

Compared with the ``gender-guesser`` list used before (44,000 first names from 54
countries), 32,106 first names are no longer known, mostly transliterations of names
written in other scripts (``dmitry``, ``oleksandr``, ``giorgi``, ``panagiotis``), Vietnamese
and Korean given-name syllables (``duc``, ``huy``, ``jun``) and Indian names that en_IN
lacks (``priyanka``); 7,902 first names and 17,297 surnames are new.

Licences: ``names`` MIT (Census data: public domain), ``faker`` MIT, ``pyspellchecker`` MIT.
No list is copied into this repository; all three are read from the installed packages.

Names that are also words
-------------------------
Many names are ordinary words (``page``, ``grant``, ``will``, ``mark``, ``read``, ``key``).
A name token is a name that is used more as a name than as a word: its lowercase frequency
in English text (pyspellchecker counts, which count ``john`` the noun, not ``John``) is at
most ``WORD_TO_NAME_RATIO`` (0.05) times the share of people bearing it. The share is the
Census share, or for a name Faker alone lists ``RARE_NAME_SHARE`` (0.0005 %) per language
listing it (a name given in more countries is borne by more people): ``lars`` (7 languages)
and ``liam`` (8) are names, ``edit`` (4), ``tore`` (2), ``safari`` (1) and ``canals`` (1) are
words. So ``john``, ``mark``, ``smith``, ``brown``, ``grant``, ``rose``, ``doe`` and
``alice`` are name tokens, and ``will``, ``read``, ``key``, ``page``, ``young``, ``black``
and ``stream`` are words. A pair needs *both* tokens to be name tokens, so ``mark-read`` and
``stream-key`` pass, and so, as an accepted miss, do ``will.smith`` and ``john.young`` (6 of
the 1,000 commonest Census first names and 58 of the 1,000 commonest surnames count as
words). A token that is an English word (any count) is never split as a concatenation
(``restart``, ``avatar``, ``markdown``).

Measured (``python -m benchmarks.names_fp``, 2-core shared development machine, CPython 3.11)
----------------------------------------------------------------------------------------
False positives, counted per distinct string:

- the shipped generator (``deidentify/generate/``): 0 of the 26 literal segments of its
  route templates; 0 of the 49 distinct routes the ``route`` transform published from
  100,000 generated events that carry no generated person slug; 0 of the 62 hosts
  (registrable domains), tenant ids and enum values. Recall on its own fake people: 539 of
  the 553 distinct routes that keep a user slug such as ``alice.smith`` hit (97.5 %; it was
  91.9 % with gender-guesser's list); the misses are the slugs with ``niaj`` (invented) and
  ``bartosz`` (Polish, not in pl_PL's list of 153 first names);
- the request URIs of the AWS API models shipped by ``botocore`` (a public set of 6,140
  REST routes of 400+ services): 0 of 3,599 distinct literal segments and 0 of the 6,140
  routes (before: 1 and 1, ``ungroup-resources``);
- ``is_person_name_token``: 19 of the 1,847 distinct word tokens of those AWS segments are
  name tokens (``mark``, ``max``, ``bill``, ``grant``, ``styles``, ``fields``, ``bridges``,
  ``converse``, ``loader``, ``kafka`` and abbreviations such as ``app``, ``ip``, ``arn``
  that the English list lacks; before: 21); 190 of the 10,000 most frequent English words
  are name tokens (``white``, ``king``, ``green``, ``price``, ``cook``, ``mark``: all Census
  names; the Faker lists add none).

Cost: building the sets takes about 1.0 s of CPU, once per machine and package versions:
later processes read them from an on-disk cache in ~0.06 s (:func:`load_name_data`).
Building (gender-guesser's list took 0.9 s; loaded alternately
in one process, 0.9-1.0 s against 0.7 s), peaks at ~45 MiB while the lists are read and
keeps ~20 MiB: 13.8 MiB of name sets (20,203 first names, 103,066 surnames, 15,982 and
18,027 of them tried in concatenations, 1,861 English words kept whole; 13.7 MiB before)
and ~5 MiB for the ``faker`` package and the standard-library modules it imports, which stay
imported (the person-provider modules are dropped after reading). The shared machine's load
changes timings by 2-4x between runs; in the quietest run :meth:`OutputGuard.scan` of a
typical ``http_requests`` cell (``GET``, ``/v1/customers/{id}/invoices``, ``200``) took
3.0 us without the name detector and 11.0 us with it, and the central check of all 34
strings of that aggregate 7.9 us and 24 us; :meth:`NameDetector.find` costs ~1 us for
``GET``, ``acme-corp`` or ``stripe.com``, 2-4 us for a three-segment route (the same as
with gender-guesser's list, measured side by side). The guard runs once per published cell,
not per event.

Invariants
----------
- :meth:`NameDetector.find` returns a bool; it never logs, raises with or keeps any part of
  the text it reads.
- Deterministic: the same text gives the same answer in every process with the same package
  versions, so the sidecar and the central collector agree.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import gzip
import hashlib
import importlib.metadata
import importlib.resources
import json
import os
import re
import sys
import time
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = [
    "NameData",
    "NameDetector",
    "build_name_data",
    "is_person_name_token",
    "load_name_data",
]

WORD_TO_NAME_RATIO = 0.05
"""A name whose lowercase English frequency exceeds this times its bearers' share is a word."""

RARE_NAME_SHARE = 5e-6
"""Share of people assumed for a name without a Census share, per language that lists it."""

MIN_TOKEN_LEN = 2
FAKER_MIN_LEN = 4
"""Shortest name taken from Faker alone: shorter ones are mostly abbreviations (``dev``)."""
CONCAT_PART_MIN_LEN = 3
# A token no list knows (not a name, not an English word) and at least this long is read as a
# name from outside the lists when it stands next to, or runs on from, a frequent name:
# ``priyanka_smith``, ``john_ivanova``, ``johnivanova``.
UNKNOWN_MIN_LEN = 5
UNKNOWN_HEAD_MIN_LEN = 4    # the frequent first name in front of one (``wes`` + ``tcluster``: no)
# Endings of surnames in many languages (Slavic -ova/-ski, Nordic -sson, Spanish -ez,
# Armenian -yan, Ukrainian -enko, Greek -poulos, Georgian -shvili, Turkish -oglu, ...): what
# marks an unknown tail of a concatenation as a surname.
SURNAME_ENDINGS = ("ova", "eva", "ov", "ev", "ski", "ska", "sky", "son", "sen", "ez", "ian",
                   "yan", "enko", "chuk", "vich", "vic", "escu", "poulos", "idis", "akis",
                   "shvili", "dze", "oglu", "ini", "elli", "etti", "mann", "berg", "stein")
CONCAT_MIN_LANGUAGES = 2
"""A first name or surname from Faker alone is tried in a concatenation if this many
languages list it (Census first names always are)..."""
CONCAT_LONG_FIRST_LEN = 6
"""... or, for a first name, if it is at least this long (``priyanka``)."""
CONCAT_LAST_MIN_SHARE = 1e-5
"""Census surnames borne by at least this share of people lead a last+first concatenation."""

FAKER_LOCALES: tuple[str, ...] = (
    # Latin script, by language: Azerbaijani .. Zulu.
    "az_AZ", "cs_CZ", "da_DK", "de_AT", "de_CH", "de_DE", "de_LI", "de_LU",
    "en", "en_GB", "en_IE", "en_IN", "en_KE", "en_NG", "en_NZ", "en_PK", "en_TH", "en_US",
    "es", "es_AR", "es_CA", "es_CL", "es_CO", "es_ES", "es_MX", "et_EE", "fi_FI",
    "fr_BE", "fr_CA", "fr_CH", "fr_DZ", "fr_FR", "fr_QC", "ga_IE", "ha_NG", "hr_HR", "hu_HU",
    "id_ID", "ig_NG", "is_IS", "it_IT", "lt_LT", "lv_LV", "nl_BE", "nl_NL", "no_NO", "pl_PL",
    "pt_BR", "pt_PT", "ro_RO", "sk_SK", "sl_SI", "sv_SE", "sw", "tr_TR", "tw_GH", "uz_UZ",
    "vi_VN", "yo_NG", "zu_ZA",
    # Their romanized lists only (the kanji, kana and hanzi lists are skipped).
    "ja_JP", "zh_CN", "zh_TW",
)
"""Faker person providers whose name lists are read (see the module docstring)."""

_FAKER_PERSON = "faker.providers.person"
# Provider attributes holding first names or surnames: first_names, first_names_female,
# last_names_male, first_romanized_names, unisex_last_names (pl_PL), last_names_est, ...
# Not: first_kana_names, first_name_pairs, last_names_without_suffix (is_IS stems),
# middle_names, prefixes.
_FAKER_ATTR_RE = re.compile(
    r"(?:(?:male|female|unisex)_)?(first|last)(?:_romanized)?_names"
    r"(?:_(?:male|female|unisex|nonbinary|common|est|rus|female_only|male_only))?")

_FOLD = str.maketrans({"ß": "ss", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D",
                       "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ı": "i", "þ": "th",
                       "ə": "e", "Ə": "E"})
# A placeholder (``{id}``) is matched as one token so that it separates its neighbours.
_TOKEN_RE = re.compile(r"\{[^}]*\}|[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_LOWER_TOKEN_RE = re.compile(r"\{[^}]*\}|[a-z]+")
_NON_LETTERS_RE = re.compile(r"[^a-z]+")


def _fold(text: str) -> str:
    """ASCII letters only where possible: ``Zoë`` -> ``Zoe``, ``Müller`` -> ``Muller``."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return decomposed.encode("ascii", "ignore").decode("ascii")


@dataclass(frozen=True, slots=True)
class NameData:
    """The name sets, built once by :func:`load_name_data`.

    ``first`` and ``last`` hold name tokens only (names used more as names than as words);
    ``concat_first`` the frequent first names tried in a concatenation (first+last or
    last+first), ``concat_last`` the frequent surnames tried at the start of one (last+first;
    any surname of ``last`` may end a first+last run); ``split_words`` the English words that
    would otherwise split like a concatenation.
    """

    first: frozenset[str]
    last: frozenset[str]
    concat_first: frozenset[str]
    concat_last: frozenset[str]
    split_words: frozenset[str]
    words: frozenset[str]
    load_seconds: float


def _census(file: str) -> dict[str, float]:
    """A Census 1990 ``dist.*`` file: ``NAME  percent  cumulative  rank`` -> share of people."""
    text = (importlib.resources.files("names") / file).read_text(encoding="ascii")
    shares: dict[str, float] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 4:
            name = fields[0].lower()
            shares[name] = max(shares.get(name, 0.0), float(fields[1]) / 100)
    return shares


def _name_keys(name: str) -> tuple[str, ...]:
    """A Faker name as lookup keys: ``de Vries`` -> ``devries``, ``vries``; ``Zoë`` -> ``zoe``.

    The parts run together, and each part of at least :data:`FAKER_MIN_LEN` letters on its
    own (so particles such as ``de``, ``van``, ``mac`` and suffixes such as ``ii`` are not
    names by themselves). A name in another script, or with a letter that does not fold to
    ASCII, gives nothing.
    """
    if name.isascii():
        folded = name.lower()
    else:
        if any(c.isalpha() and not unicodedata.name(c, "").startswith("LATIN") for c in name):
            return ()
        folded = _fold(name).lower()
        if sum(c.isalpha() for c in folded) < sum(c.isalpha() for c in name):
            return ()
    parts = [part for part in _NON_LETTERS_RE.split(folded) if part]
    if len(parts) == 1:
        return (parts[0],)
    return ("".join(parts), *(part for part in parts if len(part) >= FAKER_MIN_LEN))


def _faker_names() -> tuple[dict[str, int], dict[str, int]]:
    """First names and surnames of :data:`FAKER_LOCALES` -> number of languages listing each.

    Reads the class attributes of each locale's ``faker.providers.person`` provider as data;
    no generator is built and nothing random runs. The language is the locale's prefix
    (``de`` for ``de_AT``, ``de_CH``, ...), so that copies between locales count once.
    """
    languages: tuple[dict[str, set[str]], dict[str, set[str]]] = ({}, {})
    imported_before = set(sys.modules)
    try:
        for locale in FAKER_LOCALES:
            provider = importlib.import_module(f"{_FAKER_PERSON}.{locale}").Provider
            _read_provider(provider, locale.split("_")[0], languages)
    finally:
        _forget_provider_modules(imported_before)
    first, last = languages
    return ({n: len(langs) for n, langs in first.items()},
            {n: len(langs) for n, langs in last.items()})


def _read_provider(provider: type, language: str,
                   languages: tuple[dict[str, set[str]], dict[str, set[str]]]) -> None:
    for attr in dir(provider):
        match = _FAKER_ATTR_RE.fullmatch(attr)
        values = getattr(provider, attr) if match else None
        if match is None or not isinstance(values, tuple | list | dict):
            continue  # a property (es_CL computes first_names from the two lists)
        target = languages[match.group(1) == "last"]
        for name in values:
            for key in _name_keys(name):
                if len(key) >= FAKER_MIN_LEN:
                    target.setdefault(key, set()).add(language)


def _forget_provider_modules(imported_before: set[str]) -> None:
    """Drop the person-provider modules this load imported, so that their lists (~13 MiB)
    are freed; a module something else had imported stays."""
    package = sys.modules.get(_FAKER_PERSON)
    for module in set(sys.modules) - imported_before:
        parent, _, child = module.rpartition(".")
        if parent == _FAKER_PERSON:
            del sys.modules[module]
            if package is not None and getattr(package, child, None) is not None:
                delattr(package, child)
    gc.collect()  # provider classes sit in reference cycles (their MRO)


def _english_counts() -> tuple[dict[str, int], int]:
    path = importlib.resources.files("spellchecker") / "resources" / "en.json.gz"
    with path.open("rb") as raw, gzip.open(raw) as fh:
        counts = json.load(fh)
    return counts, sum(counts.values())


CACHE_FIELDS = ("first", "last", "concat_first", "concat_last", "split_words", "words")
"""The :class:`NameData` sets kept in the on-disk cache."""


@functools.cache
def load_name_data() -> NameData:
    """The name sets, once per process: from the on-disk cache when it holds the sets built
    by this very code from these very packages, else built (:func:`build_name_data`) and
    written there for the next process.

    The cache is a JSON file of the sorted name lists, each list one string of names
    separated by spaces (public name and word lists, no event data), under
    ``$XDG_CACHE_HOME/deidentify`` (default ``~/.cache/deidentify``), named by a SHA-256 of
    this module's source, the versions of ``names``, ``faker`` and ``pyspellchecker``,
    Python's version and its Unicode database version (folding), so a change to any of them
    builds afresh. It is written atomically (a temporary file, then a rename) with mode
    0600; a cache that is missing, unreadable, malformed or not an object of those strings
    is ignored and rebuilt, and an unwritable cache directory only costs the build. Reading
    it takes ~0.03 s of CPU against ~1 s to build. JSON, not pickle: reading
    the file runs no code. Whoever can write to the cache directory can change the name
    sets (and so what the ``person_name`` detector finds), as whoever can write to the
    installed packages can.
    """
    started = time.process_time()
    path = _cache_path()
    if path is not None:
        cached = _read_cache(path)
        if cached is not None:
            return NameData(**cached, load_seconds=time.process_time() - started)
    data = build_name_data()
    if path is not None:
        _write_cache(path, data)
    return data


def _cache_path() -> str | None:
    try:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                 ".cache")
        key = hashlib.sha256()
        with open(__file__, "rb") as fh:
            key.update(fh.read())
        for dist in ("names", "faker", "pyspellchecker"):
            key.update(f"\0{dist}={importlib.metadata.version(dist)}".encode())
        key.update(f"\0{sys.version}\0{unicodedata.unidata_version}".encode())
    except (OSError, importlib.metadata.PackageNotFoundError):
        return None
    if not os.path.isabs(base):
        return None                  # no home directory: no cache
    return os.path.join(base, "deidentify", f"names-{key.hexdigest()[:32]}.json")


def _read_cache(path: str) -> dict[str, frozenset[str]] | None:
    try:
        with open(path, "rb") as fh:
            raw = json.loads(fh.read())
    except (OSError, ValueError):
        return None
    if type(raw) is not dict or set(raw) != set(CACHE_FIELDS):
        return None
    out: dict[str, frozenset[str]] = {}
    for name in CACHE_FIELDS:
        text = raw[name]
        if type(text) is not str:
            return None
        out[name] = frozenset(text.split(" ")) if text else frozenset()
    return out


def _write_cache(path: str, data: NameData) -> None:
    # One string per set, its sorted names joined by spaces (which JSON does not escape):
    # reading it back is one JSON string and one split per set. No name holds a space
    # (else nothing is written, and the next process builds the sets again).
    sets = {name: sorted(getattr(data, name)) for name in CACHE_FIELDS}
    if any(" " in item for items in sets.values() for item in items):
        return
    payload = json.dumps({name: " ".join(items) for name, items in sets.items()},
                         separators=(",", ":")).encode()
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def build_name_data() -> NameData:
    """Read the name packages and build the frozensets (no cache; see :func:`load_name_data`)."""
    started = time.process_time()
    census_first = _census("dist.female.first")
    for name, share in _census("dist.male.first").items():
        census_first[name] = max(census_first.get(name, 0.0), share)
    census_last = _census("dist.all.last")
    faker_first, faker_last = _faker_names()
    counts, total = _english_counts()
    threshold = WORD_TO_NAME_RATIO * total

    def name_token(name: str) -> bool:
        if len(name) < MIN_TOKEN_LEN or not name.isalpha():
            return False
        languages = max(faker_first.get(name, 0), faker_last.get(name, 0), 1)
        share = max(census_first.get(name, 0.0), census_last.get(name, 0.0),
                    RARE_NAME_SHARE * languages)
        return counts.get(name, 0) <= threshold * share

    first = frozenset(n for n in census_first.keys() | faker_first.keys() if name_token(n))
    last = frozenset(n for n in census_last.keys() | faker_last.keys() if name_token(n))
    concat_first = frozenset(
        n for n in first
        if len(n) >= CONCAT_PART_MIN_LEN
        and (n in census_first or faker_first.get(n, 0) >= CONCAT_MIN_LANGUAGES
             or len(n) >= CONCAT_LONG_FIRST_LEN))
    concat_last = frozenset(
        n for n in last
        if len(n) >= CONCAT_PART_MIN_LEN
        and (census_last.get(n, 0.0) >= CONCAT_LAST_MIN_SHARE
             or faker_last.get(n, 0) >= CONCAT_MIN_LANGUAGES))
    split_words = frozenset(
        word for word in counts
        if len(word) >= 2 * CONCAT_PART_MIN_LEN and word.isascii() and word.isalpha()
        and _splits(word, concat_first, last, concat_last))
    words = frozenset(w for w in counts
                      if len(w) >= UNKNOWN_MIN_LEN and w.isascii() and w.isalpha())
    return NameData(first=first, last=last, concat_first=concat_first,
                    concat_last=concat_last, split_words=split_words, words=words,
                    load_seconds=time.process_time() - started)


def _splits(token: str, first: frozenset[str], last: frozenset[str],
            concat_last: frozenset[str]) -> bool:
    """Is ``token`` a first name + a surname, or a ``concat_last`` surname + a first name?

    Each part has at least 3 letters; ``first`` holds the frequent first names only.
    """
    for cut in range(CONCAT_PART_MIN_LEN, len(token) - CONCAT_PART_MIN_LEN + 1):
        head = token[:cut]
        if head in first or head in concat_last:
            tail = token[cut:]
            if (head in first and tail in last) or (head in concat_last and tail in first):
                return True
    return False


def is_person_name_token(word: str) -> bool:
    """Is ``word`` (any case, accents folded) a first name or surname used mainly as a name?

    For vocabulary checks: a shipped list of route words should hold no word for which this
    is true. ``john``, ``smith``, ``priyanka``, ``mark`` -> True; ``orders``, ``page``,
    ``will``, ``status`` -> False. A word that is not purely letters is never a token.
    """
    data = load_name_data()
    token = _fold(word).lower() if not word.isascii() else word.lower()
    return token in data.first or token in data.last


class NameDetector:
    """Finds person names in compound forms (see the module docstring).

    Build once (the first build in a process loads the name data); :meth:`find` only splits
    the text and looks tokens up in frozensets.
    """

    __slots__ = ("_first", "_last", "_concat_first", "_concat_last", "_split_words", "_words")

    def __init__(self, data: NameData | None = None) -> None:
        data = data if data is not None else load_name_data()
        self._first = data.first
        self._last = data.last
        self._concat_first = data.concat_first
        self._concat_last = data.concat_last
        self._split_words = data.split_words
        self._words = data.words

    def find(self, text: str) -> bool:
        """True when ``text`` holds a person's name in one of the compound forms."""
        if "%" in text:
            text = unquote(unquote(text))
        if not text.isascii():
            text = _fold(text)
        first, last = self._first, self._last
        lower = text.islower()  # no upper-case letter: no CamelCase to split
        previous = ""
        for token in (_LOWER_TOKEN_RE if lower else _TOKEN_RE).findall(text):
            if len(token) < MIN_TOKEN_LEN:
                continue
            if token[0] == "{":
                previous = ""
                continue
            if not lower:
                token = token.lower()
            if previous and ((previous in first and token in last)
                             or (previous in last and token in first)
                             or self._name_and_unknown(previous, token)):
                return True
            if len(token) >= 2 * CONCAT_PART_MIN_LEN and self._concatenation(token):
                return True
            previous = token
        return False

    def _unknown(self, token: str) -> bool:
        """A token no list knows: no name, no English word, long enough to be a name."""
        return (len(token) >= UNKNOWN_MIN_LEN and token not in self._words
                and token not in self._first and token not in self._last)

    def _name_and_unknown(self, a: str, b: str) -> bool:
        """A frequent first name or surname next to a name from outside the lists."""
        return (self._frequent_name(a) and self._unknown(b)) or \
            (self._frequent_name(b) and self._unknown(a))

    def _frequent_name(self, token: str) -> bool:
        # 4+ letters: short surnames (``ogg``, ``lee``) next to a tool's name are no person
        return len(token) >= UNKNOWN_HEAD_MIN_LEN and (
            token in self._concat_first or token in self._concat_last)

    def _concatenation(self, token: str) -> bool:
        if token in self._split_words or token in self._first or token in self._last:
            return False
        if token in self._words:
            return False
        if _splits(token, self._concat_first, self._last, self._concat_last):
            return True
        # a frequent first name running on into a surname no list knows, recognised by a
        # surname ending (johnivanova, annakowalska): without the ending, compounds such as
        # chan + gelog would split
        if token.endswith(SURNAME_ENDINGS):
            for cut in range(UNKNOWN_HEAD_MIN_LEN, len(token) - UNKNOWN_MIN_LEN + 1):
                if token[:cut] in self._concat_first and self._unknown(token[cut:]):
                    return True
        return False

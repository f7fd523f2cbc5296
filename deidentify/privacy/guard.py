"""Privacy layer 5: the output guard, the last look at every string about to be published.

Layers 1-4 decide *which* cells exist; the guard asks one more question of every string in a
cell (dimension keys and values, and long integers): does it look like personal data or a
secret? A hit means the pipeline drops the whole cell and counts ``Detector.value``.

Invariants
----------
- The result is a :class:`Detector` or ``None``. Never a boolean, never the matched text: the
  guard does not log, print, raise with, store or return any part of a value it inspects.
- Fail closed. When in doubt the guard hits; a false hit costs one dropped cell and a counter,
  a miss leaks. In particular a **tenant id that looks like a random token** (for example
  ``t_8f3k2j9d0s7a6q5w4e3r``) hits :attr:`Detector.TOKEN` and its cells are dropped: tenant
  ids are published as dimensions, so the guard cannot tell an opaque-but-random tenant id
  from a session id. Pick readable tenant ids (``acme-corp``, ``tenant_42``) or expect
  ``guard_hit{detector="high_entropy_token"}`` for that tenant. Likewise a four-part version
  string (``1.2.3.4``) is an IPv4 address to the guard.
- ``allow`` strings (placeholders such as ``{ip}`` and ``__other__``) are exempt only when
  they are the *whole* value; they are never substrings that excuse the rest.
- Deterministic and stateless: the same value gives the same answer in every process, so
  the regional sidecar and the central collector (layer 6) agree.
- A value that is exactly an RFC 3339 date or timestamp (a window bound) is safe as a whole
  and skips the numeric detectors.

Detectors, in the order they run (cheap, specific detectors first; first hit wins)
----------------------------------------------------------------------------------
``email``
    ``local@domain.tld`` in any case, also with ``@`` percent-encoded (``%40``, ``%2540``).
    The TLD is letters (or ``xn--`` punycode); ``user@localhost`` does not hit.
``ipv4``
    A dotted quad anywhere in the string whose four parts are each 0-255 (leading zeros
    allowed), not glued to further digits.
``ipv6``
    A run of hex digits, ``:`` and ``.`` holding ``::`` or at least six colons, not glued
    to word characters (so ``std::vec`` does not count), optionally with a ``%zone`` id, that
    :class:`ipaddress.IPv6Address` accepts: full, ``::``-compressed, bracketed
    (``[2001:db8::1]:443``), IPv4-suffixed.
``jwt``
    Three base64url segments separated by dots where the first starts with ``eyJ`` (the
    signature may be empty), or any three base64url segments of >= 10 characters that each
    mix at least two of upper case, lower case and digits.
``iban``
    Two letters, two check digits and the country's registered length of letters and
    digits, single spaces allowed, passing the ISO 13616 mod-97 check.
``card_number``
    13-19 digits, optionally grouped by single spaces or dashes, passing the Luhn check.
    Every run of whole groups is tried, so a card number next to other numbers still hits.
``phone``
    E.164: ``+`` and 8-15 digits with optional spaces, dashes, dots or parentheses (a plain
    signed decimal like ``+12345.678`` does not count). National: North American
    ``(415) 555-0132`` / ``415-555-0132`` / ``415.555.0132`` / ``1-415-555-0132``, and
    trunk-prefix numbers ``020 7946 0958`` / ``07700 900123`` / ``01 23 45 67 89`` (a ``0``,
    at least one separator, 9-15 digits). Bare digit strings never count as phone numbers:
    they are indistinguishable from amounts and counts.
``high_entropy_token``
    Within each run of ``[A-Za-z0-9_+/=-]``:

    - a UUID (``8-4-4-4-12`` hex), or >= 16 consecutive hex digits with at least one digit
      and one letter (hashes, hex session ids);
    - a run (or a ``/``, ``+`` or ``=`` separated piece of it) of >= 20 characters that
      mixes at least two of upper case, lower case and digits, has a Shannon entropy of at
      least 3.0 bits per character, and is not word-like. Word-likeness is measured by
      character-class *switches* (letter/digit, lower-to-upper, and upper-to-lower after an
      acronym of two or more capitals) counted within the stretches between ``_ + / = -``:
      a token switches on at least 25 % of its letters and digits, or on at least 10 % when
      it is also unpronounceable (fewer than 25 % vowels, five consonants in a row, or a
      stretch of >= 20 capitals and digits with no separator, i.e. base32). Identifiers made
      of words (``checkout_session_completed``, ``PaymentIntentSucceeded``,
      ``/v1/billing/invoices/upcoming/lines``) switch rarely; API keys, session ids,
      ``tok_1N3xYz...`` payment tokens and base64 switch constantly.

    Measured on 20,000 uniformly random tokens per alphabet: missed at 24 / 32 characters
    base62 0.02 % / 0 %, base64url 0.1 % / 0.03 %, lower-case base36 1.6 % / 0.6 %,
    upper-case base32 5 % / 2 % (the misses are draws with at most one digit, which read
    like words). Of 52,612 distinct identifiers of >= 20 characters in a Python
    installation (standard library and installed packages), 0.3 % hit, all of them
    abbreviation-heavy names such as ``testRecvmsgIntoScatter``.
``person_name``
    A person's name in a compound form: first and last name side by side in either order
    (``alice.smith``, ``priya_ashworth``, ``JohnSmith``, ``Alice%20Smith``,
    ``/ashworth/ignatius/avatar.png``, ``john_smith_london``, ``jane-doe.dev``) or run
    together (``johnsmith``, ``smithjohn``), from name lists of well-kept packages. Runs
    last, on every value of six characters or more. Rules, data, trade-offs and measured
    false-positive rates: :mod:`deidentify.privacy.names`.

What it cannot catch
--------------------
- A single name (``/users/alice``), street addresses and free text: one word is just a
  word. Names whose parts are mostly English words (``will.smith``: see
  :mod:`deidentify.privacy.names`) pass too. Keeping those out is the job of layers 1-3 (no
  copy-this-string dimension exists, route literals fail closed, and a cell needs k
  distinct subjects).
- Letter-only or nearly letter-only random strings (one case, at most one digit) look like
  words; so do short secrets (< 16 characters, < 20 unless hex) and secrets split by
  other characters.
- Floats, booleans and integers shorter than 12 digits are not inspected by :meth:`scan`;
  a phone number stored as a bare integer is not recognisable (see above).

Cost
----
Memory: about twenty compiled regular expressions and the IBAN length table, built once
per guard (tens of kilobytes, ~5 us to construct); nothing is kept per value. CPU: linear
in the length of the value. Every detector is gated by a substring test or a digit count
done in C (``@``, ``.``, ``::``, a minimum number of digits, a 16-character run), and values
shorter than six characters only look for ``::``, so the common case is cheap. Measured
on the 2-core development machine (CPython 3.11, process time): ``GET`` 65 ns,
``/v1/orders/{id}`` 220 ns, ``/v1/orders/{id}/items`` 400 ns, ``stripe.com`` 220 ns,
``2026-11-20T10:00:00Z`` 650 ns, ``checkout_session_completed`` 650 ns; hits cost more
(email 0.5 us, IPv4 0.6 us, phone 1.8 us, JWT 2.3 us, IPv6 2.9 us, IBAN 3.0 us, card
3.7 us, token 5.9 us) and are rare; ``scan`` of a three-dimension cell 1.8 us.
The name detector loads its name sets once per process (about 1 s of CPU, ~20 MiB kept with
the ``faker`` package it reads them from, shared by every guard) and adds 1-5 us per value
of six characters or more: ``scan`` of a three-dimension cell went from 3.0 us to 11.0 us
(figures in
:mod:`deidentify.privacy.names`).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Iterable

from deidentify.contract import Detector as Detector  # re-exported; defined in contract
from deidentify.privacy.names import NameDetector

__all__ = ["Detector", "OutputGuard"]


# Integers with at least this many digits are checked as strings by ``scan`` (13-19 digit
# card numbers; shorter integers are counts and sums).
SCAN_INT_MIN_DIGITS = 12

# --- thresholds of the token detector (see the module docstring) ------------------------
TOKEN_MIN_LEN = 20
HEX_MIN_LEN = 16
TOKEN_MIN_ENTROPY_BITS = 3.0
TOKEN_MIN_SWITCH_RATIO = 0.25
TOKEN_MIN_SWITCH_RATIO_UNPRONOUNCEABLE = 0.10
TOKEN_MAX_VOWEL_RATIO_UNPRONOUNCEABLE = 0.25

# --- card numbers and phone numbers ---------------------------------------------------------
CARD_MIN_DIGITS = 13
CARD_MAX_DIGITS = 19
E164_MIN_DIGITS = 8
TRUNK_PHONE_MIN_DIGITS = 9
TRUNK_PHONE_MAX_DIGITS = 15

# ISO 13616 IBAN lengths by country (SWIFT IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
    "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
    "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    "YE": 30,
}  # fmt: skip

# Character classes for the token detector's switch count: digit, upper, lower; the
# separators inside a token run break a stretch.
_CLASS_OF = bytes.maketrans(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_+/=-",
    b"d" * 10 + b"u" * 26 + b"l" * 26 + b" " * 5,
)
_SWITCH_BIGRAMS = (b"dl", b"ld", b"du", b"ud", b"lu", b"uul")
_VOWELS = "aeiouAEIOU"
_ASCII_DIGITS = b"0123456789"
_SCAN_INT_BOUND = 10 ** (SCAN_INT_MIN_DIGITS - 1)
# Luhn: a doubled digit contributes the digit sum of its double.
_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")
# ISO 13616: A=10 ... Z=35.
_IBAN_LETTER_VALUES = {ord(c): str(10 + i) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}


class OutputGuard:
    """Checks strings about to be published for personal data and secrets.

    ``allow``: exact values that are known-safe (placeholders such as ``{ip}``,
    ``__other__``); they are exempt only as whole values.

    All patterns are compiled here, once; :meth:`check` and :meth:`scan` only call them.
    """

    __slots__ = (
        "_allow", "_email", "_ipv4", "_ipv6", "_jwt_eyj", "_jwt_generic", "_iban_start",
        "_iban_body", "_card_chain", "_e164", "_nanp", "_trunk", "_run", "_hex", "_uuid",
        "_phone_groups", "_iso_timestamp", "_token_piece_split", "_consonants", "_caps_stretch",
        "_names",
    )  # fmt: skip

    def __init__(self, *, allow: Iterable[str] = ()) -> None:
        allow = tuple(allow)
        for item in allow:
            if not isinstance(item, str):
                raise TypeError("OutputGuard allow entries must be strings")
        self._allow = frozenset(allow)

        local = r"[\w.!#$%&'*+/=?^`{|}~-]"
        self._email = re.compile(
            rf"(?<={local})(?:@|%(?:25)*40)(?:[\w-]++\.)+(?:xn--[\w-]+|[^\W\d_]{{2,}})",
            re.IGNORECASE,
        ).search
        octet = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])"
        self._ipv4 = re.compile(rf"(?<![0-9]){octet}\.{octet}\.{octet}\.{octet}(?![0-9])").search
        self._ipv6 = re.compile(
            r"(?<![\w:.])(?=[0-9A-Fa-f.]*:)[0-9A-Fa-f:.]++(?:%[\w.~-]+)?+(?![\w%])"
        ).finditer
        seg = r"[A-Za-z0-9_=-]"
        self._jwt_eyj = re.compile(rf"(?<!{seg})eyJ{seg}*+\.{seg}++\.").search
        self._jwt_generic = re.compile(
            rf"(?<!{seg})(?=({seg}{{10,}}+)\.({seg}{{10,}}+)\.({seg}{{10,}}+))"
        ).finditer
        self._iban_start = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})([0-9]{2})").finditer
        self._iban_body = re.compile(r"(?: ?[A-Za-z0-9]){11,30}").match
        # Starts only at the first digit of a chain (not after a digit, nor after digit+sep).
        self._card_chain = re.compile(r"(?<!\d)(?<!\d[ -])\d(?:[ -]?\d){12,}").finditer
        self._e164 = re.compile(r"\+\d(?:[ .()-]{0,2}\d){7,14}(?!\d)").finditer
        self._nanp = re.compile(
            r"(?<![\w.+-])(?:1[ .-])?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w.:-])"
        ).search
        self._trunk = re.compile(
            r"(?<![\w.+-])(?:\(0\d{1,4}\)|0\d{1,4})(?:[ .-]\d{2,8}){1,4}(?![\w.:-])"
        ).finditer
        self._phone_groups = re.compile(r"[ .()-]+").split
        # The look-behinds make each scan linear: only the start of a run is tried.
        self._run = re.compile(rf"(?<![A-Za-z0-9_+/=-])[A-Za-z0-9_+/=-]{{{HEX_MIN_LEN},}}").search
        self._hex = re.compile(rf"(?<![0-9A-Fa-f])[0-9A-Fa-f]{{{HEX_MIN_LEN},}}").finditer
        self._uuid = re.compile(
            r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
        ).search
        self._iso_timestamp = re.compile(
            r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
            r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
            r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
        ).fullmatch
        self._token_piece_split = re.compile(r"[/+=]+").split
        self._caps_stretch = re.compile(
            rf"(?<![A-Za-z0-9])[A-Z0-9]{{{TOKEN_MIN_LEN},}}(?![A-Za-z0-9])"
        ).findall
        self._consonants = re.compile(
            r"[B-DF-HJ-NP-TV-XZb-df-hj-np-tv-xz][b-df-hj-np-tv-xz]{4}"
        ).search
        self._names = NameDetector().find   # name sets: loaded once per process, shared

    # ------------------------------------------------------------------------------ API

    def check(self, value: str) -> Detector | None:
        """Return the first detector that hits ``value``, or ``None`` when it looks safe."""
        if value in self._allow:
            return None
        n = len(value)
        if n < 6:
            # Nothing fits in five characters except a compressed IPv6 address ("::1").
            if "::" in value and self._has_ipv6(value):
                return Detector.IPV6
            return None
        if ("@" in value or "%" in value) and self._email(value):
            return Detector.EMAIL
        if value.isascii():
            digits = n - len(value.encode().translate(None, _ASCII_DIGITS))
        else:
            digits = sum(map(str.isdecimal, value))
        if "." in value:
            if digits >= 4 and self._ipv4(value):
                return Detector.IPV4
            if n >= 20 and self._has_jwt(value):
                return Detector.JWT
        # An IPv6 address has "::" or at least six colons; "10:00:00" has neither.
        if ":" in value and ("::" in value or value.count(":") >= 6) and self._has_ipv6(value):
            return Detector.IPV6
        if n < 9:  # every other remaining detector needs nine characters ("+12345678")
            return Detector.PERSON_NAME if self._names(value) else None
        if digits >= 8 and self._iso_timestamp(value):
            return None  # a whole RFC 3339 date or timestamp, e.g. a window bound
        if digits >= 2 and n >= 15 and self._has_iban(value):
            return Detector.IBAN
        if digits >= CARD_MIN_DIGITS and self._has_card(value):
            return Detector.CARD
        if digits >= E164_MIN_DIGITS and self._has_phone(value, digits):
            return Detector.PHONE
        if n >= HEX_MIN_LEN and self._has_token(value, digits):
            return Detector.TOKEN
        if self._names(value):
            return Detector.PERSON_NAME
        return None

    def scan(self, obj: object) -> Detector | None:
        """Walk ``obj`` (dict keys and values, lists, tuples, sets) and return the first hit.

        Strings are checked with :meth:`check`; integers with at least
        ``SCAN_INT_MIN_DIGITS`` digits are checked as their decimal string. Floats,
        booleans and ``None`` carry no text. Any other object is checked as ``str(obj)``
        (fail closed).
        """
        stack = [obj]
        pop, push = stack.pop, stack.extend
        while stack:
            item = pop()
            if isinstance(item, str):
                hit = self.check(item)
            elif isinstance(item, dict):
                children = [child for pair in item.items() for child in pair]
                children.reverse()
                push(children)
                continue
            elif isinstance(item, list | tuple):
                push(reversed(item))
                continue
            elif isinstance(item, bool | float) or item is None:
                continue
            elif isinstance(item, int):
                if -_SCAN_INT_BOUND < item < _SCAN_INT_BOUND:
                    continue
                hit = self.check(str(abs(item)))
            elif isinstance(item, set | frozenset):
                push(sorted(item, key=repr, reverse=True))
                continue
            else:
                hit = self.check(str(item))
            if hit is not None:
                return hit
        return None

    # ------------------------------------------------------------------------ detectors

    def _has_ipv6(self, value: str) -> bool:
        for match in self._ipv6(value):
            candidate = match.group()
            if candidate.count(":") < 2:
                continue
            if _is_ipv6(candidate) or (candidate.endswith(".") and _is_ipv6(candidate.rstrip("."))):
                return True
        return False

    def _has_jwt(self, value: str) -> bool:
        if "eyJ" in value and self._jwt_eyj(value):
            return True
        if value.count(".") < 2:
            return False
        for match in self._jwt_generic(value):
            if all(_class_count(segment) >= 2 for segment in match.groups()):
                return True
        return False

    def _has_iban(self, value: str) -> bool:
        for start in self._iban_start(value):
            country = start.group(1).upper()
            length = IBAN_LENGTHS.get(country)
            if length is None:
                continue
            body = self._iban_body(value, start.end())
            if body is None:
                continue
            bban = body.group().replace(" ", "")[: length - 4]
            if len(bban) == length - 4 and _iban_mod97(country, start.group(2), bban.upper()):
                return True
        return False

    def _has_card(self, value: str) -> bool:
        for match in self._card_chain(value):
            chain = match.group()
            if chain.isdecimal():
                if len(chain) <= CARD_MAX_DIGITS and _luhn_ok(chain):
                    return True
                continue
            groups = chain.replace("-", " ").split(" ")
            for start in range(len(groups)):
                number = ""
                for group in groups[start:]:
                    number += group
                    if len(number) > CARD_MAX_DIGITS:
                        break
                    if len(number) >= CARD_MIN_DIGITS and _luhn_ok(number):
                        return True
        return False

    def _has_phone(self, value: str, digits: int) -> bool:
        if "+" in value:
            for match in self._e164(value):
                text = match.group()
                if text.count(".") == 1 and not any(sep in text for sep in " ()-"):
                    continue  # a signed decimal number such as +12345.678
                return True
        if digits >= 10 and self._nanp(value):
            return True
        if "0" in value:
            for match in self._trunk(value):
                total = 0
                for index, group in enumerate(self._phone_groups(match.group().strip("("))):
                    total += len(group)
                    if index and TRUNK_PHONE_MIN_DIGITS <= total <= TRUNK_PHONE_MAX_DIGITS:
                        return True
        return False

    def _has_token(self, value: str, digits: int) -> bool:
        find_run = self._run
        match = find_run(value)
        while match is not None:
            run = match.group()
            if len(run) >= 36 and self._uuid(run):
                return True
            if digits:  # a hex token mixes digits and letters
                for hex_match in self._hex(run):
                    hex_run = hex_match.group()
                    if not hex_run.isdecimal() and not hex_run.isalpha():
                        return True
            # A token mixes classes: snake_case and SCREAMING_CASE words without digits do not.
            if len(run) >= TOKEN_MIN_LEN and (digits or not (run.islower() or run.isupper())):
                if self._token_like(run):
                    return True
                if "/" in run or "+" in run or "=" in run:
                    for piece in self._token_piece_split(run):
                        if len(piece) >= TOKEN_MIN_LEN and self._token_like(piece):
                            return True
            match = find_run(value, match.end())
        return False

    def _token_like(self, run: str) -> bool:
        classes = run.encode().translate(_CLASS_OF)  # runs are ASCII by construction
        if (b"d" in classes) + (b"u" in classes) + (b"l" in classes) < 2:
            return False
        alnum = len(run) - classes.count(b" ")
        ratio = sum(classes.count(bigram) for bigram in _SWITCH_BIGRAMS) / alnum
        if ratio < TOKEN_MIN_SWITCH_RATIO:
            if ratio < TOKEN_MIN_SWITCH_RATIO_UNPRONOUNCEABLE:
                return False
            if not self._unpronounceable(run, classes):
                return False
        return _entropy_bits(run) >= TOKEN_MIN_ENTROPY_BITS

    def _unpronounceable(self, run: str, classes: bytes) -> bool:
        letters = classes.count(b"u") + classes.count(b"l")
        vowels = sum(run.count(vowel) for vowel in _VOWELS)
        if vowels < TOKEN_MAX_VOWEL_RATIO_UNPRONOUNCEABLE * letters or self._consonants(run):
            return True
        # SCREAMING_CASE identifiers separate their words; 20 upper-case letters and digits
        # in one stretch are base32 (TOTP secrets, access key ids).
        for stretch in self._caps_stretch(run):
            if not stretch.isalpha() and not stretch.isdecimal():
                return True
        return False


# ------------------------------------------------------------------------------ helpers


def _is_ipv6(candidate: str) -> bool:
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _class_count(text: str) -> int:
    return (
        any(c.isdigit() for c in text)
        + any(c.isupper() for c in text)
        + any(c.islower() for c in text)
    )


def _entropy_bits(text: str) -> float:
    """Shannon entropy of the character distribution of ``text``, in bits per character."""
    n = len(text)
    return math.log2(n) - sum(c * math.log2(c) for c in Counter(text).values()) / n


def _luhn_ok(number: str) -> bool:
    if not number.isascii():
        number = "".join(str(int(c)) for c in number)  # other scripts' decimal digits
    backwards = number[::-1]
    kept = sum(map(int, backwards[0::2]))
    doubled = sum(map(int, backwards[1::2].translate(_LUHN_DOUBLED)))
    return (kept + doubled) % 10 == 0


def _iban_mod97(country: str, check_digits: str, bban: str) -> bool:
    if not "02" <= check_digits <= "98":
        return False
    return int((bban + country + check_digits).translate(_IBAN_LETTER_VALUES)) % 97 == 1

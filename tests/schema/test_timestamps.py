"""Event-time parsing: the memoized ``parse_ts_ms`` equals the ``fromisoformat`` one it
replaced, value for value and rejection for rejection (differential test), and its memos
stay bounded."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from deidentify.contract import DropReason
from deidentify.schema import compile as compile_mod
from deidentify.schema import default_schema_dir, load_schemas
from deidentify.schema.compile import INVALID_TIMESTAMP, Rejected, parse_ts_ms

REJECTED = "rejected"
SECOND_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")


def spec_parse_ts_ms(value: Any) -> int:
    """The specification: ``parse_ts_ms`` as it was before the memos (frozen copy)."""
    tv = type(value)
    if tv is int:
        if 0 < value < 10_000_000_000_000:
            return value
        raise Rejected(INVALID_TIMESTAMP)
    if tv is float:
        if 0 < value < 1e13 and value == value:
            return int(value)
        raise Rejected(INVALID_TIMESTAMP)
    if tv is str and 10 <= len(value) <= 40:
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise Rejected(INVALID_TIMESTAMP) from None
        if dt.tzinfo is None or "T" not in value.upper():
            raise Rejected(INVALID_TIMESTAMP)  # RFC 3339 needs a time and an offset
        return int(dt.timestamp() * 1000)
    raise Rejected(INVALID_TIMESTAMP)


def outcome(fn: Any, value: Any) -> Any:
    try:
        return fn(value)
    except Rejected as rej:
        assert rej.reason is INVALID_TIMESTAMP
        return REJECTED


def assert_same(value: Any) -> None:
    want = outcome(spec_parse_ts_ms, value)
    # Twice: the first call may learn the parts, the second then answers from the memos.
    assert outcome(parse_ts_ms, value) == want, value
    got = outcome(parse_ts_ms, value)
    assert got == want and type(got) is type(want), value


# --------------------------------------------------------------------------- strategies

DIGITS = "0123456789"
ODD_DIGITS = ("\u0663", "\uff12", "\u00b2", "\u0969")   # Arabic-Indic 3, fullwidth 2, ², ३


def _field(draw: st.DrawFn, width: int, lo: int, hi: int, edges: tuple[int, ...]) -> str:
    n = draw(st.one_of(st.integers(lo, hi), st.sampled_from(edges)))
    return str(n).zfill(width)[-width:]


@st.composite
def rfc3339_like(draw: st.DrawFn) -> str:
    """Mostly valid RFC 3339 strings of the memo shape, with random fields (some just out
    of range), fractions of 0-9 digits and every kind of offset."""
    year = _field(draw, 4, 1, 9999, (0, 1, 1969, 1970, 2000, 2024, 2026, 9999))
    month = _field(draw, 2, 1, 12, (0, 1, 2, 12, 13))
    day = _field(draw, 2, 1, 28, (0, 29, 30, 31, 32))
    hour = _field(draw, 2, 0, 23, (0, 23, 24))
    minute = _field(draw, 2, 0, 59, (0, 59, 60))
    second = _field(draw, 2, 0, 59, (0, 59, 60))
    n_fraction = draw(st.sampled_from((0, 0, 1, 2, 3, 3, 3, 4, 5, 6, 6, 7, 8, 9)))
    fraction = "".join(draw(st.lists(st.sampled_from(DIGITS), min_size=n_fraction,
                                     max_size=n_fraction)))
    fraction = "." + fraction if n_fraction else draw(st.sampled_from(("", "", "", ".")))
    zone = draw(st.one_of(
        st.sampled_from(("Z", "Z", "+00:00", "-00:00", "+01:00", "-05:00", "+05:30",
                         "+23:59", "-23:59", "+24:00", "+00:60", "z", "+0100", "+01",
                         "+01:00:30", "", " Z", "Z ")),
        st.builds(lambda sign, h, m: f"{sign}{h:02d}:{m:02d}", st.sampled_from("+-"),
                  st.integers(0, 24), st.integers(0, 60))))
    return f"{year}-{month}-{day}T{hour}:{minute}:{second}{fraction}{zone}"


@st.composite
def near_miss(draw: st.DrawFn) -> str:
    """A valid-looking string with one character replaced, inserted or removed."""
    value = draw(rfc3339_like())
    at = draw(st.integers(0, len(value)))
    char = draw(st.one_of(st.sampled_from(("t", "z", " ", "_", "-", "+", ":", ".", ",", "T",
                                           "Z", "0", "9", "\n", "\x00", *ODD_DIGITS)),
                          st.characters()))
    how = draw(st.sampled_from(("replace", "insert", "delete")))
    if how == "replace":
        return value[:at] + char + value[at + 1:]
    if how == "insert":
        return value[:at] + char + value[at:]
    return value[:at] + value[at + 1:]


@st.composite
def around_epoch_us(draw: st.DrawFn) -> str:
    """Exact instants written with a random offset, over the whole datetime range."""
    lo = datetime(1, 1, 2, tzinfo=UTC)
    hi = datetime(9999, 12, 30, tzinfo=UTC)
    instant = draw(st.datetimes(min_value=lo.replace(tzinfo=None),
                                max_value=hi.replace(tzinfo=None)))
    minutes = draw(st.integers(-(24 * 60 - 1), 24 * 60 - 1))
    tz = timezone(timedelta(minutes=minutes))
    digits = draw(st.sampled_from((0, 1, 2, 3, 6)))
    local = instant.replace(tzinfo=UTC).astimezone(tz)
    text = local.isoformat(timespec={0: "seconds", 3: "milliseconds", 6: "microseconds"}
                           .get(digits, "microseconds"))
    if digits in (1, 2):                               # trim a 6-digit fraction to 1-2 digits
        text = text[:20 + digits] + text[26:]
    return text[:-6] + "Z" if text.endswith("+00:00") and draw(st.booleans()) else text


# --------------------------------------------------------------------------- tests

COMMON = ["2026-11-20T10:00:01.123Z", "2026-11-20T10:00:01.123+01:00", "2026-11-20T10:00:01Z",
          "2026-11-20T10:00:01.123-05:00", "2026-11-20T10:00:01+05:30"]
EDGES = ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00-23:59",
         "9999-12-31T23:59:59.999-23:59", "9999-12-31T23:59:59.999999Z", "1970-01-01T00:00:00Z",
         "1969-12-31T23:59:59.999Z", "1970-01-01T00:00:00.001+00:00", "2024-02-29T12:00:00Z",
         "2026-02-29T12:00:00Z", "2026-02-30T12:00:00Z", "2026-13-01T00:00:00Z",
         "0000-01-01T00:00:00Z", "2026-11-20T24:00:00Z", "2026-11-20T10:60:00Z",
         "2026-11-20T10:00:60Z", "2026-11-20t10:00:01Z", "2026-11-20T10:00:01z",
         "2026-11-20 10:00:01Z", "2026-11-20T10:00:01.Z", "2026-11-20T10:00:01.+01:00",
         "2026-11-20T10:00:01,123Z", "2026-11-20T10:00:01.1234567Z", "2026-11-20T10:00:01+0100",
         "2026-11-20T10:00:01+00:60", "2026-11-20T10:00:01+24:00", "2026-11-20T10:00:01+01",
         "2026-11-20T10:00:01", "2026-11-20", "20261120T100001Z", "2026-11-20T10:00:0\u06631Z",
         "2026-11-20T10:00:01.\u0663Z", "\u0662026-11-20T10:00:01Z", "2026-11-20T10:00:01.1_0Z",
         "2026-11-20T10:00:01. 12Z", "2026-11-20T10:00:01Z\n", "2026-11-20T10:00:01.123ZZ",
         "2026-11-20T10:00:01+01:00+01:00", "2026-11-20T10:00:01Z+01:00",
         # past 2**53 microseconds, where a float division (us / 1e6) would differ:
         "5453-05-20T08:39:52.429Z", "4479-05-31T07:52:10.009Z", "9051-06-08T19:39:00.786Z",
         "", "Z", 0, -1,
         1, 10**13, 10**13 - 1, 1.5, float("nan"), float("inf"), None, True, b"2026", [], {}]


@pytest.mark.parametrize("value", COMMON + EDGES, ids=repr)
def test_equals_spec_on_named_shapes(value):
    assert_same(value)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(rfc3339_like(), near_miss(), around_epoch_us()))
@example(value="2026-11-20T10:00:01.123Z")
def test_equals_spec_on_generated_strings(value):
    assert_same(value)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(st.text(max_size=45), st.integers(), st.floats()))
def test_equals_spec_on_any_value(value):
    assert_same(value)


@given(us=st.integers(
    (datetime(1, 1, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC))
    // timedelta(microseconds=1),
    (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
     - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)))
def test_aware_timestamp_is_exact_microseconds_over_a_million(us):
    """What the memos rely on: an aware datetime's timestamp() is its exact microsecond
    count since the epoch divided by 10**6 with int / int (correctly rounded)."""
    at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
    assert at.timestamp() == us / 1_000_000


def _clear_memos() -> None:
    for memo in (compile_mod.TS_SECOND_US, compile_mod.TS_TAIL_US, compile_mod.TS_MS_US,
                 compile_mod.TS_SUB_US):
        memo.clear()


def test_common_shapes_are_remembered_and_others_are_not():
    _clear_memos()
    for value in COMMON:
        parse_ts_ms(value)
    assert set(compile_mod.TS_SECOND_US) == {"2026-11-20T10:00:01"}
    assert set(compile_mod.TS_TAIL_US) == {".123Z", ".123+01:00", "Z", ".123-05:00",
                                           "+05:30"}
    for value in EDGES:
        outcome(parse_ts_ms, value)
    for value in ("2026-11-20T10:00:01.123456Z", "2026-11-20T10:00:01.123456+00:00"):
        assert outcome(parse_ts_ms, value) == outcome(spec_parse_ts_ms, value)
    seconds, tails = set(compile_mod.TS_SECOND_US), set(compile_mod.TS_TAIL_US)
    assert all(SECOND_SHAPE.fullmatch(k) for k in seconds)
    assert "2026-11-20T10:00:60" not in seconds and "0000-01-01T00:00:00" not in seconds
    assert "2026-02-30T12:00:00" not in seconds and "2024-02-29T12:00:00" in seconds
    assert tails <= {".123Z", ".123+01:00", "Z", ".123-05:00", "+05:30", "+23:59", "-23:59",
                     ".999-23:59", "+00:00", ".001+00:00", ".999Z", ".429Z", ".009Z", ".786Z"}
    # 4-6 fraction digits: the milliseconds and the rest, each in its own memo; 7+ digits
    # (".1234567Z") leave no rest behind
    assert set(compile_mod.TS_SUB_US) == {"999Z", "456Z", "456+00:00"}
    assert set(compile_mod.TS_MS_US) <= {".123", ".999", ".429", ".009", ".786", ".001"}
    assert compile_mod.TS_SUB_US["456+00:00"] == 456 and compile_mod.TS_MS_US[".123"] == 123000


def test_microsecond_strings_are_answered_inline_from_the_memos(monkeypatch):
    """After the first, a string with a 6-digit fraction never reaches parse_ts_ms."""
    calls = []

    def counted(value):
        calls.append(value)
        return parse_ts_ms(value)

    monkeypatch.setitem(compile_mod.EXTRACT_RUNTIME, "parse_ts_ms", counted)
    billing = next(cs for cs in load_schemas(default_schema_dir()).compiled
                   if cs.name == "billing_totals")
    _clear_memos()
    for value in ("2026-11-20T10:00:01.123456Z", "2026-11-20T10:00:01.123457+01:00",
                  "2026-11-20T10:00:01.1234-05:30", "2026-11-20T10:00:01.12345Z"):
        event = {"type": "billing_charge", "ts": value, "tenant_id": "acme",
                 "customer_id": "cus_1", "currency": "EUR", "amount_minor": 100}
        want = spec_parse_ts_ms(value)
        assert billing.extract(event).ts_ms == want
        assert calls == [value]
        assert billing.extract(event).ts_ms == want
        assert calls == [value]
        calls.clear()


def test_memos_stay_bounded(monkeypatch):
    monkeypatch.setattr(compile_mod, "TS_SECONDS_MAX", 50)
    monkeypatch.setattr(compile_mod, "TS_TAILS_MAX", 40)
    monkeypatch.setattr(compile_mod, "TS_SUBS_MAX", 30)
    _clear_memos()
    start = datetime(2026, 11, 20, tzinfo=UTC)
    for i in range(1000):
        at = start + timedelta(seconds=i * 7, microseconds=i * 1001)
        for spec in ("milliseconds", "microseconds"):
            value = at.isoformat(timespec=spec).replace("+00:00", "Z" if i % 2 else "+00:00")
            assert parse_ts_ms(value) == spec_parse_ts_ms(value)
        assert len(compile_mod.TS_SECOND_US) <= 50
        assert len(compile_mod.TS_TAIL_US) <= 40
        assert len(compile_mod.TS_SUB_US) <= 30
        assert len(compile_mod.TS_MS_US) <= 1000
    assert compile_mod.TS_SECOND_US and compile_mod.TS_TAIL_US   # still in use
    assert compile_mod.TS_SUB_US and compile_mod.TS_MS_US


def test_memos_stay_bounded_at_the_shipped_limits():
    _clear_memos()
    for i in range(compile_mod.TS_SECONDS_MAX + 10):
        offset = f"{'+-'[i % 2]}{i % 24:02d}:{i % 60:02d}"
        second = (datetime(2026, 11, 20) + timedelta(seconds=i)).isoformat()
        parse_ts_ms(f"{second}.{i % 1000:03d}{offset}")
        parse_ts_ms(f"{second}.{i % 997:03d}{i % 1000:03d}{offset}")
        assert len(compile_mod.TS_SECOND_US) <= compile_mod.TS_SECONDS_MAX
        assert len(compile_mod.TS_TAIL_US) <= compile_mod.TS_TAILS_MAX
        assert len(compile_mod.TS_SUB_US) <= compile_mod.TS_SUBS_MAX
    assert len(compile_mod.TS_SECOND_US) < compile_mod.TS_SECONDS_MAX   # it was cleared


BILLING = load_schemas(default_schema_dir())
BILLING_TOTALS = next(cs for cs in BILLING.compiled if cs.name == "billing_totals")


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(st.sampled_from([v for v in COMMON + EDGES if type(v) is str]),
                      rfc3339_like(), around_epoch_us()))
def test_generated_extractors_read_ts_as_the_spec(value):
    """The generated extractors answer memoized strings inline: same value, same rejection,
    over dicts and over the allowlist decoder's Structs."""
    event = {"type": "billing_charge", "ts": value, "tenant_id": "acme",
             "customer_id": "cus_1", "currency": "EUR", "amount_minor": 100}
    want = outcome(spec_parse_ts_ms, value)
    want = INVALID_TIMESTAMP if want == REJECTED else want
    line = orjson.dumps(event)
    for _ in range(2):                  # learning, then answering from the memos
        got = BILLING_TOTALS.extract(event)
        assert (got if type(got) is DropReason else got.ts_ms) == want
        decoded, targets = BILLING.decoder.read(line)
        (cs, extract), = [t for t in targets if t[0] is BILLING_TOTALS]
        got = extract(decoded)
        assert (got if type(got) is DropReason else got.ts_ms) == want

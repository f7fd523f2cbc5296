"""The allowlist decoder reaches the reference's outcome on every raw line (differential).

Reference (the executable specification): ``orjson.loads`` of the whole line, the type
lookup, then ``CompiledSchema.extract_reference`` of each schema of that type. Decoded path:
:meth:`EventDecoder.read` (msgspec Structs holding only the named fields, with its fallback)
and the generated Struct extractors. Same reason, same extraction, for every line.
"""

from __future__ import annotations

import json
import math

import msgspec
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deidentify.schema import SchemaSet
from deidentify.schema.compile import INVALID_JSON, NOT_AN_OBJECT, UNKNOWN_TYPE, schema_paths
from deidentify.schema.decoder import EventDecoder
from tests.helpers import schema_file
from tests.schema.test_codegen import BASES, EDGE_VALUES, FIELDS, SETS, extra_shapes
from tests.strategies import garbage_event, hostile_event, raw_line

# One event type whose schemas read "user" as a leaf (a subject) and "user.id" below it, and
# "type" itself (the tag) as an enum dimension.
LEAF_AND_PARENT = ["""\
name: by_user
version: 1
description: user read as a leaf
source: {type: http_request, topic: raw.a}
window: {size: 60s}
dimensions:
  kind: {type: enum, field: type, values: [http_request]}
measures:
  lat: {type: sum, field: latency_ms, min: 0, max: 1000}
privacy:
  subjects: [user]
  k: 1
""", """\
name: by_user_id
version: 1
description: user.id below it
source: {type: http_request, topic: raw.a}
window: {size: 60s}
dimensions:
  method: {type: enum, field: method, values: [GET]}
measures:
  n: {type: count_if, field: user.id, equals: u1}
privacy:
  subjects: [user.id, type.x]
  k: 1
"""]


def _leaf_and_parent_set() -> SchemaSet:
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp:
        schemas = [schema_file(Path(tmp) / f"s{i}.yaml", text)
                   for i, text in enumerate(LEAF_AND_PARENT)]
        return SchemaSet.from_schemas(schemas, "leaf-and-parent")


SETS = [*SETS, _leaf_and_parent_set()]


def dumps_any(event) -> bytes:
    """The event as a JSON line; stdlib json where orjson refuses (integers beyond 64 bits,
    which hostile events may hold and a line on the wire may carry)."""
    try:
        return orjson.dumps(event)
    except TypeError:
        return json.dumps(event).encode()


def reference_outcome(schemas, value: bytes):
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError:
        return INVALID_JSON
    if type(event) is not dict:
        return NOT_AN_OBJECT
    etype = event.get("type")
    targets = schemas.by_type.get(etype) if type(etype) is str else None
    if targets is None:
        return UNKNOWN_TYPE
    return tuple((cs.name, cs.extract_reference(event)) for cs in targets)


def decoded_outcome(decoder: EventDecoder, value: bytes):
    got = decoder.read(value)
    if isinstance(got, str):       # a DropReason (a str enum)
        return got
    obj, targets = got
    return tuple((cs.name, extract(obj)) for cs, extract in targets)


def took_decoded_path(decoder: EventDecoder, value: bytes) -> bool:
    got = decoder.read(value)
    return not isinstance(got, str) and isinstance(got[0], msgspec.Struct)


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is float and math.isnan(a):
        return math.isnan(b)
    return a == b


def assert_same(value: bytes) -> None:
    for schemas in SETS:
        want = reference_outcome(schemas, value)
        got = decoded_outcome(schemas.decoder, value)
        assert _same(got, want), (schemas.directory, value[:200], got, want)


# ----------------------------------------------------------------------- generated lines


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(event=st.one_of(hostile_event(), garbage_event(), extra_shapes()))
def test_decoded_equals_reference_on_hostile_events_as_bytes(event):
    assert_same(dumps_any(event))


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(line=raw_line())
def test_decoded_equals_reference_on_raw_lines(line):
    assert_same(line)


# ----------------------------------------------------------------------- edge table, as bytes

# Raw JSON texts spliced in as a field's value: what orjson and msgspec might read apart.
RAW_VALUES = [
    b"0", b"-0", b"-0.0", b"1.0", b"1E2", b"2.5e-3", b"1e308", b"true", b"false", b"null",
    b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808",
    b"-9223372036854775809", b"18446744073709551615", b"18446744073709551616",
    b"123456789012345678901234567890", b"1e-400",
    b'""', b'"GET"', b'"\\u0047ET"', b'"acme"', b'"ac\\u006de"', b'"caf\xc3\xa9"',
    b'"\\ud83d\\ude00"', b'"a\\u0000b"', b'"2026-11-20T10:00:00Z"', b'"\\/v1\\/x\\/1"',
    b"[]", b"{}", b'{"id":"u1"}', b'{"id":"u1","id":7}', b'{"id":7,"id":"u2"}',
    b'{"ok":true,"deep":{"n":3,"who":7}}', b'{"deep":{"n":2.5,"n":2}}', b"[1,{\"a\":2}]",
    # refused by both (invalid JSON / UTF-8 / escapes / control characters)
    b'"\xff\xfe"', b'"\xed\xa0\x80"', b'"\xc0\x80"', b'"\\ud800"', b'"\\udfff x"', b'"\\x41"',
    b'"a\x01b"', b'"\t"', b"NaN", b"Infinity", b"01", b"1.", b".5", b"+1", b"tru", b"[1,]",
    b"{\"a\":1,}", b"'x'",
    # nesting around the parsers' limits (orjson: 1024 levels in all)
    b"[" * 1021 + b"]" * 1021, b"[" * 1022 + b"]" * 1022, b"[" * 1023 + b"]" * 1023,
    b"[" * 1100 + b"]" * 1100, b'{"a":' * 1022 + b"1" + b"}" * 1022,
    b'{"a":' * 1030 + b"1" + b"}" * 1030, b"[" * 100_000 + b"]" * 100_000,
]
# Beyond the float range: refused by orjson anywhere; the decoded path refuses it only in a
# field a schema reads, and skips it elsewhere (the documented deliberate difference).
OUT_OF_RANGE = [b"1e400", b"-1e400", b"1.8e308", b"1" + b"0" * 400, b"1e0000000000000000309"]
UNLISTED = "zz_unlisted"


def _line(base: dict, replace: dict[str, bytes], *, dup_first: dict[str, bytes] | None = None,
          extra: dict[str, bytes] | None = None) -> bytes:
    parts = []
    for key, value in base.items():
        raw = replace.get(key, orjson.dumps(value))
        if dup_first and key in dup_first:
            parts.append(orjson.dumps(key) + b":" + dup_first[key])
        parts.append(orjson.dumps(key) + b":" + raw)
    for key, raw in (extra or {}).items():
        parts.append(orjson.dumps(key) + b":" + raw)
    return b"{" + b",".join(parts) + b"}"


def test_decoded_equals_reference_for_every_field_and_edge_value_as_bytes():
    compared = decoded_path = 0
    for base in BASES:
        for field in FIELDS:
            for value in EDGE_VALUES:
                event = dict(base)
                event[field] = value
                line = orjson.dumps(event)
                assert_same(line)
                compared += 1
                decoded_path += took_decoded_path(SETS[0].decoder, line)
    assert compared > 1000
    assert decoded_path > compared // 4     # the table exercises the decoded path itself


def test_raw_values_in_every_field_unlisted_field_and_duplicates():
    compared = 0
    for base in BASES:
        for raw in RAW_VALUES:
            lines = [_line(base, {}, extra={UNLISTED: raw}),
                     _line(base, {}, extra={"user": raw}),
                     _line(base, {}, extra={"meta": b'{"zz":' + raw + b',"ok":true}'})]
            for field in base:
                lines.append(_line(base, {field: raw}))
                lines.append(_line(base, {}, dup_first={field: raw}))     # last wins
                lines.append(_line(base, {field: raw}, dup_first={field: orjson.dumps(
                    base[field])}))
            for line in lines:
                assert_same(line)
                compared += 1
    assert compared > 2000


def _listed(schemas, etype: str) -> set[str]:
    """The paths the schemas read, and their parents (both are decoded)."""
    paths = {p for cs in schemas.by_type.get(etype, ()) for p in schema_paths(cs.schema)}
    return paths | {p.rsplit(".", i)[0] for p in paths for i in range(1, p.count(".") + 1)}


def test_out_of_range_number_in_an_unlisted_field_is_skipped_like_the_field():
    """The deliberate difference: orjson refuses the whole line; the decoded path reads it
    as if the unlisted field held any other number, and refuses it where a schema reads it."""
    skipped = refused = 0
    for base in BASES:
        for raw in OUT_OF_RANGE:
            cases = [(UNLISTED, _line(base, {}, extra={UNLISTED: raw}),
                      _line(base, {}, extra={UNLISTED: b"0"})),
                     ("meta.zz", _line(base, {}, extra={"meta": b'{"zz":' + raw + b"}"}),
                      _line(base, {}, extra={"meta": b'{"zz":0}'}))]
            cases += [(field, _line(base, {field: raw}), _line(base, {field: b"0"}))
                      for field in base if field != "type"]
            for path, line, with_zero in cases:
                for schemas in SETS:
                    assert reference_outcome(schemas, line) == INVALID_JSON
                    got = decoded_outcome(schemas.decoder, line)
                    if base["type"] not in schemas.by_type:   # the reference decides
                        assert got == INVALID_JSON
                    elif path in _listed(schemas, base["type"]):
                        assert got == INVALID_JSON, (path, raw)
                        refused += 1
                    else:
                        assert _same(got, decoded_outcome(schemas.decoder, with_zero))
                        skipped += 1
    assert skipped > 50 and refused > 50


def test_duplicate_keys_last_value_wins_at_every_depth():
    decoder = SETS[0].decoder          # the shipped schemas
    base = BASES[0]
    line = _line(base, {"method": b'"POST"'}, dup_first={"method": b'"GET"'})
    ((_, x),) = decoded_outcome(decoder, line)
    assert x.dims[0] == "POST"
    line = _line(base, {"user": b'{"id":"u1","id":"u2"}'})
    ((_, x),) = decoded_outcome(decoder, line)
    assert x.subject == "u2"
    # a duplicate "type": the last one decides which schemas read the event
    line = b'{"type":"billing_charge",' + _line(base, {})[1:]
    assert decoded_outcome(decoder, line)[0][0] == "http_requests"
    line = _line(base, {})[:-1] + b',"type":"billing_charge"}'
    assert decoded_outcome(decoder, line)[0][0] == "billing_totals"
    # an escaped key is the same key
    line = _line(base, {}, extra={"m\\u0065thod": b'"DELETE"'}).replace(b"\\\\u", b"\\u")
    ((_, x),) = decoded_outcome(decoder, line)
    assert x.dims[0] == "DELETE"


def test_unlisted_fields_never_become_python_objects():
    decoder = SETS[0].decoder
    line = _line(BASES[0], {}, extra={"user_agent": b'"Mozilla secret-ua"',
                                      "headers": b'{"authorization":"Bearer secret"}'})
    obj, _ = decoder.read(line)
    assert isinstance(obj, msgspec.Struct)
    values = [getattr(obj, f) for f in obj.__struct_fields__]
    assert "secret" not in repr(values)
    assert "user_agent" not in type(obj).__struct_encode_fields__


def test_invalid_utf8_anywhere_is_invalid_json():
    decoder = SETS[0].decoder
    for bad in (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82"):
        for where in (UNLISTED, "url", "route", "method"):
            line = _line(BASES[0], {}, extra={where: b'"x' + bad + b'"'})
            assert decoder.read(line) == INVALID_JSON


def test_a_field_read_as_a_leaf_and_as_a_parent():
    decoder = SETS[-1].decoder
    for user in (b'"u1"', b"7", b'{"id":"u1"}', b'{"id":"u1","id":"u2"}', b"[1]", b"null"):
        line = _line(BASES[0], {"user": user})
        assert took_decoded_path(decoder, line)
        assert_same(line)


def test_an_empty_schema_set_decodes_nothing():
    decoder = EventDecoder(())
    assert decoder.read(orjson.dumps(BASES[0])) == UNKNOWN_TYPE
    assert decoder.read(b"[1]") == NOT_AN_OBJECT

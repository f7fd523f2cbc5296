"""The generated batch loop (deidentify/batchloop.py): inlining each event type's
extract+add into the loop changes nothing: the same accepted counts, drops, valid counts,
offsets, watermarks and aggregates as calling the fused function per event."""

from __future__ import annotations

import io
import tempfile
import tokenize
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deidentify import batchloop
from deidentify.batchloop import build_batch_loop
from deidentify.pipeline import Pipeline
from deidentify.schema import SchemaSet, default_schema_dir, load_schemas
from deidentify.schema.decoder import MAX_DEPTH, too_deep_for_msgspec
from tests.helpers import COUNTS_SCHEMA, MINUTE, T0, call, schema_file
from tests.strategies import hostile_event, raw_line

SHIPPED = load_schemas(default_schema_dir(), k_floor=1)


def _pipelines(schemas: SchemaSet, now_ms: int) -> tuple[Pipeline, Pipeline]:
    inlined = Pipeline(schemas, region="eu", now_ms=lambda: now_ms)
    called = Pipeline(schemas, region="eu", now_ms=lambda: now_ms)
    called.inline_bodies = False
    return inlined, called


def _state(p: Pipeline) -> tuple:
    return (p.events_in, p.drops, p.valid, p.safe_offsets(), p.closed_through(),
            p.rolled_up, p.windows._stream_time)


def _aggregates(p: Pipeline, closed: list) -> list[bytes]:
    return sorted(a.key + orjson.dumps(a.value, option=orjson.OPT_SORT_KEYS) for a in closed)


def _same_run(inlined: Pipeline, called: Pipeline, batches: list[list[bytes]]) -> None:
    offset = 0
    for i, lines in enumerate(batches):
        batch = [(offset + j, line) for j, line in enumerate(lines)]
        offset += len(lines)
        partition = i % 2
        assert inlined.process_batch(iter(batch), partition) == \
            called.process_batch(iter(batch), partition)
        assert _state(inlined) == _state(called)
        # close what is due between batches, so that later events of a closed window are late
        assert _aggregates(inlined, inlined.close_due()) == _aggregates(called,
                                                                       called.close_due())
    assert _aggregates(inlined, inlined.close_all()) == _aggregates(called, called.close_all())
    assert _state(inlined) == _state(called)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batches=st.lists(st.lists(st.one_of(raw_line(), hostile_event().map(orjson.dumps)),
                                 max_size=15), min_size=1, max_size=4))
def test_inlined_loop_equals_the_fused_calls(batches):
    inlined, called = _pipelines(SHIPPED, T0 + 10 * MINUTE)
    assert inlined._batch_loop(inlined._decoder).inlined == 3
    assert called._batch_loop(called._decoder).inlined == 0
    _same_run(inlined, called, batches)


def test_late_future_and_rejected_events_are_counted_alike():
    """Every kind of return of the fused body: accepted, rejected by extraction, future,
    late (its window closed), raised (Rejected), and a line the decoder refuses."""
    schemas = SchemaSet.from_schemas([_schema("calls")], "/nonexistent")
    inlined, called = _pipelines(schemas, T0 + 10 * MINUTE)
    first = [call(T0 + 1000), call(T0 + 2000, method="PATCH"), call(T0, tenant_id="a b"),
             call(T0, ts="yesterday"), call(T0, bytes="12"), call(T0 + 60 * MINUTE),
             b"{broken", call(T0 + 5 * MINUTE)]
    late = [call(T0 + 3000), call(T0 + 5 * MINUTE + 1), None, b"x" * (2 * 1024 * 1024)]
    _same_run(inlined, called, [first, late])
    assert inlined.drops[("calls", "late")] == 1
    assert inlined.drops[("calls", "future_timestamp")] == 1


def _schema(name: str, event_type: str = "call"):
    text = COUNTS_SCHEMA.format(k=1, grace="10s", cap=500, max_cells=2000)
    text = text.replace("name: calls", f"name: {name}").replace("type: call", f"type: {event_type}")
    with tempfile.TemporaryDirectory() as tmp:
        return schema_file(Path(tmp) / f"{name}.yaml", text)


def test_two_schemas_on_one_event_type_take_the_generic_branch():
    schemas = SchemaSet.from_schemas([_schema("calls"), _schema("calls_again"),
                                      _schema("others", "other_call")], "/nonexistent")
    inlined, called = _pipelines(schemas, T0 + 10 * MINUTE)
    assert inlined._batch_loop(inlined._decoder).inlined == 1     # other_call only
    lines = [call(T0 + i * 1000, method=m) for i, m in enumerate(["GET", "PUT", "HEAD"])]
    lines += [orjson.dumps({**orjson.loads(line), "type": "other_call"}) for line in lines]
    _same_run(inlined, called, [lines, lines])
    assert inlined.valid == {"calls": 6, "calls_again": 6, "others": 6}


def test_bodies_are_inlined_only_in_the_generated_shape():
    def fused(event, partition, offset, horizon):    # not generated: no __source__
        return None

    cls = type("S9", (), {})
    target = SHIPPED.compiled[0]
    assert build_batch_loop({cls: ((target, fused),)}).inlined == 0
    # a body that uses a name of the loop as its own local is not inlined either
    fused.__source__ = "\n".join([
        "def extract_add(event, partition, offset, horizon):", "    try:",
        "        late = 1", "        return None", "    except Rejected as rej:",
        "        return rej.reason", ""])
    fused.__globals__["Rejected"] = Exception
    try:
        assert build_batch_loop({cls: ((target, fused),)}).inlined == 0
        # nor one whose return shares a line with an if (it could not become continue)
        fused.__source__ = fused.__source__.replace("late = 1", "if event: return 1")
        assert build_batch_loop({cls: ((target, fused),)}).inlined == 0
        fused.__source__ = fused.__source__.replace("if event: return 1", "x = 1")
        assert build_batch_loop({cls: ((target, fused),)}).inlined == 1
    finally:
        del fused.__globals__["Rejected"]


def test_the_loop_source_holds_no_schema_text():
    """Names in the generated loop come from the generated code, never from a schema:
    field names, enum values and schema names stay out of its source."""
    p = Pipeline(SHIPPED, region="eu")
    source = p._batch_loop(p._decoder).__source__
    for cs in SHIPPED.compiled:
        assert cs.name not in source
        for dim in cs.schema.dimensions:
            assert f"'{dim.field}'" not in source and f'"{dim.field}"' not in source
            for value in dim.values or ():
                assert repr(value) not in source


# --------------------------------------------------------------------------- name renaming


def spec_renamed(body: list[str], names: set[str], prefix: str):
    """The specification of ``batchloop._renamed``: what it did with Python's ``tokenize``
    before a regular expression replaced it (frozen copy)."""
    source = "if 1:\n" + "\n".join(body) + "\n"
    edits, used, returns, previous = [], set(), 0, None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.NAME and not (
                    previous is not None and previous.type == tokenize.OP
                    and previous.string == "."):
                if tok.string in names:
                    edits.append(tok.start)
                    used.add(tok.string)
                elif tok.string in batchloop._LOOP_NAMES:
                    return None
                elif tok.string == "return":
                    returns += 1
            previous = tok
    except (tokenize.TokenError, IndentationError):
        return None
    if returns != sum(1 for line in body if batchloop._RETURN.match(line)):
        return None
    out = source.split("\n")
    for row, col in reversed(edits):
        out[row - 1] = out[row - 1][:col] + prefix + out[row - 1][col:]
    return out[1:-1], used


def _fused_bodies(schemas: SchemaSet):
    p = Pipeline(schemas, region="eu")
    by_class = p._batch_loop(p._decoder).__globals__["by_class"]
    for targets in by_class.values():
        for _cs, fused in targets:
            body = batchloop._body(fused)
            if body is not None:
                yield body, {name for name in fused.__globals__ if name.isidentifier()}


def test_renaming_equals_tokenize_on_generated_bodies():
    sets = [SHIPPED, SchemaSet.from_schemas([_schema("calls")], "/nonexistent")]
    bodies = [body for schemas in sets for body in _fused_bodies(schemas)]
    assert len(bodies) == 4
    for body, names in bodies:
        got = batchloop._renamed(body, names, "I7_")
        assert got is not None
        assert got == spec_renamed(body, names, "I7_")


GLOBALS = ("OTHER", "MISSING", "KNOWN_IDS", "DIM_0", "parse_ts_ms", "M0_LO")
_atoms = st.one_of(
    st.sampled_from(GLOBALS + ("v", "d0", "event", "x1", "return_", "_OTHER", "OTHER2")),
    st.sampled_from(GLOBALS + ("f3", "get", "late")).map(lambda n: f"event.{n}"),
    st.sampled_from(GLOBALS + ("?", "a b", "it's", "#", "x\\y")).map(repr),
    st.sampled_from(GLOBALS).map(lambda n: f'"{n}"'),
    st.sampled_from(("1", "1e5", "0x1f", "10000000000000", "1.5")))


@st.composite
def _expression(draw, depth: int = 0) -> str:
    atoms = draw(st.lists(_atoms if depth else st.one_of(_atoms, _expression(1)),
                          min_size=1, max_size=4))
    ops = draw(st.lists(st.sampled_from((" + ", " is ", " in ", " and ", " if v else ", ", ")),
                        min_size=len(atoms) - 1, max_size=len(atoms) - 1))
    text = atoms[0] + "".join(op + a for op, a in zip(ops, atoms[1:], strict=True))
    return f"({text})" if depth else text


@st.composite
def _line(draw) -> str:
    kind = draw(st.sampled_from(("assign", "return", "if", "comment", "loop-name")))
    expr = draw(_expression())
    if kind == "assign":
        return f"        {draw(st.sampled_from(('v', 'd0', 'OTHER', 'x1')))} = {expr}"
    if kind == "return":
        return f"        return {expr}"
    if kind == "if":
        return f"        if {expr}: pass  # {draw(st.sampled_from(GLOBALS))}"
    if kind == "comment":
        return f"        # {expr}"
    return f"        {draw(st.sampled_from(('n', 'late', 'drop', 'value')))} = {expr}"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.lists(_line(), min_size=1, max_size=6))
def test_renaming_equals_tokenize_on_generated_lines(body):
    names = set(GLOBALS)
    assert batchloop._renamed(body, names, "I3_") == spec_renamed(body, names, "I3_")


def test_renaming_refuses_what_it_cannot_read():
    names = {"OTHER"}
    for line in ("        v = f'{OTHER}'", "        v = b'x'", "        v = '''x'''",
                 "        v = OTHER + \\"):
        assert batchloop._renamed([line], names, "I0_") is None, line
    assert batchloop._renamed(["        v = OTHER"], names, "I0_") == (
        ["        v = I0_OTHER"], {"OTHER"})


def test_batch_locals_merge_with_what_the_reference_path_writes():
    """The inlined branch counts into locals and the reference path into the lists, in the
    same batch: the received count adds up and stream time is the maximum of both."""
    schemas = SchemaSet.from_schemas([_schema("calls")], "/nonexistent")
    p = Pipeline(schemas, region="eu", now_ms=lambda: T0 + 10 * MINUTE)
    source = p._batch_loop(p._decoder).__source__
    assert "r0 += 1" in source and "I0_RECEIVED[0] += 1" not in source
    # brackets in a string: not deep, but the depth check sends it down the reference path
    via_reference = call(T0 + 9000, note="[" * (2 * MAX_DEPTH + 2))
    assert too_deep_for_msgspec(via_reference)
    for latest_last in (False, True):
        batch = [call(T0 + 1000), via_reference, call(T0 + 2000)]
        if latest_last:
            batch = [via_reference.replace(b"9000", b"3000"), call(T0 + 12_000)]
        p.process_batch(iter(enumerate(batch)), latest_last)
    assert p.valid == {"calls": 5}
    assert p.windows._stream_time == {False: T0 + 9000, True: T0 + 12_000}

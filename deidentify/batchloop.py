"""The per-record loop of :meth:`deidentify.pipeline.Pipeline.process_batch`, generated once
per allowlist decoder, with each event type's extract+add inlined.

:meth:`deidentify.window.WindowAggregator.extract_adder` fuses a schema's generated extractor
and its window ``add`` into one function, ``(event, partition, offset, horizon) -> None |
reason``. Calling it costs a Python call per event, and its constants are module globals of
its own namespace. This module writes the batch loop itself as source: the size cap, the
UTF-8 check, the depth check and the allowlist decode, then a branch per decoded class whose
body is that class's fused function, its constants bound once per batch as locals, and its
``return`` statements turned into ``continue`` (accepted) or a drop followed by
``continue``. Nothing else changes: the same checks in the same order, the same state, the
same drops. ``Pipeline.inline_bodies = False`` runs every event through the fused functions
instead; the differential tests compare both (``tests/test_batchloop.py``).

A class is inlined only when it has exactly one schema and its fused function has the
generated shape (``try:`` / body / ``except Rejected``), no loop statement, and no local name
the loop uses. Any other class (two schemas on one event type, say) takes the generic branch:
the fused functions called one after the other, as before. Names are taken from the fused
function's own namespace (renamed with a per-class prefix), never from a schema.

Batch locals: the window state a fused body keeps in small lists for the whole batch (its
schema's received count, the batch's stream time, its hot window: see
``WindowAggregator._add_body``) is read into locals of the loop before the first record,
and the count and stream time are written back after the last one (in a ``finally``), so
that an event updates a local instead of a list item (:func:`_batch_locals`). Meanwhile
the lists take what the generic branch and the reference path write: a received count adds
up and stream time is a maximum, so both sides merge into the same state; a hot window is a
cache of ``start -> window`` that stays right for the whole batch (windows close between
batches, and ``begin_batch`` clears it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from deidentify.contract import DropReason
from deidentify.schema.compile import INVALID_JSON, TOO_LARGE
from deidentify.schema.decoder import DECODE_ERRORS, DEEP_MIN_BYTES, too_deep_for_msgspec

NO_SCHEMA = "-"          # schema label for drops that happen before a schema is known

# (records, partition, horizon, decode, reference, drop, max_bytes)
#     -> (records seen, late events, last offset)
BatchLoop = Callable[..., tuple[int, int, int]]

_RETURN = re.compile(r"^( *)return (.+)$")
_LOOP_STATEMENT = re.compile(r"^\s*(?:for|while|async|yield|def|class|lambda|global|nonlocal)\b")
# The tokens of a generated body that matter to :func:`_renamed`: plain string literals and
# comments (skipped), and names not written right after ``.`` (generated code writes
# attribute access as ``a.b``, never ``a . b``).
_TOKEN = re.compile(r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|#.*|(?<![\w.])([A-Za-z_]\w*)""")
# Names of the loop itself; a body that uses one of them as its own name is not inlined.
# ``event``, ``partition``, ``offset`` and ``horizon`` are the fused function's parameters and
# mean the same in the loop.
_LOOP_NAMES = frozenset({
    "records", "decode", "by_class", "reference", "drop", "max_bytes", "late", "n", "value",
    "size", "event_class", "refused", "targets", "target", "extract_add", "rej", "LATE",
    "NO_SCHEMA", "TOO_LARGE", "INVALID_JSON", "DEEP_MIN", "too_deep", "DECODE_ERRORS",
    "NS"})


def _body(fused: Callable) -> list[str] | None:
    """The lines inside the fused function's ``try:`` (8-space indent), or None when its
    source does not have the generated shape."""
    lines = getattr(fused, "__source__", "").split("\n")
    if (len(lines) < 5 or lines[0] != "def extract_add(event, partition, offset, horizon):"
            or lines[1] != "    try:"):
        return None
    ends = [i for i, line in enumerate(lines) if line == "    except Rejected as rej:"]
    if len(ends) != 1 or lines[ends[0] + 1:] not in (["        return rej.reason", ""],
                                                     ["        return rej.reason"]):
        return None
    body = lines[2:ends[0]]
    if not body or any(_LOOP_STATEMENT.match(line) for line in body):
        return None
    return body


def _renamed(body: list[str], names: set[str],
             prefix: str) -> tuple[list[str], set[str]] | None:
    """``body`` with every global name (a key of ``names`` not written after ``.``)
    prefixed, and the global names it uses; None if the body uses a name of the loop as one
    of its own, has a ``return`` that is not a line of its own (which :func:`_branch` could
    not turn into ``continue``), or has a token :data:`_TOKEN` does not read (a prefixed or
    triple-quoted string, a line continuation): such a class is not inlined.

    One regular expression over the generated text (1-2 ms for the shipped schemas, where
    the pure-Python ``tokenize`` took ~19 ms, and ``ast`` as long); tests/test_batchloop.py
    checks it against ``tokenize`` on the shipped and test schemas' bodies and on generated
    lines."""
    edits: list[tuple[int, int]] = []
    used: set[str] = set()
    returns = 0
    for row, line in enumerate(body):
        if "'''" in line or '"""' in line or line.endswith("\\"):
            return None
        for match in _TOKEN.finditer(line):
            name = match.group(1)
            if name is None:
                continue                         # a string literal or a comment
            if line[match.end():match.end() + 1] in ("'", '"'):
                return None                      # a prefixed string (f'', b'', r'')
            if name in names:
                edits.append((row, match.start()))
                used.add(name)
            elif name in _LOOP_NAMES:
                return None
            elif name == "return":
                returns += 1
    if returns != sum(1 for line in body if _RETURN.match(line)):
        return None
    out = list(body)
    for row, col in reversed(edits):
        line = out[row]
        out[row] = line[:col] + prefix + line[col:]
    return out, used


# The lines of a renamed body that touch a batch-long list ("{p}": the class prefix), and
# what they become; the loop reads the lists into these locals first and writes them back
# after (_batch_locals).
_LOCAL_LINES = {
    "{p}RECEIVED[0] += 1": "r{k} += 1",
    "if ts > {p}BATCH_TIME[0]:": "if ts > bt{k}:",
    "{p}BATCH_TIME[0] = ts": "bt{k} = ts",
    "if {p}HOT[0] <= ts < {p}HOT[2]:": "if hs{k} <= ts < he{k}:",
    "win = {p}HOT[1]": "win = hw{k}",
    "{p}HOT[0] = start": "hs{k} = start",
    "{p}HOT[1] = win": "hw{k} = win",
    "{p}HOT[2] = start + {p}SIZE": "he{k} = start + {p}SIZE",
}


def _batch_locals(body: list[str], k: int) -> tuple[list[str], list[str], list[str]]:
    """``body`` with its batch-long list items turned into loop locals (``_LOCAL_LINES``),
    the lines that read them before the loop, and the lines that write them back after it;
    ``body`` unchanged and no lines when any other line uses those lists or a body already
    has a local of those names."""
    p = f"I{k}_"
    table = {key.format(p=p): value.format(p=p, k=k) for key, value in _LOCAL_LINES.items()}
    lists = re.compile(rf"\b{p}(?:RECEIVED|BATCH_TIME|HOT)\b|\b(?:r|bt|hs|hw|he){k}\b")
    out = []
    for line in body:
        stripped = line.lstrip(" ")
        new = table.get(stripped)
        if new is None:
            if lists.search(line):
                return body, [], []
            out.append(line)
        else:
            out.append(line[:len(line) - len(stripped)] + new)
    if out == body:
        return body, [], []
    before = [f"    r{k} = 0",
              f"    bt{k} = {p}BATCH_TIME[0]",
              f"    hs{k} = {p}HOT[0]",
              f"    hw{k} = {p}HOT[1]",
              f"    he{k} = {p}HOT[2]"]
    # The hot window is not written back: WindowAggregator.begin_batch clears it before
    # the next batch reads it.
    after = [f"        {p}RECEIVED[0] += r{k}",
             f"        if bt{k} > {p}BATCH_TIME[0]:",
             f"            {p}BATCH_TIME[0] = bt{k}"]
    return out, before, after


def _branch(body: list[str], k: int) -> list[str]:
    """The loop lines of one inlined class ``C{k}``: its body inside ``try``, each
    ``return`` turned into ``continue`` or a drop and ``continue``."""
    out = ["            try:"]
    for line in body:
        match = _RETURN.match(line)
        if match is None:
            out.append("        " + line)
            continue
        indent, value = match.groups()
        indent = "        " + indent
        if value == "None":
            out.append(f"{indent}continue")
        else:
            out += [f"{indent}refused = {value}",
                    f"{indent}late += refused is LATE",
                    f"{indent}drop(NAME{k}, refused)",
                    f"{indent}continue"]
    out += [f"            except I{k}_Rejected as rej:",
            f"                drop(NAME{k}, rej.reason)",
            "                continue"]
    return out


def build_batch_loop(by_class: dict[type, tuple], *, inline: bool = True) -> BatchLoop:
    """The batch loop for ``by_class`` (decoded class -> ``((schema, fused function),
    ...)``, built by :meth:`Pipeline._batch_loop`), which it keeps: see the module docstring."""
    namespace: dict[str, Any] = {}
    branches: list[str] = []
    prologue: list[str] = []
    epilogue: list[str] = []
    k = 0
    for cls, targets in by_class.items() if inline else ():
        if len(targets) != 1:
            continue
        cs, fused = targets[0]
        body = _body(fused)
        if body is None:
            continue
        own = {name for name in fused.__globals__ if name.isidentifier()}
        renamed = _renamed(body, own, f"I{k}_")
        if renamed is None or "Rejected" not in own:
            continue
        body, used = renamed
        for name in sorted(used | {"Rejected"}):
            namespace[f"I{k}_{name}"] = fused.__globals__[name]
        body, before, after = _batch_locals(body, k)
        prologue += before
        epilogue += after
        namespace[f"C{k}"] = cls
        namespace[f"NAME{k}"] = cs.name
        keyword = "elif" if branches else "if"
        branches += [f"        {keyword} event_class is C{k}:", *_branch(body, k)]
        k += 1
    loop = [
        "    for offset, value in records:",
        "        n += 1",
        "        if value is None or (size := len(value)) > max_bytes:",
        "            drop(NO_SCHEMA, TOO_LARGE if value is not None else INVALID_JSON)",
        "            continue",
        # Allowlist decode; a line msgspec refuses (or may read differently from orjson)
        # takes the reference path, which decides its reason (see schema/decoder.py).
        "        try:",
        "            if not value.isascii():",
        "                value.decode()      # msgspec skips unread strings unchecked",
        "            if size >= DEEP_MIN and too_deep(value):",
        "                raise RecursionError    # orjson decides (msgspec's limit may differ)",
        "            event = decode(value)",
        "        except DECODE_ERRORS:",
        "            late += reference(value, partition, offset, horizon)",
        "            continue",
        "        event_class = event.__class__",
        *branches,
        "        targets = by_class.get(event_class)",
        "        if targets is None:",
        "            late += reference(value, partition, offset, horizon)",
        "            continue",
        "        for target, extract_add in targets:",
        "            refused = extract_add(event, partition, offset, horizon)",
        "            if refused is not None:",
        "                late += refused is LATE",
        "                drop(target.name, refused)"]
    if epilogue:
        loop = ["    try:", *["    " + line for line in loop], "    finally:", *epilogue]
    source = "\n".join([
        "def run(records, partition, horizon, decode, reference, drop, max_bytes):",
        *[f"    {name} = NS[{name!r}]" for name in namespace],
        "    late = 0",
        "    n = 0",
        "    offset = -1",
        *prologue,
        *loop,
        "    return n, late, offset",
        ""])
    scope: dict[str, Any] = {
        "NS": namespace, "by_class": by_class, "NO_SCHEMA": NO_SCHEMA, "TOO_LARGE": TOO_LARGE,
        "INVALID_JSON": INVALID_JSON, "LATE": DropReason.LATE, "DEEP_MIN": DEEP_MIN_BYTES,
        "too_deep": too_deep_for_msgspec, "DECODE_ERRORS": DECODE_ERRORS}
    exec(compile(source, "<deidentify batch loop>", "exec"), scope)
    run: BatchLoop = scope["run"]
    run.__source__ = source        # type: ignore[attr-defined]
    run.inlined = k                # type: ignore[attr-defined]
    return run

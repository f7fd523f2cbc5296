"""Generate one straight-line ``extract`` function per schema (the hot path's compiled form).

``compile.py`` builds the same extraction out of small closures (one per dimension, measure
and subject field); that version is the readable reference. This module turns a schema into
Python source that does the same work inline — no per-field call, no per-event list — and
compiles it once with ``compile()``/``exec``. The two are checked against each other by a
differential property test over hostile events (``tests/schema/test_codegen.py``).

What the generated source may contain is fixed by this module, not by the schema author:
field names are spliced in only through ``repr()`` after ``parse_schema`` validated them
against ``FIELD_RE`` (identifiers), and every other schema value (enum vocabularies, bounds,
targets) is passed in the function's namespace as a constant, never as source text. The
``route`` and ``host`` transforms are called as the same objects the reference uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deidentify import measures as measure_kinds  # a module: it imports schema.model
from deidentify.schema.model import FIELD_RE, OTHER, Schema


def _path_lines(path: str, target: str, indent: str) -> list[str]:
    """Lines reading dotted ``path`` from ``event`` into ``target`` (MISSING when absent)."""
    if not FIELD_RE.match(path):      # parse_schema guarantees this; never splice otherwise
        raise ValueError("field path is not an identifier path")
    parts = path.split(".")
    lines = [f"{indent}{target} = get({parts[0]!r}, MISSING)"]
    for part in parts[1:]:
        lines.append(f"{indent}{target} = {target}.get({part!r}, MISSING) "
                     f"if {target}.__class__ is dict else MISSING")
    return lines


def generate_source(schema: Schema) -> tuple[str, dict[str, Any]]:
    """Source of ``extract(event)`` and the constants it needs (besides the runtime ones)."""
    consts: dict[str, Any] = {}
    body: list[str] = []
    ind = "        "
    body += _path_lines("tenant_id", "v", ind)
    body += [f"{ind}if v.__class__ is not str or id_match(v) is None:",
             f"{ind}    return REJECTED_ID",
             f"{ind}v = get('ts')",
             f"{ind}if v.__class__ is int and 0 < v < 10000000000000:",
             f"{ind}    ts = v",
             f"{ind}else:",
             f"{ind}    ts = parse_ts_ms(v)"]
    dim_names = []
    for i, dim in enumerate(schema.dimensions):
        d = f"d{i}"
        dim_names.append(d)
        kind = dim.type
        if kind in ("route", "host"):
            consts[f"DIM_{i}"] = None          # filled by the caller with the closure
            body.append(f"{ind}{d} = DIM_{i}(event)")
            continue
        body += _path_lines(dim.field, "v", ind)
        if kind == "enum":
            consts[f"ALLOWED_{i}"] = frozenset(dim.values or ())
            body += [f"{ind}if v.__class__ is str:",
                     f"{ind}    {d} = v if v in ALLOWED_{i} else OTHER",
                     f"{ind}elif v is MISSING or v is None:",
                     f"{ind}    {d} = OTHER",
                     f"{ind}else:",
                     f"{ind}    return INVALID_FIELD"]
        elif kind == "status":
            body += [f"{ind}if v.__class__ is not int or not 100 <= v <= 599:",
                     f"{ind}    return INVALID_FIELD",
                     f"{ind}{d} = v"]
        elif kind == "status_class":
            body += [f"{ind}if v is None:",
                     f"{ind}    {d} = 'none'",
                     f"{ind}elif v.__class__ is not int or not 100 <= v <= 599:",
                     f"{ind}    return INVALID_FIELD",
                     f"{ind}else:",
                     f"{ind}    {d} = STATUS_CLASSES[v // 100]"]
        elif kind == "id":
            body += [f"{ind}if v.__class__ is not str or id_match(v) is None:",
                     f"{ind}    return REJECTED_ID",
                     f"{ind}{d} = v"]
        elif kind == "bool":
            body += [f"{ind}if v.__class__ is not bool:",
                     f"{ind}    return INVALID_FIELD",
                     f"{ind}{d} = v"]
        else:  # pragma: no cover - parse_schema refuses other types
            raise ValueError(f"unknown dimension type {kind}")
    measure_names = []
    for i, measure in enumerate(schema.measures):
        m = f"m{i}"
        measure_names.append(m)
        # The measure's kind writes its lines (deidentify.measures); fields are read only
        # through _path_lines, and its constants are passed in the namespace.
        lines, kind_consts = measure_kinds.kind_of(measure).extract_lines(
            measure, m, f"M{i}_", lambda path, var: _path_lines(path, var, ""))
        for key in kind_consts:
            if not key.startswith(f"M{i}_"):
                raise ValueError("a measure constant must start with its prefix")
        consts.update(kind_consts)
        body += [ind + line for line in lines]
    # subject: the first non-empty str or int among the ordered subject paths
    body.append(f"{ind}s = None")
    depth = ind
    for path in schema.privacy.subjects:
        body += _path_lines(path, "v", depth)
        body += [f"{depth}if (v.__class__ is str and v) or v.__class__ is int:",
                 f"{depth}    s = v",
                 f"{depth}else:"]
        depth += "    "
    body.append(f"{depth}pass")

    def tup(names: list[str]) -> str:
        if not names:
            return "()"
        return "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"

    body.append(f"{ind}return make(Extracted, (ts, {tup(dim_names)}, {tup(measure_names)}, s))")
    source = "\n".join(["def extract(event):",
                        "    get = event.get",
                        "    try:", *body,
                        "    except Rejected as rej:",
                        "        return rej.reason", ""])
    return source, consts


def build_extract(schema: Schema, dim_fns: tuple[Callable, ...],
                  runtime: dict[str, Any]) -> Callable[[dict], Any]:
    """Compile the generated ``extract`` for ``schema``.

    ``dim_fns`` are the reference closures (only those of ``route``/``host`` dimensions are
    used); ``runtime`` holds the shared names (``MISSING``, ``Rejected``, reason strings,
    ``parse_ts_ms``, ``id_match``, ``Extracted``...).
    """
    source, consts = generate_source(schema)
    namespace: dict[str, Any] = dict(runtime)
    namespace.update(consts)
    namespace["OTHER"] = OTHER
    namespace["STATUS_CLASSES"] = {n: f"{n}xx" for n in range(1, 6)}
    namespace["make"] = tuple.__new__
    for i, dim in enumerate(schema.dimensions):
        if dim.type in ("route", "host"):
            namespace[f"DIM_{i}"] = dim_fns[i]
    code = compile(source, f"<deidentify extract {schema.name} v{schema.version}>", "exec")
    exec(code, namespace)
    extract = namespace["extract"]
    extract.__source__ = source
    return extract

"""The allowlist schema model: frozen dataclasses, parsed strictly from YAML.

This module is the documentation of every schema option (as ``config.go`` is for an
OpenTelemetry processor). A schema file looks like::

    name: http_requests            # [a-z][a-z0-9_]{0,62}; also the aggregate's "schema"
    version: 3                     # int >= 1; bump it when the meaning of a cell changes
    description: ...               # one or two sentences for the privacy reviewer
    source:
      type: http_request           # the raw event's "type" value this schema consumes
      topic: telemetry.raw.http_requests   # the regional raw topic
    window:
      size: 60s                    # tumbling window size: <n>ms | <n>s | <n>m | <n>h
      grace: 10s                   # how long after the end late events are still accepted
    dimensions:                    # the ONLY keys a published cell carries in "dims"
      method: {type: enum, field: method, values: http_methods}
      route:  {type: route, field: route, url_field: url,   # routes/openapi: optional,
               routes: ["/v1/orders/{id}"], openapi: openapi.yaml}   # declared literals
      status: {type: status, field: status}
    measures:                      # "count" always exists; these are added to it
      latency_ms: {type: histogram, field: latency_ms, buckets: [5, 10, 25], min: 0, max: 600000}
      errors:     {type: count_if, field: status, gte: 500}
    privacy:
      subjects: [user.id, user.email, client_ip]   # first present value identifies the subject
      k: 5                          # minimum distinct subjects per published cell and window;
                                    # never below the deployment's k floor (default 5)
      caps: {route: 500}            # distinct values per dimension per window (default 500)
      max_cells: 2000               # cells per schema window (default 2000)
    examples: [...]                 # optional: raw events -> expected cells (schema test)
    presentation:                   # optional hints for the dashboards (see Presentation)
      title: HTTP requests
      chart_by: route               # the dimension charted over time
      rates: [errors]               # count_if measures shown as a share of count
      units: {latency_ms: ms}       # ms | s | bytes | minor_units | count

Everything is rejected that is not listed here: unknown keys, unknown types, measures on
fields that are not numeric, missing sections. Fail closed: a schema with no dimensions
publishes one cell per window (only counts), never more.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deidentify.contract import OTHER as OTHER  # re-exported; defined in deidentify.contract
from deidentify.dimensions.route import declared_template
from deidentify.errors import SchemaError
from deidentify.schema.openapi import load_openapi_routes
from deidentify.schema.yamlsource import Located, LocatedList, line_of

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,3}$")
TOPIC_RE = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
DURATION_RE = re.compile(r"^\s*(\d+)\s*(ms|s|m|h)?\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}

DIMENSION_TYPES = ("route", "host", "enum", "status", "status_class", "id", "bool")
CONDITION_OPS = ("equals", "gte", "lt")

DEFAULT_DIMENSION_CAP = 500
DEFAULT_MAX_CELLS = 2000
SAFE_K = 5
# The deployment-wide minimum k: a schema whose ``k`` is below it is refused at load time.
# ``deidentify run`` / ``central`` take it from --k-floor / DEIDENTIFY_K_FLOOR, which can only
# raise it; ``preview`` and ``schema check|test`` use the default. Only unit tests of the pure
# core pass ``k_floor=`` below the default (down to 1, to exercise single-event cells).
DEFAULT_K_FLOOR = 5
MAX_EXAMPLES = 100
MAX_DECLARED_ROUTES = 2000

# Fields whose values identify a person or a customer; a dimension on them is an error,
# whatever its type (the allowlist exists to keep exactly these out).
PERSONAL_FIELD_WORDS = (
    "email", "name", "phone", "ip", "address", "user_agent", "customer", "card", "token",
    "payment", "iban", "ssn", "password", "secret", "request_id", "session", "user",
)


@dataclass(frozen=True, slots=True)
class Window:
    size_ms: int
    grace_ms: int


@dataclass(frozen=True, slots=True)
class Dimension:
    name: str
    type: str
    field: str
    url_field: str | None = None          # route only: the full URL used when no route fits
    routes: tuple[str, ...] = ()           # route only: declared templates (normalised)
    openapi: str | None = None             # route only: the OpenAPI document, as written
    openapi_routes: tuple[str, ...] = ()   # route only: templates imported from it
    values: tuple[str, ...] | None = None  # enum only: the closed vocabulary
    vocabulary: str | None = None          # enum only: name of a shipped vocabulary, if used
    line: int | None = None

    @property
    def declared_routes(self) -> tuple[str, ...]:
        """Route only: every declared template, the schema's ``routes`` first."""
        return self.routes + self.openapi_routes


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: str            # one of CONDITION_OPS
    value: Any


@dataclass(frozen=True, slots=True)
class Measure:
    name: str
    type: str                           # a measure kind (deidentify.measures.KINDS)
    field: str | None = None            # the numeric field (sum / histogram)
    minimum: float | None = None        # clamp bounds of the field
    maximum: float | None = None
    buckets: tuple[float, ...] = ()     # histogram upper bounds, ascending
    integer: bool = False               # the field must be an integer
    condition: Condition | None = None  # count_if
    options: tuple[tuple[str, Any], ...] = ()   # any other setting a kind parses: (key, value)
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Privacy:
    subjects: tuple[str, ...]
    k: int
    caps: tuple[tuple[str, int], ...]   # (dimension, cap) for every dimension
    max_cells: int

    def cap_of(self, dimension: str) -> int:
        return dict(self.caps).get(dimension, DEFAULT_DIMENSION_CAP)


@dataclass(frozen=True, slots=True)
class Example:
    name: str
    events: tuple[Any, ...]
    expect: tuple[dict, ...]
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Schema:
    name: str
    version: int
    description: str
    source_type: str
    topic: str
    window: Window
    dimensions: tuple[Dimension, ...]
    measures: tuple[Measure, ...]
    privacy: Privacy
    examples: tuple[Example, ...]
    file: str = "<schema>"
    presentation: Presentation | None = None   # optional dashboard hints (see below)

    @property
    def dimension_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)


def duration_ms(text: object, *, bare_unit: str | None = None) -> int | None:
    """``500ms``/``10s``/``1m``/``1h`` in milliseconds, or None when it is not a duration.

    A bare number is accepted only when ``bare_unit`` names its unit (the CLI's ``--idle 3``
    means seconds; a schema must always write the unit).
    """
    match = DURATION_RE.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    unit = match.group(2) or bare_unit
    if unit is None:
        return None
    return int(match.group(1)) * _UNIT_MS[unit]


# --------------------------------------------------------------------------- parsing helpers


class _Ctx:
    """Carries the file name so every error can point at file:line."""

    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, message: str, container: Any = None, key: Any = None,
              fix: str | None = None, line: int | None = None) -> SchemaError:
        if line is None and container is not None:
            line = line_of(container, key) if key is not None else getattr(container, "line", None)
        return SchemaError(message, file=self.file, line=line, fix=fix)

    def mapping(self, node: Any, what: str, parent: Any, key: Any) -> Located:
        if not isinstance(node, Located):
            raise self.error(f"'{what}' must be a mapping", parent, key,
                             fix=f"write '{what}:' followed by indented 'key: value' lines")
        return node

    def keys(self, node: Located, what: str, required: tuple[str, ...],
             optional: tuple[str, ...] = ()) -> None:
        allowed = required + optional
        for key in node:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise self.error(f"unknown key '{key}' in {what}", node, key,
                                 fix=f"{hint}allowed keys: {', '.join(allowed)}")
        for key in required:
            if key not in node:
                raise self.error(f"{what} is missing '{key}'", node,
                                 fix=f"add '{key}:' ({', '.join(required)} are required)")

    def string(self, node: Located, key: str, what: str, pattern: re.Pattern | None = None,
               fix: str | None = None) -> str:
        value = node[key]
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"{what} '{key}' must be a non-empty string", node, key, fix=fix)
        if pattern is not None and not pattern.match(value):
            raise self.error(f"{what} '{key}' is not well formed", node, key,
                             fix=fix or f"it must match {pattern.pattern}")
        return value

    def integer(self, node: Located, key: str, what: str, minimum: int,
                maximum: int | None = None) -> int:
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"{what} '{key}' must be an integer", node, key,
                             fix=f"write a whole number >= {minimum}")
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise self.error(f"{what} '{key}' is out of range", node, key,
                             fix=f"write a whole number {bound}")
        return value

    def number(self, node: Located, key: str, what: str) -> float:
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"{what} '{key}' must be a number", node, key, fix="write a number")
        return value

    def duration_ms(self, node: Located, key: str, what: str) -> int:
        value = duration_ms(node[key])
        if value is None:
            raise self.error(f"{what} '{key}' must be a duration with a unit", node, key,
                             fix="write e.g. 500ms, 10s, 1m or 1h")
        return value


# --------------------------------------------------------------------------- sections


def _parse_window(ctx: _Ctx, node: Located) -> Window:
    win = ctx.mapping(node["window"], "window", node, "window")
    ctx.keys(win, "window", ("size",), ("grace",))
    size_ms = ctx.duration_ms(win, "size", "window")
    grace_ms = ctx.duration_ms(win, "grace", "window") if "grace" in win else 0
    if size_ms < 1000 or size_ms > 86_400_000:
        raise ctx.error("window 'size' must be between 1s and 24h", win, "size",
                        fix="write e.g. size: 60s")
    if 60_000 % size_ms and size_ms % 60_000:
        raise ctx.error("window 'size' must divide a minute or be whole minutes", win, "size",
                        fix="write e.g. 10s, 15s, 30s, 1m or 5m")
    if grace_ms > size_ms * 10:
        raise ctx.error("window 'grace' is longer than ten windows", win, "grace",
                        fix="keep grace at most ten times the window size")
    return Window(size_ms=size_ms, grace_ms=grace_ms)


def _parse_dimension(ctx: _Ctx, name: str, spec: Any, parent: Located,
                     vocabularies: dict[str, frozenset[str]]) -> Dimension:
    if not NAME_RE.match(name):
        raise ctx.error(f"dimension name '{name}' is not well formed", parent, name,
                        fix="use lowercase letters, digits and '_' (e.g. route)")
    spec = ctx.mapping(spec, f"dimensions.{name}", parent, name)
    if "type" not in spec:
        raise ctx.error(f"dimension '{name}' has no type", spec,
                        fix=f"add 'type:' with one of: {', '.join(DIMENSION_TYPES)}")
    dtype = spec["type"]
    if dtype not in DIMENSION_TYPES:
        close = difflib.get_close_matches(str(dtype), DIMENSION_TYPES, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        fix = f"{hint}one of: {', '.join(DIMENSION_TYPES)}"
        if dtype in ("string", "str", "raw", "copy", "text", "keyword"):
            fix = ("there is no type that copies a raw string; use enum with a closed list of "
                   "values, or route/host/id. " + fix)
        raise ctx.error(f"dimension '{name}' has unknown type '{dtype}'", spec, "type", fix=fix)
    what = f"dimension '{name}'"
    optional: tuple[str, ...] = ()
    if dtype == "route":
        optional = ("url_field", "routes", "openapi")
    elif dtype == "enum":
        optional = ()
    required = ("type", "field") + (("values",) if dtype == "enum" else ())
    ctx.keys(spec, what, required, optional)
    field = ctx.string(spec, "field", what, FIELD_RE, fix="a field path such as status or user.id")
    if dtype in ("enum", "route", "host", "id", "status", "status_class", "bool"):
        lowered = field.lower()
        for word in PERSONAL_FIELD_WORDS:
            if dtype != "id" and word in ("user", "customer"):
                continue
            if re.search(rf"(^|[._]){word}($|[._])", lowered) or (
                    dtype == "id" and word in lowered):
                raise ctx.error(
                    f"{what} reads '{field}', a field that identifies a person or customer",
                    spec, "field",
                    fix="personal fields may only be privacy.subjects, never dimensions")
    url_field = None
    routes: tuple[str, ...] = ()
    openapi = None
    openapi_routes: tuple[str, ...] = ()
    if dtype == "route":
        if "url_field" in spec:
            url_field = ctx.string(spec, "url_field", what, FIELD_RE, fix="e.g. url_field: url")
        routes, openapi, openapi_routes = _parse_declared_routes(ctx, spec, what)
    values = vocab_name = None
    if dtype == "enum":
        raw = spec["values"]
        if isinstance(raw, str):
            if raw not in vocabularies:
                raise ctx.error(f"{what} names unknown vocabulary '{raw}'", spec, "values",
                                fix=f"one of: {', '.join(sorted(vocabularies))}, or a list")
            vocab_name = raw
            values = tuple(sorted(vocabularies[raw]))
        elif isinstance(raw, LocatedList) and raw:
            for i, item in enumerate(raw):
                if not isinstance(item, str) or not re.match(r"^[A-Za-z0-9_.:/-]{1,64}$", item):
                    raise ctx.error(f"{what} has an enum value that is not a short token",
                                    raw, i, fix="enum values are short tokens like GET or "
                                    "charge.succeeded")
            if len(raw) > 1000:
                raise ctx.error(f"{what} lists more than 1000 values", spec, "values",
                                fix="an enum is a closed, small vocabulary")
            values = tuple(raw)
        else:
            raise ctx.error(f"{what} 'values' must be a vocabulary name or a non-empty list",
                            spec, "values", fix="e.g. values: http_methods, or values: [a, b]")
    return Dimension(name=name, type=dtype, field=field, url_field=url_field, routes=routes,
                     openapi=openapi, openapi_routes=openapi_routes, values=values,
                     vocabulary=vocab_name, line=parent.line_of(name))


def _parse_declared_routes(ctx: _Ctx, spec: Located, what: str
                           ) -> tuple[tuple[str, ...], str | None, tuple[str, ...]]:
    """A route dimension's ``routes`` (templates) and ``openapi`` (document to import)."""
    routes: list[str] = []
    if "routes" in spec:
        raw = spec["routes"]
        if not isinstance(raw, LocatedList) or not raw:
            raise ctx.error(f"{what} 'routes' must be a non-empty list of route templates",
                            spec, "routes", fix="e.g. routes: [/v1/orders, /v1/orders/{id}]")
        if len(raw) > MAX_DECLARED_ROUTES:
            raise ctx.error(f"{what} declares more than {MAX_DECLARED_ROUTES} routes", spec,
                            "routes", fix="import the service's OpenAPI document instead")
        shapes: dict[tuple, int] = {}
        for i, item in enumerate(raw):
            try:
                route = declared_template(item)
            except ValueError as exc:
                raise ctx.error(f"{what} route {i + 1} is not a route template: {exc}", raw, i,
                                fix="write a template such as /v1/orders/{id}") from None
            shape = tuple(None if s[0] == "{" else s for s in route.split("/") if s)
            if shape in shapes:
                raise ctx.error(f"{what} route {i + 1} has the same shape as route "
                                f"{shapes[shape]}", raw, i,
                                fix="keep one of them (placeholder names do not matter)")
            shapes[shape] = i + 1
            routes.append(route)
    openapi = None
    imported: tuple[str, ...] = ()
    if "openapi" in spec:
        openapi = ctx.string(spec, "openapi", what,
                             fix="the path of the service's OpenAPI 3 document, relative to "
                                 "this schema file")
        base = Path(ctx.file).parent
        imported = load_openapi_routes(base / openapi, schema_file=ctx.file,
                                       schema_line=spec.line_of("openapi"))
    return tuple(routes), openapi, imported


def _parse_measure(ctx: _Ctx, name: str, spec: Any, parent: Located) -> Measure:
    if name == "count":
        raise ctx.error("'count' is always published and cannot be declared", parent, name,
                        fix="remove it; measures.count is implicit")
    if not NAME_RE.match(name):
        raise ctx.error(f"measure name '{name}' is not well formed", parent, name,
                        fix="use lowercase letters, digits and '_' (e.g. latency_ms)")
    # Each measure type is a kind in deidentify.measures, which parses its own keys; that
    # module builds on this one, so it is imported here, at parse time.
    from deidentify.measures import kind_names, parse_measure_spec
    spec = ctx.mapping(spec, f"measures.{name}", parent, name)
    if "type" not in spec:
        raise ctx.error(f"measure '{name}' has no type", spec,
                        fix=f"add 'type:' with one of: {', '.join(kind_names())}")
    return parse_measure_spec(ctx, name, spec, parent.line_of(name))


def check_k_floor(k_floor: int) -> int:
    """The floor the loader enforces; a programming error (not a schema error) if unusable."""
    if isinstance(k_floor, bool) or not isinstance(k_floor, int) or not 1 <= k_floor <= 1000:
        raise ValueError("k_floor must be a whole number between 1 and 1000")
    return k_floor


def _parse_privacy(ctx: _Ctx, node: Located, dimensions: tuple[Dimension, ...],
                   k_floor: int = DEFAULT_K_FLOOR) -> Privacy:
    priv = ctx.mapping(node["privacy"], "privacy", node, "privacy")
    ctx.keys(priv, "privacy", ("subjects", "k"), ("caps", "max_cells"))
    subjects = priv["subjects"]
    if not isinstance(subjects, LocatedList) or not subjects:
        raise ctx.error("privacy 'subjects' must be a non-empty list of field paths", priv,
                        "subjects", fix="e.g. subjects: [user.id, client_ip]")
    for i, field in enumerate(subjects):
        if not isinstance(field, str) or not FIELD_RE.match(field):
            raise ctx.error("privacy 'subjects' entries must be field paths", subjects, i,
                            fix="e.g. user.id")
    k = ctx.integer(priv, "k", "privacy", 1, 1000)
    if k < k_floor:
        raise ctx.error(f"privacy 'k' is {k}, below this deployment's k floor of {k_floor}",
                        priv, "k", fix=f"write k: {k_floor} or more (the floor is set by "
                        "--k-floor / DEIDENTIFY_K_FLOOR and can only be raised)")
    names = {d.name for d in dimensions}
    caps: dict[str, int] = {}
    if "caps" in priv:
        cap_node = ctx.mapping(priv["caps"], "privacy.caps", priv, "caps")
        for dim in cap_node:
            if dim not in names:
                raise ctx.error(f"privacy.caps names unknown dimension '{dim}'", cap_node, dim,
                                fix=f"one of: {', '.join(sorted(names)) or '(no dimensions)'}")
            caps[dim] = ctx.integer(cap_node, dim, "privacy.caps", 1, 100_000)
    max_cells = DEFAULT_MAX_CELLS
    if "max_cells" in priv:
        max_cells = ctx.integer(priv, "max_cells", "privacy", 1, 1_000_000)
    all_caps = tuple((d.name, caps.get(d.name, DEFAULT_DIMENSION_CAP)) for d in dimensions)
    return Privacy(subjects=tuple(subjects), k=k, caps=all_caps, max_cells=max_cells)


def _parse_examples(ctx: _Ctx, node: Located) -> tuple[Example, ...]:
    if "examples" not in node:
        return ()
    raw = node["examples"]
    if not isinstance(raw, LocatedList):
        raise ctx.error("'examples' must be a list", node, "examples",
                        fix="write '- name: ...' items with events and expect")
    if len(raw) > MAX_EXAMPLES:
        raise ctx.error(f"more than {MAX_EXAMPLES} examples", node, "examples",
                        fix="keep examples short")
    out = []
    for i, item in enumerate(raw):
        item = ctx.mapping(item, f"examples[{i}]", raw, i)
        ctx.keys(item, f"examples[{i}]", ("name", "events", "expect"))
        name = ctx.string(item, "name", f"examples[{i}]")
        events, expect = item["events"], item["expect"]
        if not isinstance(events, LocatedList) or not events:
            raise ctx.error(f"example '{name}' needs a non-empty 'events' list", item, "events",
                            fix="list raw events, one mapping each")
        if not isinstance(expect, LocatedList):
            raise ctx.error(f"example '{name}' needs an 'expect' list", item, "expect",
                            fix="list the expected cells, or write expect: [] for none")
        for j, cell in enumerate(expect):
            cell = ctx.mapping(cell, f"example '{name}' expect[{j}]", expect, j)
            ctx.keys(cell, f"example '{name}' expect[{j}]", ("dims", "measures"), ("window",))
        out.append(Example(name=name, events=tuple(_plain(e) for e in events),
                           expect=tuple(_plain(c) for c in expect), line=raw.line_of(i)))
    return tuple(out)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def parse_schema(doc: Any, file: str, vocabularies: dict[str, frozenset[str]], *,
                 k_floor: int = DEFAULT_K_FLOOR) -> Schema:
    """Turn a located YAML document into a :class:`Schema` or raise :class:`SchemaError`.

    ``k_floor``: the smallest ``privacy.k`` accepted (default :data:`DEFAULT_K_FLOOR`).
    """
    check_k_floor(k_floor)
    ctx = _Ctx(file)
    if not isinstance(doc, Located):
        raise ctx.error("a schema file must be a mapping", line=getattr(doc, "line", 1),
                        fix="start with 'name: <schema name>'")
    ctx.keys(doc, "schema", ("name", "version", "description", "source", "window",
                             "dimensions", "measures", "privacy"), ("examples", "presentation"))
    name = ctx.string(doc, "name", "schema", NAME_RE,
                      fix="lowercase letters, digits and '_' (e.g. http_requests)")
    version = ctx.integer(doc, "version", "schema", 1)
    description = ctx.string(doc, "description", "schema")
    src = ctx.mapping(doc["source"], "source", doc, "source")
    ctx.keys(src, "source", ("type", "topic"))
    source_type = ctx.string(src, "type", "source", NAME_RE, fix="the raw event type, e.g. "
                             "http_request")
    topic = ctx.string(src, "topic", "source", TOPIC_RE, fix="a Kafka topic name")
    window = _parse_window(ctx, doc)
    dim_node = doc["dimensions"]
    if dim_node is None:
        dim_node = Located()
        dim_node.line, dim_node.key_lines = doc.line_of("dimensions"), {}
    dim_node = ctx.mapping(dim_node, "dimensions", doc, "dimensions")
    dimensions = tuple(_parse_dimension(ctx, n, s, dim_node, vocabularies)
                       for n, s in dim_node.items())
    meas_node = doc["measures"]
    if meas_node is None:
        meas_node = Located()
        meas_node.line, meas_node.key_lines = doc.line_of("measures"), {}
    meas_node = ctx.mapping(meas_node, "measures", doc, "measures")
    measures = tuple(_parse_measure(ctx, n, s, meas_node) for n, s in meas_node.items())
    privacy = _parse_privacy(ctx, doc, dimensions, k_floor)
    dim_fields = {d.field for d in dimensions}
    for field in privacy.subjects:
        if field in dim_fields:
            raise ctx.error(f"subject field '{field}' is also a dimension", doc, "privacy",
                            fix="a subject may never be published as a dimension")
    return Schema(name=name, version=version, description=description, source_type=source_type,
                  topic=topic, window=window, dimensions=dimensions, measures=measures,
                  privacy=privacy, examples=_parse_examples(ctx, doc), file=file,
                  presentation=_parse_presentation(ctx, doc, dimensions, measures))


# =========================================================================== presentation
# Optional dashboard hints (``presentation:``). Only the dashboards read them (the central
# summary, the built-in page and the generated Grafana dashboard); they never change what
# is published. Without them :func:`presentation_of` picks defaults that still make a
# useful page.

PRESENTATION_KEYS = ("title", "chart_by", "rates", "units")
UNITS = ("ms", "s", "bytes", "minor_units", "count")


@dataclass(frozen=True, slots=True)
class Presentation:
    title: str                          # heading of the schema's panels
    chart_by: str | None                # dimension charted over time (None: totals only)
    rates: tuple[str, ...]              # count_if measures shown as a share of count
    units: tuple[tuple[str, str], ...]  # (measure, unit) for sum and histogram measures

    def unit_of(self, measure: str) -> str | None:
        return dict(self.units).get(measure)


def presentation_of(schema: Schema) -> Presentation:
    """The schema's hints, else the defaults: the title is the schema name; chart by the
    first route or host dimension, else the first dimension; every count_if is a rate;
    a measure whose name ends in ``_ms``/``_seconds``/``_bytes`` gets that unit."""
    if schema.presentation is not None:
        return schema.presentation
    chart_by = next((d.name for d in schema.dimensions if d.type in ("route", "host")),
                    schema.dimensions[0].name if schema.dimensions else None)
    from deidentify.measures import ROLE_RATE, kind_of  # builds on this module
    units = []
    for m in schema.measures:
        for suffix, unit in (("_ms", "ms"), ("_seconds", "s"), ("_bytes", "bytes"),
                             ("_minor", "minor_units")):
            if kind_of(m).has_unit and m.name.endswith(suffix):
                units.append((m.name, unit))
                break
    return Presentation(title=schema.name.replace("_", " "), chart_by=chart_by,
                        rates=tuple(m.name for m in schema.measures
                                    if kind_of(m).role == ROLE_RATE),
                        units=tuple(units))


def _parse_presentation(ctx: _Ctx, doc: Located, dimensions: tuple[Dimension, ...],
                        measures: tuple[Measure, ...]) -> Presentation | None:
    if "presentation" not in doc:
        return None
    node = ctx.mapping(doc["presentation"], "presentation", doc, "presentation")
    ctx.keys(node, "presentation", (), PRESENTATION_KEYS)
    from deidentify.measures import KINDS, ROLE_RATE, kind_of  # builds on this module
    dim_names = [d.name for d in dimensions]
    kinds = {m.name: kind_of(m) for m in measures}
    rate_types = _either([t for t, k in KINDS.items() if k.role == ROLE_RATE])
    unit_types = _either([t for t, k in KINDS.items() if k.has_unit])
    title = node["title"] if "title" in node else None
    if title is not None:
        title = ctx.string(node, "title", "presentation")
        if len(title) > 80:
            raise ctx.error("presentation 'title' is longer than 80 characters", node, "title",
                            fix="keep the title short")
    chart_by = None
    if "chart_by" in node:
        chart_by = node["chart_by"]
        if chart_by not in dim_names:
            raise ctx.error(f"presentation 'chart_by' names unknown dimension '{chart_by}'",
                            node, "chart_by",
                            fix=f"one of: {', '.join(dim_names) or '(no dimensions)'}")
    rates: tuple[str, ...] | None = None
    if "rates" in node:
        raw = node["rates"]
        if not isinstance(raw, LocatedList):
            raise ctx.error(f"presentation 'rates' must be a list of {rate_types} measures",
                            node, "rates", fix="e.g. rates: [errors], or rates: [] for none")
        for i, name in enumerate(raw):
            kind = kinds.get(name)
            if kind is None or kind.role != ROLE_RATE:
                choices = [n for n, k in kinds.items() if k.role == ROLE_RATE]
                raise ctx.error(f"presentation 'rates' entry '{name}' is not a {rate_types} "
                                "measure", raw, i,
                                fix=f"one of: {', '.join(choices) or '(none declared)'}")
        rates = tuple(raw)
    units: dict[str, str] = {}
    if "units" in node:
        unit_node = ctx.mapping(node["units"], "presentation.units", node, "units")
        for name in unit_node:
            kind = kinds.get(name)
            if kind is None or not kind.has_unit:
                raise ctx.error(f"presentation.units names '{name}', not a {unit_types} "
                                "measure", unit_node, name,
                                fix=f"units apply to {unit_types.replace(' or ', ' and ')} "
                                    "measures")
            unit = unit_node[name]
            if unit not in UNITS:
                raise ctx.error(f"presentation.units '{name}' has unknown unit '{unit}'",
                                unit_node, name, fix=f"one of: {', '.join(UNITS)}")
            units[name] = unit
    stub = Schema(name=doc["name"], version=1, description="", source_type="", topic="",
                  window=Window(1000, 0), dimensions=dimensions, measures=measures,
                  privacy=Privacy((), 1, (), 1), examples=())
    default = presentation_of(stub)
    return Presentation(
        title=title if title is not None else default.title,
        chart_by=chart_by if chart_by is not None else default.chart_by,
        rates=rates if rates is not None else default.rates,
        units=tuple(units.items()) if "units" in node else default.units)


def _either(names: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else "".join(names)

"""Import the route templates of a service's OpenAPI 3 document (a route dimension's ``openapi``).

A route dimension may name the service's OpenAPI document (YAML or JSON, a path relative to
the schema file)::

    route: {type: route, field: route, url_field: url, openapi: openapi/shop.yaml}

At load time every key of ``paths`` becomes a declared route template (its literals may then
be published, see :mod:`deidentify.dimensions.route`), prefixed with the path of each entry
of ``servers`` (server variables take their ``default``). Only ``openapi``, ``servers`` and
``paths`` are read; operations, schemas and examples are ignored. Path keys starting with
``x-`` (specification extensions) are skipped.

Segments that cannot be published as literals become placeholders, which is the safe
direction: a segment mixing text and parameters (``{name}.{format}``, ``{id}:cancel``) is a
placeholder named after its first parameter, and a literal with characters outside
``[A-Za-z0-9._~-]`` or longer than 64 characters is ``{seg}``. Parameter names are
lowercased and reduced to ``[a-z0-9_]`` (``{user-id}`` -> ``{user_id}``).

Errors are :class:`~deidentify.errors.SchemaError` naming the OpenAPI file and line (or the
schema file and the line of its ``openapi`` key when the file cannot be read) with a fix.
Swagger 2.0 documents are refused (convert them to OpenAPI 3).

Memory and time: the document is parsed once per schema load (PyYAML's C parser when
present); files over :data:`MAX_OPENAPI_BYTES` are refused.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from deidentify.dimensions.route import MAX_DEPTH_LIMIT, MAX_SEGMENT_LEN_LIMIT, declared_template
from deidentify.errors import SchemaError
from deidentify.schema.yamlsource import Located, LocatedList, read_yaml

__all__ = ["MAX_OPENAPI_BYTES", "MAX_OPENAPI_ROUTES", "load_openapi_routes"]

MAX_OPENAPI_BYTES = 16 * 1024 * 1024
MAX_OPENAPI_ROUTES = 20_000

_PARAM_RE = re.compile(r"\{([^{}/]*)\}")
_SAFE_LITERAL_RE = re.compile(r"[A-Za-z0-9._~-]+")
_SERVER_URL_RE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://[^/]*)?(/[^?#]*)?")


def _param_name(raw: str) -> str:
    name = re.sub(r"[^a-z0-9_]", "_", raw.strip().lower())[:32]
    if not name:
        return "param"
    return "_" + name[:31] if name[0].isdigit() else name


def _segment(seg: str) -> str:
    """One OpenAPI path segment as a declared-template segment."""
    m = _PARAM_RE.search(seg)
    if m is not None:
        return "{" + _param_name(m[1]) + "}"   # {id}, {name}.{format}, {id}:cancel
    if (not _SAFE_LITERAL_RE.fullmatch(seg) or len(seg) > MAX_SEGMENT_LEN_LIMIT
            or seg[0] == "~" or not seg.strip(".")):
        return "{seg}"
    return seg


def _server_paths(doc: Located, file: str) -> list[str]:
    """Base paths from ``servers`` ("" when absent or ``/``), server variables resolved."""
    servers = doc.get("servers")
    if servers is None:
        return [""]
    if not isinstance(servers, LocatedList):
        raise SchemaError("OpenAPI 'servers' must be a list", file=file,
                          line=doc.line_of("servers"), fix="write servers: [{url: /api}]")
    bases: list[str] = []
    for i, server in enumerate(servers):
        line = servers.line_of(i)
        if not isinstance(server, Located) or not isinstance(server.get("url"), str):
            raise SchemaError("an OpenAPI server must be a mapping with a 'url' string",
                              file=file, line=line, fix="write - url: https://api.example.com/v1")
        url = server["url"]
        variables = server.get("variables") or {}
        for var in _PARAM_RE.findall(url):
            spec = variables.get(var) if isinstance(variables, dict) else None
            if not isinstance(spec, dict) or not isinstance(spec.get("default"), str):
                raise SchemaError(f"server variable '{var}' has no default", file=file,
                                  line=line, fix="give every server variable a 'default'")
            url = url.replace("{" + var + "}", spec["default"])
        match = _SERVER_URL_RE.match(url.strip())
        base = (match[1] or "") if match else ""
        base = base.rstrip("/")
        if base not in bases:
            bases.append(base)
    return bases or [""]


def _read_document(path: Path, schema_file: str, schema_line: int | None) -> Located:
    file = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SchemaError(f"cannot read the OpenAPI document {file} "
                          f"({exc.strerror or type(exc).__name__})", file=schema_file,
                          line=schema_line,
                          fix="'openapi' is a path relative to the schema file") from None
    if len(raw) > MAX_OPENAPI_BYTES:
        raise SchemaError(f"the OpenAPI document is larger than "
                          f"{MAX_OPENAPI_BYTES // (1024 * 1024)} MiB", file=file, line=1,
                          fix="declare the routes in the schema with 'routes:' instead")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SchemaError("the OpenAPI document is not UTF-8", file=file,
                          line=raw[:exc.start].count(b"\n") + 1, fix="save it as UTF-8") from None
    doc = read_yaml(text, file, loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(doc, Located):
        raise SchemaError("an OpenAPI document must be a mapping", file=file, line=1,
                          fix="point 'openapi' at the service's OpenAPI 3 document")
    return doc


def load_openapi_routes(path: str | Path, *, schema_file: str,
                        schema_line: int | None = None) -> tuple[str, ...]:
    """The declared route templates of the OpenAPI 3 document at ``path``, in file order."""
    path = Path(path)
    file = str(path)
    doc = _read_document(path, schema_file, schema_line)
    version = doc.get("openapi")
    if "swagger" in doc and version is None:
        raise SchemaError("Swagger 2.0 documents are not supported", file=file,
                          line=doc.line_of("swagger"),
                          fix="convert it to OpenAPI 3, or list the routes under 'routes:'")
    if not isinstance(version, str) or not re.match(r"^3\.\d+", version):
        raise SchemaError("not an OpenAPI 3 document (no 'openapi: 3.x' key)", file=file,
                          line=doc.line_of("openapi") if "openapi" in doc else 1,
                          fix="point 'openapi' at the service's OpenAPI 3 document")
    paths = doc.get("paths")
    if paths is None:
        return ()
    if not isinstance(paths, Located):
        raise SchemaError("OpenAPI 'paths' must be a mapping", file=file,
                          line=doc.line_of("paths"), fix="write paths: {/v1/orders: {...}}")
    bases = _server_paths(doc, file)
    routes: list[str] = []
    for key in paths:
        if key.startswith("x-"):
            continue
        line = paths.line_of(key)
        if not key.startswith("/"):
            raise SchemaError("an OpenAPI path must start with '/'", file=file, line=line,
                              fix="write the path as /resource/{id}")
        segments = "/".join(_segment(s) for s in key.split("/") if s)
        for base in bases:
            text = f"{base}/{segments}" if segments else (base or "/")
            if text.count("/") > MAX_DEPTH_LIMIT:
                raise SchemaError(f"an OpenAPI path has more than {MAX_DEPTH_LIMIT} segments "
                                  "(with its server path)", file=file, line=line,
                                  fix="shorten the path or the server URL's path")
            try:
                routes.append(declared_template(text))
            except ValueError as exc:
                raise SchemaError(f"OpenAPI path (with its server path): {exc}", file=file,
                                  line=line, fix="write the path as /resource/{id}") from None
        if len(routes) > MAX_OPENAPI_ROUTES:
            raise SchemaError(f"more than {MAX_OPENAPI_ROUTES} OpenAPI routes", file=file,
                              line=line, fix="import a smaller document")
    return tuple(routes)

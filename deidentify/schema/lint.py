"""``deidentify schema check``: lint a loaded schema (warnings, never a refusal).

Lint findings are warnings (the schema still loads); structural problems are
:class:`~deidentify.errors.SchemaError` raised by the loader before linting starts.
Running a schema's examples needs the pipeline, a layer above ``schema/``: that lives in
:mod:`deidentify.schema_examples` (``deidentify schema test``).
"""

from __future__ import annotations

from dataclasses import dataclass

from deidentify.dimensions.route import RouteVocabulary
from deidentify.dimensions.routewords import ROUTE_WORDS
from deidentify.schema.model import DEFAULT_DIMENSION_CAP, DEFAULT_MAX_CELLS, OTHER, SAFE_K, Schema

# How many distinct values a dimension type can take, at most, before caps.
_TYPE_CARDINALITY = {"status": 500, "status_class": 6, "bool": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: warning: {self.message}"


def worst_case_series(schema: Schema) -> int:
    """Upper bound of published cells per window (before k suppresses any)."""
    product = 1
    for dim in schema.dimensions:
        cap = schema.privacy.cap_of(dim.name)
        if dim.type == "enum":
            values = len(dim.values or ()) + 1          # + __other__
            bound = min(values, cap + 1)
        else:
            bound = min(_TYPE_CARDINALITY.get(dim.type, cap), cap) + 1
        product *= bound
    return min(product, schema.privacy.max_cells + 1)


def lint(schema: Schema) -> list[Finding]:
    out: list[Finding] = []
    privacy = schema.privacy
    if privacy.k < SAFE_K:
        out.append(Finding(schema.file, None, f"k is {privacy.k}; below {SAFE_K} a published "
                           "cell can describe a handful of people"))
    for dim_name, cap in privacy.caps:
        if cap > DEFAULT_DIMENSION_CAP:
            out.append(Finding(schema.file, None, f"cap of dimension '{dim_name}' is {cap}, above "
                               f"the safe default {DEFAULT_DIMENSION_CAP}"))
    if privacy.max_cells > DEFAULT_MAX_CELLS:
        out.append(Finding(schema.file, None, f"max_cells is {privacy.max_cells}, above the "
                           f"safe default {DEFAULT_MAX_CELLS}"))
    for dim in schema.dimensions:
        if dim.type == "id":
            out.append(Finding(schema.file, dim.line, f"dimension '{dim.name}' publishes an "
                               "opaque id; make sure it names an organisation (tenant), never "
                               "a person — a sole trader's tenant id identifies a person"))
    return out


def route_literal_sources(schema: Schema) -> list[str]:
    """Per route dimension, where its published literals may come from (``schema check``).

    Route literals fail closed: a literal segment is published only if it is a shipped route
    word or declared by the schema; every other word becomes ``{word}``. Counts only, never
    the words themselves.
    """
    out = []
    for dim in schema.dimensions:
        if dim.type != "route":
            continue
        vocab = RouteVocabulary(dim.declared_routes)
        openapi = (f"OpenAPI {dim.openapi} ({len(dim.openapi_routes)} templates)"
                   if dim.openapi else "no OpenAPI document")
        out.append(f"route literals of '{dim.name}': {len(ROUTE_WORDS)} shipped route words; "
                   f"{len(dim.routes)} declared templates; {openapi}; "
                   f"{len(vocab.templates)} distinct templates, {len(vocab.literals)} declared "
                   "literals; any other word publishes as {word}")
    return out


__all__ = ["OTHER", "Finding", "lint", "route_literal_sources", "worst_case_series"]

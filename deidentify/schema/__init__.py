"""Allowlist schemas: load YAML, validate with file:line errors, compile into closures.

``load_schemas(directory)`` is the only entry point the rest of the code needs; it returns a
:class:`SchemaSet` or raises :class:`~deidentify.errors.SchemaError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from deidentify.dimensions.vocab import VOCABULARIES
from deidentify.errors import SchemaError
from deidentify.schema.compile import CompiledSchema
from deidentify.schema.decoder import EventDecoder
from deidentify.schema.model import DEFAULT_K_FLOOR, Schema, parse_schema
from deidentify.schema.yamlsource import read_yaml

__all__ = ["DEFAULT_K_FLOOR", "CompiledSchema", "Schema", "SchemaSet", "check_compatible", "default_schema_dir",
           "load_schema_file", "load_schemas"]

MAX_SCHEMA_BYTES = 256 * 1024


def default_schema_dir() -> Path:
    """The shipped ``schemas/`` folder (repository checkout or installed share)."""
    here = Path(__file__).resolve().parent.parent.parent / "schemas"
    return here


@dataclass(frozen=True)
class SchemaSet:
    """Every schema of a directory, compiled, indexed by raw event type."""

    schemas: tuple[Schema, ...]
    compiled: tuple[CompiledSchema, ...]
    by_type: dict[str, tuple[CompiledSchema, ...]] = field(default_factory=dict)
    directory: str = ""
    # The allowlist decoder of these schemas (raw bytes -> only the fields they name).
    decoder: EventDecoder | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_schemas(cls, schemas: list[Schema], directory: str = "") -> SchemaSet:
        compiled = tuple(CompiledSchema(s) for s in schemas)
        by_type: dict[str, list[CompiledSchema]] = {}
        for cs in compiled:
            by_type.setdefault(cs.schema.source_type, []).append(cs)
        return cls(tuple(schemas), compiled, {t: tuple(v) for t, v in by_type.items()},
                   directory, EventDecoder(compiled))

    def by_name(self, name: str) -> Schema | None:
        for schema in self.schemas:
            if schema.name == name:
                return schema
        return None

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(sorted({s.topic for s in self.schemas}))

    def versions(self) -> dict[str, int]:
        return {s.name: s.version for s in self.schemas}


def load_schema_file(path: str | Path, *, k_floor: int = DEFAULT_K_FLOOR) -> Schema:
    """Load and validate one schema file; a ``privacy.k`` below ``k_floor`` is refused."""
    path = Path(path)
    file = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SchemaError(f"cannot read the file ({exc.strerror or type(exc).__name__})",
                          file=file, fix="check the path and its permissions") from None
    if len(raw) > MAX_SCHEMA_BYTES:
        raise SchemaError("the file is larger than 256 KiB", file=file,
                          fix="a schema is short; move examples into fewer, smaller cases")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SchemaError("the file is not UTF-8", file=file, line=line,
                          fix="save it as UTF-8") from None
    return parse_schema(read_yaml(text, file), file, VOCABULARIES, k_floor=k_floor)


def load_schemas(directory: str | Path | None = None, *,
                 k_floor: int = DEFAULT_K_FLOOR) -> SchemaSet:
    """Load, validate and compile every ``*.yaml``/``*.yml`` file of ``directory``.

    ``k_floor`` is the deployment's minimum k (default 5): a schema below it is refused with
    its file and line. Only unit tests of the pure core pass a lower value.
    """
    directory = Path(directory) if directory is not None else default_schema_dir()
    if not directory.is_dir():
        raise SchemaError("the schema directory does not exist", file=str(directory),
                          fix="pass --schemas pointing at a folder of *.yaml files")
    files = sorted(p for p in directory.iterdir()
                   if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise SchemaError("no *.yaml schema in the directory (an empty allowlist publishes "
                          "nothing, so this is refused)", file=str(directory),
                          fix="add a schema file; see schemas/README.md")
    schemas: list[Schema] = []
    seen: dict[str, str] = {}
    for path in files:
        schema = load_schema_file(path, k_floor=k_floor)
        if schema.name in seen:
            raise SchemaError(f"schema name '{schema.name}' is also used by {seen[schema.name]}",
                              file=str(path), line=1, fix="give every schema a unique name")
        seen[schema.name] = str(path)
        schemas.append(schema)
    return SchemaSet.from_schemas(schemas, str(directory))


def _meaning(schema: Schema) -> Schema:
    """The parts of a schema that decide what a published cell means."""
    return replace(schema, description="", examples=(), file="", presentation=None)


def check_compatible(running: SchemaSet, new: SchemaSet) -> None:
    """Refuse a reload that changes a schema's meaning without bumping its version.

    Cells of one (schema, version, window) are merged by the sidecar and deduplicated by the
    central collector on that key, so two different meanings under one version would be
    mixed. A version may only go up.
    """
    for schema in new.schemas:
        old = running.by_name(schema.name)
        if old is None:
            continue
        if schema.version < old.version:
            raise SchemaError(f"version went down from {old.version} to {schema.version}",
                              file=schema.file, fix=f"use version {old.version + 1} or higher")
        if schema.version == old.version and _meaning(schema) != _meaning(old):
            raise SchemaError(f"schema '{schema.name}' changed but its version is still "
                              f"{schema.version}", file=schema.file,
                              fix=f"bump 'version' to {old.version + 1}")

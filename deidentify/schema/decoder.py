"""Allowlist decoding: a raw event's bytes become an object holding only the fields the
schemas name; every other field is skipped by the parser and never becomes a Python object.

Built once per :class:`~deidentify.schema.SchemaSet`: for every event type one
``msgspec.Struct`` (a tagged union on ``type``) whose fields are exactly the paths its schemas
read (``tenant_id``, ``ts``, dimension, measure and condition fields, subjects), nested paths
as nested Structs, and one generated ``extract`` per schema that reads those attributes
(``deidentify.schema.codegen`` with a :class:`StructFields` layout).

Fields are typed loosely: a leaf accepts any JSON value (an int in the int64 range, a float,
a string, a bool, null, a list or an object), so a value of the wrong type reaches the
generated extractor, which rejects it by the same reason as today. A nested path's parent is
its Struct or any non-object value (where the reference reads a missing field). An object
standing where a leaf is read is a wrong type whatever its contents, so a Struct instance
and a dict are the same to every typed transform.

The executable specification is the reference path: ``orjson.loads`` of the whole line,
then :attr:`CompiledSchema.extract_reference`. The decoded path must reach the same outcome
for every line (differential tests over raw bytes: ``tests/schema/test_decoder.py`` and
``tests/test_pipeline.py``). Where msgspec and orjson could disagree, this module takes the
reference path for that one line instead (:meth:`EventDecoder.read`):

* msgspec refuses a line (malformed JSON, invalid UTF-8 in a read string, an escaped lone
  surrogate, nesting deeper than msgspec's limit, a number out of range, an int outside
  int64, a non-object line, an unknown or non-string ``type``, a duplicate ``type`` key):
  the line is parsed with ``orjson.loads`` and handled exactly as the reference does, so the
  reason (``invalid_json``, ``not_an_object``, ``unknown_type``...) and the extraction are
  the reference's;
* msgspec does not check UTF-8 inside strings it skips: a line that is not pure ASCII is
  UTF-8-validated first (``bytes.decode``), and on failure takes the reference path
  (``invalid_json``).
* msgspec's nesting limit is Python's recursion limit, which a host program may raise (and
  a deep skip would then recurse on the C stack): a line that could nest deeper than
  orjson's 1024 levels — at least :data:`DEEP_MIN_BYTES` long with more than
  :data:`MAX_DEPTH` opening brackets, counted anywhere, strings included — never reaches
  msgspec; orjson decides it (``invalid_json`` when it is that deep). Typical events are far
  shorter, so this costs one length comparison.

Duplicate keys: the last value wins, everywhere — orjson's rule (sidecar and ``preview``
share this pipeline; the central collector reads aggregates with orjson), and msgspec's for
Struct fields at any depth; a duplicate ``type`` is refused by msgspec's tagged union and so
takes the reference path, where the last ``type`` decides.

One deliberate difference: a number beyond the float range (such as ``1e400`` or an integer
of 309+ digits) in a field no schema names is syntactically valid JSON (RFC 8259 leaves the
range to implementations) and is now skipped like the rest of that field, where ``orjson``
refused the whole line as ``invalid_json``. In a field a schema reads it is still
``invalid_json``, and so it is anywhere in a line the decoded path refuses for another reason
(an unknown ``type``, say: orjson decides that line). Nesting depth: deeper than msgspec's limit (1023, below orjson's 1024) is
refused by msgspec and then decided by orjson, so the depth rule is unchanged.

Memory: a few Struct classes and one generated function per schema; nothing per event is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any, Union

import msgspec
import orjson

from deidentify.schema.codegen import StructFields, build_extract
from deidentify.schema.compile import (
    EXTRACT_RUNTIME,
    INVALID_JSON,
    MISSING,
    NOT_AN_OBJECT,
    UNKNOWN_TYPE,
    CompiledSchema,
    schema_paths,
)

# orjson reads integers from -2**63 to 2**64 - 1 as int and larger ones as float; msgspec
# cannot bound above int64 in C, so an int beyond int64 takes the reference path.
_INT64 = Annotated[int, msgspec.Meta(ge=-(2 ** 63), le=2 ** 63 - 1)]
_SCALARS = (_INT64, float, str, bool, type(None), list)
LEAF: Any = Union[(*_SCALARS, dict)]

MAX_DEPTH = 1024                       # orjson's nesting limit (the reference)
DEEP_MIN_BYTES = 2 * (MAX_DEPTH + 1)    # the shortest line nested deeper than MAX_DEPTH


def too_deep_for_msgspec(value: bytes) -> bool:
    """Could ``value`` nest deeper than :data:`MAX_DEPTH`? (Conservative: counts brackets.)"""
    return len(value) >= DEEP_MIN_BYTES and value.count(b"[") + value.count(b"{") > MAX_DEPTH


# What the decoded path raises for a line it does not decode (DecodeError and ValidationError
# are ValueErrors, and so is the UnicodeDecodeError of a string it reads or of the UTF-8
# check; KeyError: the placeholder type below).
DECODE_ERRORS = (ValueError, RecursionError, KeyError)


class _Placeholder(msgspec.Struct, tag_field="type", tag="\x00deidentify:placeholder"):
    """Makes the decoded type a union even for one event type (see EventDecoder)."""


Targets = tuple[tuple[CompiledSchema, Callable[[Any], Any]], ...]


class _Node:
    """One object level of the paths of an event type: child name -> _Node. A node with
    children is decoded as a Struct (also when a schema reads it as a leaf: any object is
    a wrong type there, whatever it holds)."""

    __slots__ = ("children",)

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}


def _tree(paths: Iterable[str]) -> _Node:
    root = _Node()
    for path in paths:
        node = root
        for part in path.split("."):
            node = node.children.setdefault(part, _Node())
    return root


class EventDecoder:
    """The allowlist decoder of one schema set (see the module docstring)."""

    __slots__ = ("by_class", "by_type", "decode", "struct_of_type")

    def __init__(self, compiled: Iterable[CompiledSchema], *, reference: bool = False) -> None:
        """``reference``: decode every line the reference way, with the closure extractors
        (``extract_reference``): the executable specification the tests compare against."""
        by_type_list: dict[str, list[CompiledSchema]] = {}
        for cs in compiled:
            by_type_list.setdefault(cs.schema.source_type, []).append(cs)
        # The reference path: orjson's dict, and each schema's extractor over dicts.
        self.by_type: dict[str, Targets] = {
            etype: tuple((cs, cs.extract_reference if reference else cs.extract)
                         for cs in group)
            for etype, group in by_type_list.items()}
        self.by_class: dict[type, Targets] = {}
        self.struct_of_type: dict[str, type] = {}
        serial = [0]
        for etype, group in by_type_list.items() if not reference else ():
            paths = sorted({p for cs in group for p in schema_paths(cs.schema)})
            tree = _tree(p for p in paths if p != "type" and not p.startswith("type."))
            fields = StructFields(tag=etype)
            root = self._struct(tree, "", fields, serial, tag=etype)
            self.struct_of_type[etype] = root
            self.by_class[root] = tuple(
                (cs, build_extract(cs.schema, cs.dimension_transforms, EXTRACT_RUNTIME, fields))
                for cs in group)
        roots = tuple(self.struct_of_type.values())
        if not roots:
            self.decode: Callable[[bytes], Any] | None = None
        else:
            # A lone tagged Struct does not require its tag; a union does. The placeholder
            # type is not in by_class: a line of that type takes the reference path.
            target: Any = Union[(*roots, _Placeholder)]
            self.decode = msgspec.json.Decoder(target).decode

    def _struct(self, node: _Node, prefix: str, fields: StructFields, serial: list[int], *,
                tag: str | None = None) -> type:
        """The Struct class of one object level; registers its paths in ``fields``."""
        serial[0] += 1
        name = f"S{serial[0]}"
        members: list[tuple[str, Any, Any]] = []
        rename: dict[str, str] = {}
        cls_fields: list[tuple[str, str]] = []
        for i, (key, child) in enumerate(sorted(node.children.items())):
            attr = f"f{i}"
            path = f"{prefix}{key}"
            if child.children:
                sub = self._struct(child, path + ".", fields, serial)
                kind: Any = Union[(sub, *_SCALARS)]
            else:
                kind = LEAF
            members.append((attr, kind, MISSING))
            rename[attr] = key
            cls_fields.append((path, attr))
        options: dict[str, Any] = {"tag_field": "type", "tag": tag} if tag is not None else {}
        cls = msgspec.defstruct(name, members, rename=rename, gc=False, **options)
        fields.add_struct(name, cls, prefix, cls_fields)
        return cls

    def read(self, value: bytes) -> tuple[Any, Targets] | str:
        """One line, as the pipeline reads it: the decoded object and the schemas to run
        (each with the extractor that reads that object), or the reason it is dropped.
        ``value`` is already within the size cap."""
        try:
            if not value.isascii():
                value.decode()
            if too_deep_for_msgspec(value):
                raise RecursionError
            decode = self.decode
            if decode is None:
                raise ValueError
            obj = decode(value)
            return obj, self.by_class[obj.__class__]
        except DECODE_ERRORS:
            return self.read_reference(value)

    def read_reference(self, value: bytes) -> tuple[Any, Targets] | str:
        """The reference decode (orjson, whole line) with the dict extractors."""
        try:
            event = orjson.loads(value)
        except orjson.JSONDecodeError:
            return INVALID_JSON
        if type(event) is not dict:
            return NOT_AN_OBJECT
        etype = event.get("type")
        targets = self.by_type.get(etype) if type(etype) is str else None
        if targets is None:
            return UNKNOWN_TYPE
        return event, targets

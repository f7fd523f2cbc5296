"""YAML reading that remembers where every value came from.

Schema errors must name the file and the line, so the loader composes the YAML node tree
(PyYAML's ``compose``) and converts it into plain containers that carry line numbers:

* :class:`Located` mappings are ``dict`` subclasses with ``.line`` (1-based line of the
  mapping) and ``.key_lines`` (key -> 1-based line of that key);
* sequences are :class:`LocatedList` (``list`` subclass with ``.line`` and ``.item_lines``);
* scalars are resolved by PyYAML's safe resolver (ints, floats, bools, null, strings).

Only the YAML safe subset is accepted: tags other than the core schema's are refused, and so
are anchors/aliases (a schema is short; aliases only hide what is being allowed).
"""

from __future__ import annotations

from typing import Any

import yaml

from deidentify.errors import SchemaError


class Located(dict):
    """A mapping that knows its own line and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LocatedList(list):
    """A sequence that knows its own line and the line of each item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


def line_of(container: Any, key: Any, default: int | None = None) -> int | None:
    """Best line for ``container[key]``; works for both located containers."""
    if isinstance(container, Located):
        return container.line_of(key)
    if isinstance(container, LocatedList):
        return container.line_of(key)
    return default


_SCALAR_CONSTRUCTOR = yaml.SafeLoader(stream="")


def _scalar(node: yaml.Node, file: str) -> Any:
    try:
        return _SCALAR_CONSTRUCTOR.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise SchemaError(
            f"cannot read the value: {getattr(exc, 'problem', None) or 'unsupported YAML'}",
            file=file, line=node.start_mark.line + 1,
            fix="write a plain string, number, true/false or null",
        ) from None


def _convert(node: yaml.Node, file: str, seen: set[int]) -> Any:
    if id(node) in seen:
        raise SchemaError("YAML anchors and aliases are not allowed in schemas", file=file,
                          line=node.start_mark.line + 1, fix="write the value out in full")
    if isinstance(node, yaml.MappingNode):
        seen.add(id(node))
        out = Located()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise SchemaError("mapping keys must be plain strings", file=file,
                                  line=key_node.start_mark.line + 1, fix="use a plain key")
            key = _scalar(key_node, file)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                raise SchemaError(f"duplicate key '{key}'", file=file,
                                  line=key_node.start_mark.line + 1,
                                  fix="keep one occurrence of the key")
            if key == "<<":
                raise SchemaError("YAML merge keys are not allowed in schemas", file=file,
                                  line=key_node.start_mark.line + 1, fix="write keys out in full")
            out.key_lines[key] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, file, seen)
        return out
    if isinstance(node, yaml.SequenceNode):
        seen.add(id(node))
        items = LocatedList()
        items.line = node.start_mark.line + 1
        items.item_lines = []
        for item in node.value:
            items.item_lines.append(item.start_mark.line + 1)
            items.append(_convert(item, file, seen))
        return items
    return _scalar(node, file)


def read_yaml(text: str, file: str, loader: type = yaml.SafeLoader) -> Any:
    """Parse one YAML document into located containers, or raise :class:`SchemaError`.

    ``loader`` may be PyYAML's C ``CSafeLoader`` for large documents (OpenAPI imports); it
    composes the same nodes with the same marks.
    """
    try:
        node = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SchemaError(
            f"not valid YAML: {exc.problem or exc.context}", file=file,
            line=(mark.line + 1) if mark else None,
            fix="check indentation and quoting around this line",
        ) from None
    except yaml.YAMLError as exc:
        raise SchemaError(f"not valid YAML: {type(exc).__name__}", file=file,
                          fix="check the file is one YAML document") from None
    if node is None:
        raise SchemaError("the file is empty", file=file, line=1,
                          fix="write a schema mapping with name, version, source, window, ...")
    return _convert(node, file, set())

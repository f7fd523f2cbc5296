"""The import layering of the package, read from the source with ``ast`` (no import runs).

The pure core, bottom to top (a module imports only from its own layer or a lower one):

    0  deidentify.errors, deidentify.contract   the error tree; the aggregate wire contract
    1  deidentify.dimensions                    typed transforms (route, host, enum, ...)
    2  deidentify.schema, deidentify.measures   load + compile schemas into dimension closures
    3  deidentify.window                        event-time windows over compiled schemas
    4  deidentify.privacy                       k threshold, caps, guard: filter window cells
    5  deidentify.pipeline, deidentify.batchloop  pure composition of all of the above
                                             (batchloop: the pipeline's generated loop)

Events meet the schema before its dimensions, but the schema *compiles* the dimension
transforms, so ``dimensions/`` sits below ``schema/``. ``privacy/`` sits above the window
because it filters the window's closed cells (``privacy/threshold.py`` reads
``ClosedWindow``); the caps the window applies while aggregating are handed to it by the
pipeline (``WindowAggregator(window_caps=...)``), so ``window.py`` imports no privacy module.

Also checked: the core imports no Kafka/faust/aiohttp client, ``contract.py`` imports
nothing of deidentify but ``errors``, and the central collector imports nothing from
``deidentify.sidecar`` (the two runtimes share code through the core and a shared runtime
package, never through each other).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "deidentify"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("deidentify.errors", "deidentify.contract"),
    ("deidentify.dimensions",),
    ("deidentify.schema", "deidentify.measures"),
    ("deidentify.window",),
    ("deidentify.privacy",),
    ("deidentify.pipeline", "deidentify.batchloop"),
)
RUNTIME_CLIENTS = ("aiokafka", "kafka", "faust", "aiohttp", "confluent_kafka", "prometheus_client")
# The one runtime-side duty of the core: a measure kind's Prometheus export (issue 10 puts
# it with the kind). It may import these, but only inside a function (central builds its
# exporters; preview and the sidecar's pipeline never load them): checked below.
LAZY_EXPORT_IMPORTS = {
    "deidentify.measures": {"prometheus_client", "deidentify.metrics"},
}


def rank_of(module: str) -> int | None:
    """The layer of a deidentify module (a package's layer covers its submodules)."""
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                return rank
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, *, top_level_only: bool = False) -> list[str]:
    """Every module an import statement anywhere in ``source`` names (function bodies too,
    unless ``top_level_only``); ``from deidentify import x`` names ``deidentify.x``; relative
    imports are resolved."""
    out = []
    package = module if module.count(".") == 0 else module.rsplit(".", 1)[0]
    tree = ast.parse(source)
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if base == "deidentify":
                out.extend(f"deidentify.{alias.name}" for alias in node.names)
            else:
                out.append(base)
    return out


def upward_imports(module: str, source: str) -> list[str]:
    """The imports of a core module that break the layering, as readable findings."""
    own = rank_of(module)
    assert own is not None, f"{module} is not a core module"
    bad = []
    lazy_ok = LAZY_EXPORT_IMPORTS.get(module, set())
    top = set(imported_modules(source, module, top_level_only=True))
    for target in imported_modules(source, module):
        if target in lazy_ok and target not in top:
            continue
        if target.split(".")[0] in RUNTIME_CLIENTS:
            bad.append(f"{module} imports the runtime client {target}")
        if not target.startswith("deidentify.") and target != "deidentify":
            continue
        rank = rank_of(target)
        if rank is None:
            bad.append(f"{module} imports {target}, which is not in the core")
        elif rank > own:
            bad.append(f"{module} (layer {own}) imports {target} (layer {rank})")
    return bad


def core_modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        if rank_of(name) is not None:
            out.append((name, path))
    return out


CORE = core_modules()


def test_the_layer_table_covers_the_core():
    names = {name for name, _ in CORE}
    for expected in ("deidentify.contract", "deidentify.dimensions.route", "deidentify.schema.lint",
                     "deidentify.window", "deidentify.privacy.caps", "deidentify.privacy.threshold",
                     "deidentify.pipeline", "deidentify.batchloop"):
        assert expected in names


@pytest.mark.parametrize(("module", "path"), CORE, ids=[name for name, _ in CORE])
def test_no_core_module_imports_upwards(module, path):
    assert upward_imports(module, path.read_text(encoding="utf-8")) == []


def test_the_check_sees_upward_and_runtime_imports():
    """The check above can fail: a lazy import inside a function counts too."""
    assert upward_imports("deidentify.schema.lint",
                          "def f():\n    from deidentify.pipeline import Pipeline\n") == [
        "deidentify.schema.lint (layer 2) imports deidentify.pipeline (layer 5)"]
    assert upward_imports("deidentify.window", "from deidentify import privacy\n") == [
        "deidentify.window (layer 3) imports deidentify.privacy (layer 4)"]
    assert upward_imports("deidentify.privacy.guard", "from . import names\nimport aiokafka\n") == [
        "deidentify.privacy.guard imports the runtime client aiokafka"]
    assert upward_imports("deidentify.pipeline", "from deidentify.metrics import x\n") == [
        "deidentify.pipeline imports deidentify.metrics, which is not in the core"]
    assert upward_imports("deidentify.privacy.caps", "from deidentify.window import CellAdmit\n") == []


def test_contract_imports_only_the_standard_library_orjson_and_errors():
    source = (PACKAGE / "contract.py").read_text(encoding="utf-8")
    imported = imported_modules(source, "deidentify.contract")
    assert [m for m in imported if m.startswith("deidentify")] in ([], ["deidentify.errors"])
    third_party = {m.split(".")[0] for m in imported} - {
        "__future__", "collections", "datetime", "enum", "re", "typing", "orjson", "deidentify"}
    assert third_party == set()


CENTRAL = sorted((module_name(p), p) for p in (PACKAGE / "central").rglob("*.py"))


@pytest.mark.parametrize(("module", "path"), CENTRAL, ids=[n for n, _ in CENTRAL])
def test_central_imports_nothing_from_the_sidecar(module, path):
    imported = imported_modules(path.read_text(encoding="utf-8"), module)
    assert [m for m in imported if m == "deidentify.sidecar" or m.startswith("deidentify.sidecar.")] == []


def test_the_export_exception_is_lazy_only():
    """measures.py may load the Prometheus client inside a function (its kinds' export), never
    at import time, and no other core module may load it at all."""
    assert upward_imports("deidentify.measures",
                          "def export():\n    from prometheus_client import Counter\n") == []
    assert upward_imports("deidentify.measures", "from prometheus_client import Counter\n") == [
        "deidentify.measures imports the runtime client prometheus_client"]
    assert upward_imports("deidentify.window",
                          "def export():\n    from prometheus_client import Counter\n") == [
        "deidentify.window imports the runtime client prometheus_client"]

"""The shared runtime's boundaries: one service never imports the other, and Kafka errors
are translated by one function, whoever calls it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from aiokafka import errors as kerr

from deidentify.errors import AuthenticationFailed, BrokerUnavailable, RuntimeFailure
from deidentify.runtime.kafka_errors import translate

PACKAGE = Path(__file__).resolve().parents[2] / "deidentify"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def imports_of(*parts: str) -> dict[str, set[str]]:
    files = [p for part in parts for p in
             (sorted((PACKAGE / part).rglob("*.py")) if (PACKAGE / part).is_dir()
              else sorted(PACKAGE.glob(part)))]
    assert files, parts
    return {str(f.relative_to(PACKAGE)): imported_modules(f) for f in files}


@pytest.mark.parametrize("parts, forbidden", [
    (("central",), "deidentify.sidecar"),
    (("sidecar",), "deidentify.central"),
    (("runtime",), "deidentify.sidecar"),
    (("runtime",), "deidentify.central"),
    (("demo.py", "generate*.py"), "deidentify.sidecar"),
])
def test_one_service_never_imports_the_other(parts, forbidden) -> None:
    offenders = {f: sorted(m for m in mods if m == forbidden or m.startswith(forbidden + "."))
                 for f, mods in imports_of(*parts).items()}
    assert {f: m for f, m in offenders.items() if m} == {}


def test_the_import_check_sees_imports() -> None:
    """A checker that read nothing would pass the test above vacuously."""
    assert "deidentify.runtime.settings" in imports_of("sidecar")["sidecar/settings.py"]
    assert "deidentify.runtime.security" in imports_of("central")["central/settings.py"]


@pytest.mark.parametrize("exc, causes, expected, needle", [
    (kerr.KafkaConnectionError(), (), BrokerUnavailable, "no broker answered"),
    # aiokafka logs a refused SASL login and raises a connection error: the logged cause wins
    (kerr.KafkaConnectionError(), (kerr.SaslAuthenticationFailed,), AuthenticationFailed,
     "refused the SASL credentials (SaslAuthenticationFailed)"),
    (kerr.NodeNotReadyError(), (), BrokerUnavailable, "no broker answered"),
    (kerr.UnsupportedVersionError(), (), RuntimeFailure, "UnsupportedVersionError"),
])
def test_one_translation_for_every_caller(exc, causes, expected, needle) -> None:
    out = translate(exc, "127.0.0.1:9092", causes)
    assert type(out) is expected
    assert str(out).startswith("127.0.0.1:9092: ") and needle in str(out)

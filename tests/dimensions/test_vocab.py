"""Closed vocabularies: shape and a few known members and non-members."""

from __future__ import annotations

import re

import pytest

from deidentify.dimensions.vocab import (
    CURRENCIES,
    HTTP_METHODS,
    VOCABULARIES,
    WEBHOOK_EVENT_TYPES,
)


def test_vocabulary_names() -> None:
    assert VOCABULARIES == {"http_methods": HTTP_METHODS, "iso4217": CURRENCIES,
                            "webhook_event_types": WEBHOOK_EVENT_TYPES}
    assert all(isinstance(v, frozenset) for v in VOCABULARIES.values())


def test_http_methods() -> None:
    assert HTTP_METHODS == {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
                            "TRACE", "CONNECT"}


def test_currencies_are_iso4217_shaped() -> None:
    assert 170 <= len(CURRENCIES) <= 185
    assert all(re.fullmatch(r"[A-Z]{3}", c) for c in CURRENCIES)


@pytest.mark.parametrize(("code", "member"), [
    ("EUR", True), ("USD", True), ("JPY", True), ("GBP", True), ("CHF", True), ("XCG", True),
    ("ZWG", True), ("SLE", True), ("XXX", True),
    ("HRK", False), ("ZWL", False), ("ANG", False), ("SLL", False), ("eur", False),
    ("BTC", False), ("", False),
], ids=lambda v: str(v) or "empty")
def test_currency_membership(code: str, member: bool) -> None:
    assert (code in CURRENCIES) is member


def test_webhook_event_types() -> None:
    assert 15 <= len(WEBHOOK_EVENT_TYPES) <= 30
    assert {"charge.succeeded", "charge.failed", "invoice.paid",
            "customer.created"} <= WEBHOOK_EVENT_TYPES
    assert all(re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", t) for t in WEBHOOK_EVENT_TYPES)

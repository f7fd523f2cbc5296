"""Closed vocabularies that an ``enum`` dimension may reference by name.

A schema writes ``{type: enum, field: currency, values: iso4217}`` (a name from
:data:`VOCABULARIES`) or an inline list. A value outside the vocabulary becomes ``__other__``;
the vocabulary itself is the whole set of strings that can ever be published for it.

Invariants

* Every vocabulary is a ``frozenset`` of short ASCII tokens that name no person, customer or
  tenant: methods, currency codes, event type names. Membership is a set lookup.
* Matching is exact (case-sensitive): ``get`` is not ``GET``. Normalising is the producer's
  job; a mis-cased value is counted under ``__other__``, not guessed at.

Memory: three frozensets, about 200 short strings in all (~20 KiB), shared by every schema.
"""

from __future__ import annotations

__all__ = ["CURRENCIES", "HTTP_METHODS", "VOCABULARIES", "WEBHOOK_EVENT_TYPES"]

HTTP_METHODS: frozenset[str] = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
"""The RFC 9110 methods plus PATCH (RFC 5789), uppercase as sent on the wire."""

CURRENCIES: frozenset[str] = frozenset("""
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR
    ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA
    MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK
    PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC
    SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND
    VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR
    ZMW ZWG
""".split())
"""ISO 4217 List One alphabetic codes in force (funds, metals and X-codes included).

Withdrawn and therefore absent: HRK (Croatia adopted EUR, 2023), SLL (replaced by SLE),
ZWL (replaced by ZWG, 2024), ANG (replaced by XCG, 2025), CUC (withdrawn 2021). A late
event in a withdrawn currency rolls into ``__other__``.
"""

WEBHOOK_EVENT_TYPES: frozenset[str] = frozenset({
    "charge.succeeded",
    "charge.failed",
    "charge.refunded",
    "charge.dispute.created",
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "invoice.created",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_failed",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "subscription.created",
    "subscription.updated",
    "subscription.canceled",
    "checkout.session.completed",
    "payout.paid",
    "payout.failed",
    "refund.created",
})
"""The event types the platform emits to merchants' webhook endpoints."""

VOCABULARIES: dict[str, frozenset[str]] = {
    "http_methods": HTTP_METHODS,
    "iso4217": CURRENCIES,
    "webhook_event_types": WEBHOOK_EVENT_TYPES,
}
"""Vocabulary name (as written in a schema's ``values:``) -> the closed set."""

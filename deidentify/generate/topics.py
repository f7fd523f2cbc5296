"""Raw topic names of the three event kinds, with or without a region prefix.

``raw_topic(kind)`` is the raw topic of an event kind (``TOPICS``);
``raw_topic(kind, region)`` prefixes it with the region, ``"eu.telemetry.raw.http_requests"``.
The prefix exists so that several simulated regions can share one local broker (demo,
tests); a real region has its own cluster and uses the bare names, which are also the
``source.topic`` of the shipped schemas.
"""

from __future__ import annotations

import re

from deidentify.errors import SettingsError

TOPICS: dict[str, str] = {
    "http_request": "telemetry.raw.http_requests",
    "billing_charge": "telemetry.raw.billing_charges",
    "webhook_delivery": "telemetry.raw.webhook_deliveries",
}
"""Raw topic of each event kind, without region prefix (see ``raw_topic``)."""

_REGION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


def raw_topic(kind: str, region: str | None = None) -> str:
    """The raw topic that carries events of ``kind``.

    Without ``region`` this is the bare name from ``TOPICS`` (one Kafka cluster per region,
    as in production). With ``region`` the name is prefixed ``f"{region}.{topic}"`` so that
    several simulated regions can share one broker.
    """
    try:
        topic = TOPICS[kind]
    except KeyError:
        raise SettingsError(
            f"unknown event kind {kind!r}; expected one of {', '.join(TOPICS)}"
        ) from None
    if region is None:
        return topic
    check_region(region)
    return f"{region}.{topic}"


def check_region(region: str) -> None:
    """Raise ``SettingsError`` unless ``region`` is a region name (``eu``, ``us-east``)."""
    if not isinstance(region, str) or not _REGION_RE.match(region):
        raise SettingsError(
            "region must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$ (e.g. 'eu', 'us-east')"
        )

"""What both session kinds share (the one-process :class:`~deidentify.sidecar.loop.BatchLoop`
and the ``--stages split`` :class:`~deidentify.sidecar.split.SplitSession`): the raw topics
and the admin client they start with, the broker probe behind ``/readyz`` and the hand-off
of a failure to the supervisor."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from deidentify.errors import DeidentifyError
from deidentify.schema import SchemaSet
from deidentify.sidecar import kafka
from deidentify.sidecar.health import HealthState
from deidentify.sidecar.settings import SidecarSettings


class SessionBase:
    """Mixed into a session that sets ``settings``, ``schemas``, ``_admin`` (a Kafka admin
    client or None), ``_closed``, ``health`` and ``_failure`` (None until something failed)."""

    settings: SidecarSettings
    schemas: SchemaSet
    _admin: Any
    _topics: list[str]
    _closed: bool
    health: HealthState
    _failure: DeidentifyError | None

    def raw_topics(self, schemas: SchemaSet | None = None) -> list[str]:
        schemas = schemas or self.schemas
        return sorted(self.settings.raw_topic(t) for t in schemas.topics)

    async def _start_admin(self) -> list[str]:
        """Preflight, the admin client, the raw topics (created if missing): their names."""
        s = self.settings
        await kafka.preflight(s)
        self._admin = kafka.make_admin(s)
        with kafka.translated("start admin client"):
            await self._admin.start()
        self._topics = self.raw_topics()
        return await kafka.ensure_topics(self._admin, s, self._topics)

    async def probe(self) -> None:
        """A metadata request: tells /readyz the broker answers when no events flow."""
        if self._admin is None or self._closed:
            return
        try:
            with kafka.translated("metadata probe"):
                await asyncio.wait_for(self._admin.describe_cluster(), 5.0)
        except (TimeoutError, DeidentifyError):
            self.health.broker_failing = True
            return
        self.health.broker_failing = False
        self.health.broker_ok = time.monotonic()

    def fail(self, exc: DeidentifyError) -> None:
        """Make the session fail at its next step (the supervisor starts a new one)."""
        if self._failure is None:
            self._failure = exc

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

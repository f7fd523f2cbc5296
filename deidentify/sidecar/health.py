"""``/livez``, ``/readyz`` and ``/metrics`` on ``--port`` (aiohttp, already a faust dependency).

* ``/livez`` — 200 while the event loop turns: a heartbeat task stamps the time every
  second; a stamp older than :data:`LIVENESS_STALE_S` (a blocked loop) answers 503.
* ``/readyz`` — 200 ``{"ready": true, ...}`` when partitions are assigned, the broker
  answered recently (a fetch with records, a committed transaction or a metadata probe),
  no consumed progress has waited too long for its commit, and the producer is not fenced;
  otherwise 503 with ``{"ready": false, "reason": "..."}``. Reasons are fixed phrases.
* ``/metrics`` — Prometheus text of the sidecar's own registry
  (:func:`deidentify.metrics.sidecar_metrics`). Internal data: authenticated as the web
  configuration says (:mod:`deidentify.webconfig`, ``--web-config``); the probes never are,
  and say only status. The server core (web config, probe port, start/stop) is
  :class:`deidentify.runtime.web.ServiceWebServer`, shared with the central collector.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson
from aiohttp import web

from deidentify.metrics import SidecarMetrics
from deidentify.runtime.web import ServiceWebServer, metrics_handler
from deidentify.webconfig import WebSettings

LIVENESS_STALE_S = 10.0
BROKER_STALE_S = 15.0        # no sign of the broker for this long -> not ready
COMMIT_STALE_S = 30.0        # consumed progress not committed for this long -> not ready


@dataclass
class HealthState:
    """What the sidecar last saw; monotonic seconds (``time.monotonic()``), 0 = never."""

    heartbeat: float = 0.0
    session_up: bool = False           # producer + consumer started, subscribed
    assigned: int = 0
    last_fetch: float = 0.0            # last getmany that returned records
    last_commit: float = 0.0           # last committed transaction
    broker_ok: float = 0.0             # last sign of a live broker (fetch, commit, probe)
    broker_failing: bool = False       # the last metadata probe failed
    uncommitted_since: float | None = None
    fenced: bool = False
    stopping: bool = False
    last_failure: str | None = None    # error class name of the last session failure

    def readiness(self, now: float | None = None) -> tuple[bool, str]:
        now = time.monotonic() if now is None else now
        if self.fenced:
            return False, "producer fenced: another instance owns the transactional id"
        if self.stopping:
            return False, "shutting down"
        if not self.session_up:
            reason = "not connected to Kafka"
            if self.last_failure:
                reason += f" (last failure: {self.last_failure})"
            return False, reason
        if self.assigned <= 0:
            return False, "no partitions assigned"
        if self.broker_failing or now - self.broker_ok > BROKER_STALE_S:
            return False, "no successful fetch, commit or metadata request recently"
        if self.uncommitted_since is not None and now - self.uncommitted_since > COMMIT_STALE_S:
            return False, "consumed events have not been committed recently"
        return True, "ok"


class HealthServer(ServiceWebServer):
    """The sidecar's small HTTP server; ``start()``/``stop()``, double stop is safe."""

    def __init__(self, state: HealthState, metrics: SidecarMetrics, *, host: str | None = None,
                 port: int, listen: WebSettings | None = None) -> None:
        self.state = state
        self.metrics = metrics
        super().__init__(port=port, listen=listen, host=host)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/livez", self.livez)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", metrics_handler(self.metrics.registry))

    async def livez(self, request: web.Request) -> web.Response:
        age = time.monotonic() - self.state.heartbeat
        alive = age <= LIVENESS_STALE_S
        body = {"alive": alive, "heartbeat_age_s": round(age, 3)}
        return web.Response(body=orjson.dumps(body), status=200 if alive else 503,
                            content_type="application/json")

    async def readyz(self, request: web.Request) -> web.Response:
        ready, reason = self.state.readiness()
        body = {"ready": ready, "reason": reason, "assigned_partitions": self.state.assigned}
        return web.Response(body=orjson.dumps(body), status=200 if ready else 503,
                            content_type="application/json")

"""The collector's HTTP side: dashboard, JSON API, Prometheus metrics and health probes.

Routes (all GET)::

    /                  the dashboard (static/index.html); charts drawn in the browser as SVG
    /static/<file>     the dashboard's own JS and CSS (a fixed allowlist of files)
    /api/summary       the dashboard's JSON (see deidentify.central.state.summary)
    /metrics           Prometheus text format (the collector's private registry)
    /livez             200 while the event loop answers (liveness probe)
    /readyz            200 when consuming (partitions assigned), else 503 (readiness probe)

This is a plain aiohttp server run next to the faust app (faust's own web server is turned
off: its built-in views would claim ``/``). Nothing here needs the internet: there is no CDN,
no web font, no chart library; the page is self-contained and served with a strict
Content-Security-Policy (``'self'`` only, no inline script).

Everything served comes from aggregates that passed central re-validation, and the page
inserts every value as text (never as HTML).

It is all Internal data: who may read it is decided by the web configuration
(:mod:`deidentify.webconfig`, ``--web-config``): TLS, client certificates, bcrypt basic-auth
users; without one the server listens on loopback only. ``/livez`` and ``/readyz`` are never
authenticated and say only status. Every other request is written to the access log
(logger ``deidentify.access``, or ``--access-log FILE``): user or certificate subject, route
template, status; never a query string.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry

from deidentify.runtime.web import ServiceWebServer, metrics_handler
from deidentify.webconfig import WebSettings

__all__ = ["DashboardServer", "STATIC_DIR", "build_web_app"]

log = logging.getLogger("deidentify.central.web")

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_FILES = {
    "app.js": "text/javascript",
    "charts.js": "text/javascript",
    "app.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class Views:
    """What the web layer reads from the collector (plain callables, no faust)."""

    summary: Callable[[], dict[str, Any]]
    readiness: Callable[[], tuple[bool, list[str]]]
    registry: CollectorRegistry


@web.middleware
async def _headers(request: web.Request, handler):
    response = await handler(request)
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    return response


def add_routes(app: web.Application, views: Views) -> None:
    """The collector's routes (see the module docstring) on ``app``."""
    index = (STATIC_DIR / "index.html").read_bytes()
    static = {name: ((STATIC_DIR / name).read_bytes(), ctype)
              for name, ctype in STATIC_FILES.items() if (STATIC_DIR / name).is_file()}

    async def dashboard(_request: web.Request) -> web.Response:
        return web.Response(body=index, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-cache"})

    async def static_file(request: web.Request) -> web.Response:
        item = static.get(request.match_info["name"])
        if item is None:
            raise web.HTTPNotFound()
        body, ctype = item
        return web.Response(body=body, content_type=ctype,
                            headers={"Cache-Control": "no-cache"})

    async def api_summary(_request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(views.summary()), content_type="application/json",
                            headers={"Cache-Control": "no-store"})

    async def livez(_request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_request: web.Request) -> web.Response:
        ready, reasons = views.readiness()
        body = orjson.dumps({"ready": ready, "waiting_for": reasons})
        return web.Response(body=body, status=200 if ready else 503,
                            content_type="application/json")

    app.router.add_get("/", dashboard)
    app.router.add_get("/static/{name}", static_file)
    app.router.add_get("/api/summary", api_summary)
    app.router.add_get("/metrics", metrics_handler(views.registry))
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)


def build_web_app(views: Views) -> web.Application:
    """The collector's application without a listener (tests serve it directly)."""
    app = web.Application(middlewares=[_headers])
    add_routes(app, views)
    return app


class DashboardServer(ServiceWebServer):
    """Start/stop the HTTP side on ``host:port``; ``stop`` is safe to call twice."""

    middlewares = (_headers,)

    def __init__(self, views: Views, *, host: str | None = None, port: int,
                 listen: WebSettings | None = None) -> None:
        self.views = views
        super().__init__(port=port, listen=listen, host=host, access_log=True)
        self.started = False

    def routes(self, app: web.Application) -> None:
        add_routes(app, self.views)

    async def start(self) -> int:
        port = await super().start()
        self.started = True
        log.warning("dashboard %s (metrics /metrics, probes /livez /readyz)", self.describe())
        return port

    async def stop(self) -> None:
        self.started = False
        await super().stop()

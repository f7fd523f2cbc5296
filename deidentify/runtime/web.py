"""The HTTP server core of both services: one aiohttp app under the web configuration.

:class:`ServiceWebServer` owns what the sidecar's health server and the collector's
dashboard share: the :class:`~deidentify.webconfig.WebAccess` (TLS, client certificates,
bcrypt basic auth, reloaded on change; without a web config, loopback only), the
:class:`~deidentify.webconfig.WebListener` (the main port and, with ``--probe-port``, a
plain-HTTP listener that serves only ``/livez`` and ``/readyz``), ``start()``/``stop()``
(double stop is safe) and ``/metrics`` (:func:`metrics_handler`, Prometheus text of the
service's own registry). Each service adds its routes in ``routes(app)``.

Probes are never authenticated and say only status; every other route is Internal data.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from deidentify.webconfig import WebAccess, WebListener, WebSettings, access_logger

__all__ = ["ServiceWebServer", "metrics_handler"]


def metrics_handler(registry: CollectorRegistry):
    """``GET /metrics``: the Prometheus text format of ``registry``."""
    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})
    return metrics


class ServiceWebServer:
    """A service's HTTP side; subclasses add their routes in :meth:`routes`.

    ``listen``: the resolved ``--bind``/``--web-config``/... settings (``host`` alone is a
    shortcut for tests: loopback rules and no web config). ``access_log``: keep an access
    log (``--access-log`` or the logger ``deidentify.access``).
    """

    middlewares: tuple = ()

    def __init__(self, *, port: int, listen: WebSettings | None = None,
                 host: str | None = None, access_log: bool = False) -> None:
        if listen is None:
            listen = WebSettings() if host is None else WebSettings(bind=host)
        self.host = listen.bind
        self.access = WebAccess(listen, access_log=access_logger(listen.access_log)
                                if access_log else None)
        app = web.Application(middlewares=list(self.middlewares))
        self.routes(app)
        self.listener = WebListener(app, self.access, port=port)

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @property
    def port(self) -> int:
        return self.listener.port

    async def start(self) -> int:
        """Bind and serve; returns the bound port (useful with port 0)."""
        return await self.listener.start()

    async def stop(self) -> None:
        await self.listener.stop()

    def describe(self) -> str:
        return self.listener.describe()

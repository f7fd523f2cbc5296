"""``deidentify central``: consume the central aggregates topic, re-validate, merge, serve.

::

    <topic>.<region> ──► faust agent (read_committed) ──► CentralCollector.handle(bytes, region)
                                                          │  AggregateValidator  (layer 6)
                                                          │  CentralState.merge  (idempotent)
                                                          ▼  CentralMetrics
                          aiohttp: /  /api/summary  /metrics  /livez  /readyz

Modules: :mod:`deidentify.central.settings` (every option, declared once),
:mod:`deidentify.central.collector` (the per-message path, no Kafka), this module (the faust
wiring and ``main``); the HTTP side is :mod:`deidentify.central.web` on the shared server
core (:mod:`deidentify.runtime.web`), logging is :mod:`deidentify.runtime.logs`'s.

Faust decisions

* ``read_committed``: faust-streaming 0.15.3 opens its aiokafka consumer with
  ``isolation_level="read_committed"`` only when ``processing_guarantee="exactly_once"``,
  which also turns on one transactional producer per partition - pointless for a sink that
  produces nothing. :class:`ReadCommittedTransport` is the stock aiokafka transport whose
  consumer thread sets ``read_committed`` on the consumer it creates (and reports lag against
  the last stable offset). aiokafka is pinned (0.14.0); if the attribute it sets disappears,
  the collector refuses to start rather than read uncommitted data.
* No faust internal topics or tables: ``topic_disable_leader``, no tables,
  ``topic_allow_declare=False`` (the collector never creates topics; the sidecars, the demo
  or the operator do). The app id is the consumer group; offsets are committed by faust.
* Faust's web server is off; :mod:`deidentify.central.web` serves the HTTP side (aiohttp),
  started and stopped with the faust worker as an extra mode service.
* State is in memory: after a restart the collector continues from the committed offsets,
  so the dashboard refills as new windows arrive (Prometheus keeps the long history).
  Run one collector per consumer group: each instance sees only its partitions.

Region bound to identity: each region's sidecar publishes to its own topic
``<topic>.<region>`` (Kafka ACLs let only that region's principal write it); the collector
reads the configured regions' topics, takes the region from the topic and refuses an
aggregate that claims another one (``region_mismatch``). Regions outside ``--regions`` are
never read, so invented regions cannot take the state's room.

Never logs an aggregate's content: rejections are counted by reason, nothing else.
faust's worker keeps the process's logging (``override_logging=False``): one format for
both services.
"""

from __future__ import annotations

import logging
import shutil
import ssl
import sys
import tempfile
from typing import Any

from deidentify.central.collector import CentralCollector
from deidentify.central.settings import CentralSettings, load_settings
from deidentify.errors import ConfigError, SettingsError
from deidentify.runtime.logs import configure_logging
from deidentify.runtime.security import KafkaSecurity

__all__ = ["build_app", "main"]

log = logging.getLogger("deidentify.central")

LAG_INTERVAL_S = 5.0
METADATA_MAX_AGE_MS = 15_000


def _faust_credentials(security: KafkaSecurity | None):
    """KafkaSecurity -> faust credentials (None for PLAINTEXT)."""
    if security is None or security.protocol == "PLAINTEXT":
        return None
    import faust
    from aiokafka.helpers import create_ssl_context

    context = None
    if security.uses_tls:
        try:
            context = create_ssl_context(cafile=security.ssl_cafile,
                                         certfile=security.ssl_certfile,
                                         keyfile=security.ssl_keyfile)
        except (OSError, ssl.SSLError) as exc:
            raise SettingsError(f"KAFKA_SSL_CAFILE / KAFKA_SSL_CERTFILE / KAFKA_SSL_KEYFILE: "
                                f"cannot load them ({type(exc).__name__})") from None
    if not security.uses_sasl:
        return faust.SSLCredentials(context)
    password = security.sasl_password   # kafka_security never leaves it unset with SASL
    return faust.SASLCredentials(username=security.sasl_username,
                                 password=password.reveal() if password else None,
                                 ssl_context=context, mechanism=security.sasl_mechanism)


# ---------------------------------------------------------------------------- faust


def _read_committed_transport():
    """The aiokafka faust transport with a read_committed consumer (see module docstring)."""
    from faust.transport.drivers import aiokafka as driver

    class ReadCommittedConsumerThread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport):
            consumer = super()._create_worker_consumer(transport)
            if getattr(consumer, "_isolation_level", None) not in ("read_uncommitted",
                                                                   "read_committed"):
                raise ConfigError("this aiokafka version does not let the central collector "
                                  "read with isolation_level=read_committed; refusing to "
                                  "read uncommitted aggregates")
            consumer._isolation_level = "read_committed"
            return consumer

        def highwater(self, tp):
            return self._ensure_consumer().last_stable_offset(tp)

    class ReadCommittedConsumer(driver.Consumer):
        def _new_consumer_thread(self):
            return ReadCommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)

    class ReadCommittedTransport(driver.Transport):
        Consumer = ReadCommittedConsumer

    return ReadCommittedTransport


def build_app(settings: CentralSettings, collector: CentralCollector, datadir: str,
              credentials: Any = None):
    """The faust app: one agent on the central topic, a lag timer; web server off."""
    import faust

    transport_cls = _read_committed_transport()

    class CentralApp(faust.App):
        def _new_transport(self):
            return transport_cls(self.conf.broker_consumer, self, loop=self.loop)

    brokers = [f"kafka://{b.strip()}" for b in settings.bootstrap.split(",")]
    app = CentralApp(
        settings.group,
        broker=brokers,
        broker_credentials=credentials,
        autodiscover=False,
        web_enabled=False,
        topic_disable_leader=True,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        datadir=datadir,
        store="memory://",
        broker_commit_interval=1.0,
        # a central topic created after the collector started is picked up within 15 s
        # (faust's default is 5 minutes of "Ignoring missing topic")
        consumer_metadata_max_age_ms=METADATA_MAX_AGE_MS,
        stream_wait_empty=False,
    )
    regions = settings.topics
    topic = app.topic(*regions, key_type=bytes, value_type=bytes, key_serializer="raw",
                      value_serializer="raw", allow_empty=True)

    @app.agent(topic, name="deidentify-central-aggregates")
    async def consume(stream):
        async for event in stream.events():
            message = event.message
            # a topic outside the configured set cannot happen; "" would fail closed anyway
            collector.handle(message.value, region=regions.get(message.topic, ""))

    @app.timer(interval=LAG_INTERVAL_S)
    async def measure_lag() -> None:
        await _measure_lag(app, collector)

    @app.on_partitions_assigned.connect
    async def on_assigned(sender, assigned, **kwargs) -> None:
        collector.assigned_partitions = len(assigned)
        collector.consuming = True

    @app.on_partitions_revoked.connect
    async def on_revoked(sender, revoked, **kwargs) -> None:
        collector.assigned_partitions = 0

    return app


async def _measure_lag(app, collector: CentralCollector) -> None:
    try:
        consumer = app.consumer
        assigned = consumer.assignment()
    except Exception:
        return
    collector.assigned_partitions = len(assigned)
    lags: dict[int, int] = {}
    for tp in assigned:
        try:
            high = consumer.highwater(tp)
            position = await consumer.position(tp)
        except Exception:
            continue
        if high is not None and position is not None:
            lags[tp.partition] = max(0, high - position)
    collector.set_lag(lags)


def _web_service(collector: CentralCollector, settings: CentralSettings):
    from mode import Service

    from deidentify.central.web import DashboardServer, Views

    server = DashboardServer(Views(summary=collector.summary, readiness=collector.readiness,
                                   registry=collector.metrics.registry),
                             port=settings.port, listen=settings.web)

    class DashboardService(Service):
        async def on_start(self) -> None:
            await server.start()
            collector.web_started = True

        async def on_stop(self) -> None:
            collector.web_started = False
            await server.stop()

    return DashboardService()


def main(args: Any) -> int:
    """Run the collector until SIGINT/SIGTERM. 0 on a clean stop, 2 on bad settings."""
    from deidentify.schema import load_schemas
    try:
        settings = load_settings(args)
        schemas = load_schemas(settings.schemas_dir, k_floor=settings.k_floor)
        credentials = _faust_credentials(settings.security)
        collector = CentralCollector(
            schemas, retention_windows=settings.retention_windows,
            max_regions=len(settings.regions),
            max_values_per_dimension=settings.max_values_per_dimension)
    except ConfigError as exc:
        print(f"deidentify central: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    for warning in getattr(settings.security, "warnings", ()):
        log.warning("%s", warning)
    datadir = tempfile.mkdtemp(prefix="deidentify-central-")
    try:
        app = build_app(settings, collector, datadir, credentials)
        import faust
        worker = faust.Worker(app, _web_service(collector, settings), quiet=True,
                              loglevel=settings.log_level, override_logging=False)
        worker.spinner = None   # no terminal escape codes in the collector's output
        log.warning("deidentify central: %s; schemas %s", settings.describe(),
                    ", ".join(f"{s.name} v{s.version}" for s in schemas.schemas))
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            code = exc.code
            return code if isinstance(code, int) else (0 if code is None else 1)
        return 0
    finally:
        shutil.rmtree(datadir, ignore_errors=True)

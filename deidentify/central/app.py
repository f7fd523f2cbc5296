"""``deidentify central``: consume the central aggregates topic, re-validate, merge, serve.

::

    <topic>.<region> ──► faust agent (read_committed) ──► CentralCollector.handle(bytes, region)
                                                          │  AggregateValidator  (layer 6)
                                                          │  CentralState.merge  (idempotent)
                                                          ▼  CentralMetrics
                          aiohttp: /  /api/summary  /metrics  /livez  /readyz

Settings (flag, else environment variable, else default):

=================  ===================================  ====================================
flag               environment variable                 default
=================  ===================================  ====================================
``--bootstrap``    ``KAFKA_BOOTSTRAP``                  ``127.0.0.1:9092``
``--topic``        ``DEIDENTIFY_CENTRAL_TOPIC``         ``telemetry.central.aggregates``
``--regions``      ``DEIDENTIFY_REGIONS``               (required) e.g. ``eu,us``: reads
                                                        ``<topic>.<region>`` of each
``--schemas``      ``DEIDENTIFY_SCHEMAS``               the shipped ``schemas/``
``--port``         ``DEIDENTIFY_PORT``                  ``8090``
``--k-floor``      ``DEIDENTIFY_K_FLOOR``               ``5`` (can only be raised: 5..1000)
``--bind``         ``DEIDENTIFY_BIND``                  ``127.0.0.1`` (address of the web server)
``--web-config``   ``DEIDENTIFY_WEB_CONFIG``            none (plain HTTP, no auth: loopback only)
``--insecure-listen`` ``DEIDENTIFY_INSECURE_LISTEN``    off (non-loopback without auth refused)
``--probe-port``   ``DEIDENTIFY_PROBE_PORT``            none (probes on ``--port`` only)
``--access-log``   ``DEIDENTIFY_ACCESS_LOG``            none (logger ``deidentify.access``)
(none)             ``DEIDENTIFY_CENTRAL_GROUP``         ``deidentify-central`` (consumer group
                                                        and faust app id)
(none)             ``DEIDENTIFY_CENTRAL_RETENTION``     ``60`` windows per region and schema
(none)             ``DEIDENTIFY_CENTRAL_MAX_VALUES``    ``1000`` distinct values per region and
                                                        dimension held at once (more: ignored,
                                                        counted as ``label_overflow``)
(none)             ``DEIDENTIFY_LOG_LEVEL``             ``WARNING``
(none)             ``KAFKA_SECURITY_PROTOCOL``          ``PLAINTEXT`` (``SSL``, ``SASL_SSL``,
                                                        ``SASL_PLAINTEXT``)
(none)             ``KAFKA_SASL_MECHANISM``             ``SCRAM-SHA-512`` with SASL
(none)             ``KAFKA_SASL_USERNAME``              (required with SASL)
(none)             ``KAFKA_SASL_PASSWORD_FILE``         or the password in ``KAFKA_SASL_PASSWORD``
(none)             ``KAFKA_SSL_CAFILE``                 the system's trusted CAs
(none)             ``KAFKA_SSL_CERTFILE``, ``_KEYFILE`` none (client certificate, mTLS)
=================  ===================================  ====================================

The Kafka security variables mean exactly what they mean for ``deidentify run`` (parsed by
the same code, :mod:`deidentify.sidecar.settings`); the password is never logged.

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
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import ssl
import sys
import tempfile
import time
from dataclasses import dataclass, fields
from typing import Any

from deidentify.central.export import CentralExport
from deidentify.central.series import RetainedLabels, label_names, remove_series
from deidentify.central.state import (
    DEFAULT_MAX_REGIONS,
    DEFAULT_MAX_VALUES_PER_DIMENSION,
    IGNORE_REASONS,
    CentralState,
    MergeOutcome,
    summary,
)
from deidentify.central.validate import (
    CENTRAL_REJECT_REASONS,
    REGION_MISMATCH,
    Accepted,
    AggregateValidator,
    Rejected,
    ValidAggregate,
)
from deidentify.contract import REGION_RE, Detector
from deidentify.errors import ConfigError, SettingsError
from deidentify.logsafe import ValueFreeFormatter
from deidentify.metrics import CentralMetrics, central_metrics
from deidentify.schema import DEFAULT_K_FLOOR, SchemaSet
from deidentify.webconfig import WebSettings, web_settings

__all__ = ["CentralCollector", "CentralSettings", "build_app", "load_settings", "main"]

log = logging.getLogger("deidentify.central")

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_TOPIC = "telemetry.central.aggregates"
DEFAULT_PORT = 8090
DEFAULT_GROUP = "deidentify-central"
DEFAULT_RETENTION_WINDOWS = 60
LAG_INTERVAL_S = 5.0
METADATA_MAX_AGE_MS = 15_000
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

KAFKA_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
HOST_PORT_RE = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+):(\d{1,5})$")


# ---------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class CentralSettings:
    bootstrap: str
    topic: str
    regions: tuple[str, ...]
    schemas_dir: str
    port: int
    web: WebSettings
    group: str
    retention_windows: int
    log_level: str
    k_floor: int = DEFAULT_K_FLOOR
    max_values_per_dimension: int = DEFAULT_MAX_VALUES_PER_DIMENSION
    security: Any = None          # deidentify.sidecar.settings.KafkaSecurity

    @property
    def topics(self) -> dict[str, str]:
        """Topic -> the region it belongs to: ``<topic>.<region>`` per configured region."""
        return {f"{self.topic}.{region}": region for region in self.regions}

    @property
    def bind(self) -> str:
        return self.web.bind

    def describe(self) -> str:
        protocol = getattr(self.security, "protocol", "PLAINTEXT")
        return (f"topics {','.join(self.topics)} on {self.bootstrap} ({protocol}), group {self.group}, "
                f"schemas {self.schemas_dir}, {self.web.describe(self.port)}")


def load_settings(args: Any, env: dict[str, str] | None = None) -> CentralSettings:
    """Flags, else environment, else defaults; raises SettingsError naming what to fix."""
    env = dict(os.environ) if env is None else env

    def pick(flag_value: Any, env_name: str, default: Any) -> Any:
        if flag_value not in (None, ""):
            return flag_value
        value = env.get(env_name, "")
        return value if value != "" else default

    bootstrap = str(pick(getattr(args, "bootstrap", None), "KAFKA_BOOTSTRAP", DEFAULT_BOOTSTRAP))
    for part in bootstrap.split(","):
        if not HOST_PORT_RE.match(part.strip()):
            raise SettingsError("--bootstrap / KAFKA_BOOTSTRAP must be HOST:PORT[,HOST:PORT...]")
    topic = str(pick(getattr(args, "topic", None), "DEIDENTIFY_CENTRAL_TOPIC", DEFAULT_TOPIC))
    if not KAFKA_NAME_RE.match(topic):
        raise SettingsError("--topic / DEIDENTIFY_CENTRAL_TOPIC must match [A-Za-z0-9._-]{1,200}")
    regions_raw = str(pick(getattr(args, "regions", None), "DEIDENTIFY_REGIONS", ""))
    regions = tuple(dict.fromkeys(r.strip() for r in regions_raw.split(",") if r.strip()))
    if not regions:
        raise SettingsError(f"--regions / DEIDENTIFY_REGIONS is required: the regions whose "
                            f"topics {topic}.<region> to read (e.g. --regions eu,us)")
    for region in regions:
        if not REGION_RE.match(region):
            raise SettingsError(f"--regions / DEIDENTIFY_REGIONS: '{region}' must match "
                                "^[a-z][a-z0-9-]{0,31}$ (e.g. eu, us-east)")
        if not KAFKA_NAME_RE.match(f"{topic}.{region}"):
            raise SettingsError(f"--topic / DEIDENTIFY_CENTRAL_TOPIC: '{topic}.{region}' is "
                                "too long for a topic name")
    schemas_dir = getattr(args, "schemas", None) or env.get("DEIDENTIFY_SCHEMAS") or ""
    if not schemas_dir:
        from deidentify.schema import default_schema_dir
        schemas_dir = str(default_schema_dir())
    port_raw = pick(getattr(args, "port", None), "DEIDENTIFY_PORT", DEFAULT_PORT)
    try:
        port = int(port_raw)
    except (TypeError, ValueError):
        raise SettingsError("--port / DEIDENTIFY_PORT must be an integer 0..65535") from None
    if not 0 <= port <= 65535:
        raise SettingsError("--port / DEIDENTIFY_PORT must be an integer 0..65535")
    web = web_settings(args, env, access_log=True)
    group = env.get("DEIDENTIFY_CENTRAL_GROUP", "") or DEFAULT_GROUP
    if not KAFKA_NAME_RE.match(group):
        raise SettingsError("DEIDENTIFY_CENTRAL_GROUP must match [A-Za-z0-9._-]{1,200}")
    retention_raw = env.get("DEIDENTIFY_CENTRAL_RETENTION", "") or DEFAULT_RETENTION_WINDOWS
    try:
        retention = int(retention_raw)
    except ValueError:
        raise SettingsError("DEIDENTIFY_CENTRAL_RETENTION must be an integer >= 1") from None
    if retention < 1:
        raise SettingsError("DEIDENTIFY_CENTRAL_RETENTION must be an integer >= 1")
    max_values_raw = env.get("DEIDENTIFY_CENTRAL_MAX_VALUES", "") or \
        DEFAULT_MAX_VALUES_PER_DIMENSION
    try:
        max_values = int(max_values_raw)
    except ValueError:
        max_values = 0
    if max_values < 1:
        raise SettingsError("DEIDENTIFY_CENTRAL_MAX_VALUES must be an integer >= 1")
    level = (env.get("DEIDENTIFY_LOG_LEVEL", "") or "WARNING").upper()
    if level not in LOG_LEVELS:
        raise SettingsError(f"DEIDENTIFY_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    # Same variables and checks as the sidecar (no flags here: the CLI has none for central).
    from deidentify.sidecar.settings import k_floor_setting, kafka_security
    security = kafka_security(argparse.Namespace(), env)
    k_floor = k_floor_setting(pick(getattr(args, "k_floor", None), "DEIDENTIFY_K_FLOOR", None))
    return CentralSettings(bootstrap=bootstrap, topic=topic, regions=regions,
                           schemas_dir=schemas_dir, port=port,
                           web=web, group=group, retention_windows=retention, log_level=level,
                           max_values_per_dimension=max_values,
                           security=security, k_floor=k_floor)


def _faust_credentials(security: Any):
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
    return faust.SASLCredentials(username=security.sasl_username,
                                 password=security.sasl_password.reveal(),
                                 ssl_context=context, mechanism=security.sasl_mechanism)


# ---------------------------------------------------------------------------- collector


class CentralCollector:
    """Validate, merge and export one aggregate at a time. Synchronous, no Kafka.

    ``handle(value)`` is the whole per-message path; the faust agent only calls it. Each
    message ends in exactly one of: accepted (merged), ignored (duplicate, expired,
    over_capacity) or rejected (a reason of CENTRAL_REJECT_REASONS) - all counted.
    """

    def __init__(self, schemas: SchemaSet, *, retention_windows: int = DEFAULT_RETENTION_WINDOWS,
                 metrics: CentralMetrics | None = None, validator: AggregateValidator | None = None,
                 clock=time.time, max_regions: int | None = None,
                 max_values_per_dimension: int = DEFAULT_MAX_VALUES_PER_DIMENSION) -> None:
        self.schemas = schemas
        self.metrics = metrics or central_metrics()
        # Every schema's series, compiled once from the schema (deidentify.central.export).
        self.export = CentralExport(schemas.schemas, self.metrics.registry)
        self.validator = validator or AggregateValidator(schemas)
        self.state = CentralState(
            retention_windows=retention_windows,
            max_regions=DEFAULT_MAX_REGIONS if max_regions is None else max_regions,
            max_values_per_dimension=max_values_per_dimension)
        self._evictions_seen = 0
        self._dimension_names = frozenset(n for s in schemas.schemas for n in s.dimension_names)
        self.clock = clock
        self.accepted = 0
        self.rejected: dict[str, int] = dict.fromkeys(CENTRAL_REJECT_REASONS, 0)
        self.ignored: dict[str, int] = dict.fromkeys(IGNORE_REASONS, 0)
        self.guard_hits: dict[str, int] = {}
        self.lag: dict[int, int] = {}
        self.assigned_partitions = 0
        self.consuming = False
        self.web_started = False
        self.last_message_at: float | None = None
        self.last_window_end_ms: dict[tuple[str, str], int] = {}
        m = self.metrics
        for reason in CENTRAL_REJECT_REASONS:      # export zeros: alerts need the series
            m.aggregates_rejected.labels(reason)
        for reason in IGNORE_REASONS:
            m.aggregates_ignored.labels(reason)
        for detector in Detector:
            m.guard_hits.labels(detector.value)

    # ------------------------------------------------------------------ per message

    def handle(self, value: bytes | None, region: str | None = None) -> Accepted | Rejected:
        """``region``: the region of the topic the message came from (None: not checked)."""
        self.last_message_at = self.clock()
        result = self.validator.validate(value)
        if region is not None and isinstance(result, Accepted) \
                and result.aggregate.region != region:
            result = Rejected(REGION_MISMATCH)
        if isinstance(result, Rejected):
            self.rejected[result.reason] = self.rejected.get(result.reason, 0) + 1
            self.metrics.aggregates_rejected.labels(result.reason).inc()
            if result.detector is not None:
                label = result.detector.value
                self.guard_hits[label] = self.guard_hits.get(label, 0) + 1
                self.metrics.guard_hits.labels(label).inc()
            return result
        agg = result.aggregate
        outcome = self.state.merge(agg)
        if outcome is MergeOutcome.MERGED:
            self.accepted += 1
            self._export(agg)
            if self.state.evictions != self._evictions_seen:
                self.remove_stale_series()
        else:
            self.ignored[outcome.value] += 1
            self.metrics.aggregates_ignored.labels(outcome.value).inc()
        return result

    def _export(self, agg: ValidAggregate) -> None:
        m = self.metrics
        region, name, measures = agg.region, agg.schema.name, agg.measures
        count = measures["count"]
        m.aggregates_accepted.labels(region, name).inc()
        m.events.labels(region, name).inc(count)
        if agg.window_end_ms > self.last_window_end_ms.get((region, name), -1):
            self.last_window_end_ms[(region, name)] = agg.window_end_ms
            m.last_window_end.labels(region, name).set(agg.window_end_ms / 1000)
        m.cells_retained.set(self.state.cell_count())
        self.export.export(region, name, agg.dims, measures)

    def remove_stale_series(self) -> int:
        """Drop the label sets no retained window holds (after windows were evicted)."""
        self._evictions_seen = self.state.evictions
        keep = RetainedLabels(self.state.retained_dims, self._dimension_names)
        removed = 0
        metrics = [getattr(self.metrics, item.name) for item in fields(self.metrics)]
        for metric in metrics + self.export.metrics():
            if "region" in label_names(metric):
                removed += remove_series(metric, keep)
        if removed and self.metrics.series_removed is not None:
            self.metrics.series_removed.inc(removed)
        return removed

    # ------------------------------------------------------------------ health and views

    def set_lag(self, lags: dict[int, int]) -> None:
        for partition in set(self.lag) - set(lags):
            self.metrics.consumer_lag.remove(str(partition))
        self.lag = dict(lags)
        for partition, lag in lags.items():
            self.metrics.consumer_lag.labels(str(partition)).set(lag)

    def readiness(self) -> tuple[bool, list[str]]:
        waiting = []
        if not self.web_started:
            waiting.append("web_server")
        if not self.consuming:
            waiting.append("consumer")
        elif self.assigned_partitions == 0:
            waiting.append("partition_assignment")
        ready = not waiting
        self.metrics.ready.set(1 if ready else 0)
        return ready, waiting

    def stats(self) -> dict[str, Any]:
        ready, waiting = self.readiness()
        return {
            "accepted": self.accepted,
            "rejected": {k: v for k, v in self.rejected.items() if v},
            "rejected_total": sum(self.rejected.values()),
            "ignored": {k: v for k, v in self.ignored.items() if v},
            "guard_hits": dict(self.guard_hits),
            "lag": sum(self.lag.values()),
            "assigned_partitions": self.assigned_partitions,
            "cells_retained": self.state.cell_count(),
            "ready": ready,
            "waiting_for": waiting,
        }

    def summary(self) -> dict[str, Any]:
        return summary(self.state, now_ms=int(self.clock() * 1000), collector=self.stats(),
                       schema_names=self.validator.schema_names,
                       schemas={s.name: s for s in self.schemas.schemas})


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
            _quiet_third_party(settings.log_level)
            await server.start()
            collector.web_started = True

        async def on_stop(self) -> None:
            collector.web_started = False
            await server.stop()

    return DashboardService()


THIRD_PARTY_LOGGERS = ("aiokafka", "kafka", "faust.transport", "aiohttp.access")


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ValueFreeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(logging, level), handlers=[handler])
    _quiet_third_party(level)


def _quiet_third_party(level: str) -> None:
    """Never below WARNING for the Kafka clients, whatever DEIDENTIFY_LOG_LEVEL says: their
    debug logs may include message payloads. Called again once mode has set up logging."""
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, getattr(logging, level)))


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
    _configure_logging(settings.log_level)
    for warning in getattr(settings.security, "warnings", ()):
        log.warning("%s", warning)
    datadir = tempfile.mkdtemp(prefix="deidentify-central-")
    try:
        app = build_app(settings, collector, datadir, credentials)
        import faust
        worker = faust.Worker(app, _web_service(collector, settings), quiet=True,
                              loglevel=settings.log_level, logging_config=None)
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

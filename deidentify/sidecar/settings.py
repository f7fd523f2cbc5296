"""Settings of ``deidentify run``: every option, where it comes from, and how it is checked.

Each option is declared once below as a :class:`~deidentify.runtime.settings.Setting`
(flag, environment variable, default, parser, help); ``RUN_SETTINGS`` is the list the CLI
turns into ``deidentify run``'s flags and ``--help``, and the one ``docs/sidecar.md``'s
settings table is checked against. Each value comes from the flag, else the variable, else
the default (:class:`~deidentify.runtime.settings.Sources`, shared with the central
collector), and is validated once, at start-up, into a frozen dataclass; an unusable value
raises :class:`~deidentify.errors.SettingsError` naming the flag and the variable to fix.
Kafka security (TLS, SASL, secrets from files) is :mod:`deidentify.runtime.security`, the
web settings are :mod:`deidentify.webconfig`'s, both shared with ``deidentify central``.

Derived, not configurable: the static group member id is the group id, the transactional id
is ``<group>.txn`` (one sidecar instance per region and group; see docs/sidecar.md), and
the topic the sidecar publishes to is ``<central topic>.<region>`` (e.g.
``telemetry.central.aggregates.eu``): a region's own topic, so Kafka ACLs can let its
principal write only there, and the collector takes the region from the topic.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deidentify.errors import SettingsError
from deidentify.runtime.security import SECURITY_SETTINGS, KafkaSecurity, kafka_security
from deidentify.runtime.settings import (
    BOOTSTRAP,
    DEFAULT_CENTRAL_TOPIC,
    K_FLOOR,
    KAFKA_NAME_RE,
    LOG_LEVEL,
    SCHEMAS,
    WEB_SETTINGS,
    Setting,
    Sources,
    boolean,
    duration,
    http_port,
    kafka_name,
    region_name,
)
from deidentify.schema.model import DEFAULT_K_FLOOR

if TYPE_CHECKING:      # the web config (asyncio, ssl) loads only when settings are read
    from deidentify.webconfig import WebSettings

DEFAULT_PORT = 8080
DEFAULT_IDLE_MS = 30_000
DEFAULT_COMMIT_INTERVAL_MS = 1_000
DEFAULT_FETCH_MAX_WAIT_MS = 200          # longest a getmany waits for records
DEFAULT_MAX_BATCH_RECORDS = 20_000       # records per getmany
DEFAULT_RELOAD_POLL_MS = 2_000           # schema directory mtime poll
DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000     # SIGTERM -> exit, at most
DEFAULT_TRANSACTION_TIMEOUT_MS = 30_000  # one publish+commit transaction, at most
DEFAULT_MAX_FUTURE_MS = 5 * 60_000       # events further ahead of the wall clock: rejected

STAGE_MODES = ("single", "split")
MIN_SUBJECT_KEY_BYTES = 32
MAX_SUBJECT_KEY_BYTES = 4096

TOPIC_PREFIX_RE = re.compile(r"^[A-Za-z0-9._-]{0,100}$")


def _stage(value: Any, where: str) -> str:
    text = str(value).lower()
    if text not in STAGE_MODES:
        raise SettingsError(f"{where}: '{text}' is not one of {', '.join(STAGE_MODES)}")
    return text


REGION = Setting("--region", "DEIDENTIFY_REGION", "region name", parse=region_name)
GROUP = Setting("--group", "DEIDENTIFY_GROUP", "consumer group",
                shown="deidentify-<region>", parse=kafka_name)
CENTRAL_TOPIC = Setting(
    "--central-topic", "DEIDENTIFY_CENTRAL_TOPIC",
    "central aggregates topic; this sidecar publishes to <topic>.<region>",
    default=DEFAULT_CENTRAL_TOPIC, shown=DEFAULT_CENTRAL_TOPIC)
PORT = http_port("health and metrics port", DEFAULT_PORT)
TOPIC_PREFIX = Setting(
    "--topic-prefix", "DEIDENTIFY_TOPIC_PREFIX",
    "prefix for the raw topics the schemas declare, e.g. 'eu.'", default="", shown="none")
IDLE = Setting(
    "--idle", "DEIDENTIFY_IDLE",
    "a partition read to its end with no new events this long stops holding windows open; "
    "all idle: windows close by wall clock", default=DEFAULT_IDLE_MS, shown="30s",
    parse=duration(100, None, "at least 100ms"), metavar="DURATION")
MAX_FUTURE = Setting(
    "--max-future", "DEIDENTIFY_MAX_FUTURE",
    "reject events whose time is further than this ahead of the wall clock, counted as "
    "future_timestamp", default=DEFAULT_MAX_FUTURE_MS, shown="5m",
    parse=duration(1_000, 24 * 3_600_000, "between 1s and 24h"), metavar="DURATION")
COMMIT_INTERVAL = Setting(
    "--commit-interval", "DEIDENTIFY_COMMIT_INTERVAL",
    "commit offsets in a transaction at least this often while events flow",
    default=DEFAULT_COMMIT_INTERVAL_MS, shown="1s",
    parse=duration(10, 60_000, "between 10ms and 60s"), metavar="DURATION")
AT_LEAST_ONCE = Setting(
    "--at-least-once", "DEIDENTIFY_AT_LEAST_ONCE",
    "publish without transactions and commit offsets after the aggregates are acknowledged: "
    "a crash can publish a window twice (the central collector drops the duplicates by key). "
    "Exists to measure the cost of exactly-once, which is the default",
    default=False, parse=boolean, switch=True)
STAGES = Setting(
    "--stages", "DEIDENTIFY_STAGES",
    "single: one process serves the region (one instance per group); split: stage one "
    "pre-aggregates each raw partition into the internal topic and stage two merges, applies "
    "k and caps, so several processes of one group can serve a region (docs/scale-out.md)",
    default="single", shown="single", choices=STAGE_MODES, parse=_stage)
SUBJECT_KEY_FILE = Setting(
    "--subject-key-file", "DEIDENTIFY_SUBJECT_KEY_FILE",
    "file with the region's subject key (at least 32 random bytes), the same for every "
    "process of the region; required by --stages split", metavar="PATH")
INTERNAL_TOPIC = Setting(
    "--internal-topic", "DEIDENTIFY_INTERNAL_TOPIC",
    "the region's internal topic of partial cells (--stages split; never leaves the region)",
    shown="<central-topic>.<region>.internal", parse=kafka_name, metavar="TOPIC")

# deidentify run's settings, in --help order (LOG_LEVEL and the password: variables only)
RUN_SETTINGS: tuple[Setting, ...] = (
    REGION, BOOTSTRAP, SCHEMAS, GROUP, CENTRAL_TOPIC, PORT, TOPIC_PREFIX, IDLE, K_FLOOR,
    MAX_FUTURE, COMMIT_INTERVAL, AT_LEAST_ONCE, STAGES, SUBJECT_KEY_FILE, INTERNAL_TOPIC,
    *SECURITY_SETTINGS, *WEB_SETTINGS, LOG_LEVEL)


@dataclass(frozen=True)
class SidecarSettings:
    region: str
    bootstrap: str
    schemas_dir: Path
    group_id: str
    central_topic: str
    port: int
    topic_prefix: str = ""
    idle_ms: int = DEFAULT_IDLE_MS
    commit_interval_ms: int = DEFAULT_COMMIT_INTERVAL_MS
    security: KafkaSecurity = field(default_factory=KafkaSecurity)
    log_level: str = "INFO"
    web: WebSettings = field(default_factory=lambda: _web_default())
    fetch_max_wait_ms: int = DEFAULT_FETCH_MAX_WAIT_MS
    max_batch_records: int = DEFAULT_MAX_BATCH_RECORDS
    reload_poll_ms: int = DEFAULT_RELOAD_POLL_MS
    shutdown_timeout_ms: int = DEFAULT_SHUTDOWN_TIMEOUT_MS
    transaction_timeout_ms: int = DEFAULT_TRANSACTION_TIMEOUT_MS
    exactly_once: bool = True
    k_floor: int = DEFAULT_K_FLOOR
    max_future_ms: int = DEFAULT_MAX_FUTURE_MS
    stages: str = "single"
    subject_key: bytes | None = field(default=None, repr=False)   # --stages split only
    internal_topic_name: str | None = None

    @property
    def host(self) -> str:
        """Address of the health/metrics server (``--bind``)."""
        return self.web.bind

    @property
    def instance_id(self) -> str:
        """Static group member id (KIP-345): one sidecar instance per region and group."""
        return self.group_id

    @property
    def transactional_id(self) -> str:
        return f"{self.group_id}.txn"

    @property
    def publish_topic(self) -> str:
        """This region's own central topic: ``<central topic>.<region>``."""
        return f"{self.central_topic}.{self.region}"

    @property
    def internal_topic(self) -> str:
        """The region's internal topic of partial cells (``--stages split``)."""
        return self.internal_topic_name or f"{self.publish_topic}.internal"

    def raw_topic(self, schema_topic: str) -> str:
        return self.topic_prefix + schema_topic

    def describe(self) -> str:
        """One log line of key=value pairs: names and numbers only, no secret."""
        sec = self.security
        return (f"region={self.region} bootstrap={self.bootstrap} group={self.group_id} "
                f"central_topic={self.publish_topic} topic_prefix={self.topic_prefix or '-'} "
                f"schemas={self.schemas_dir} port={self.port} idle_ms={self.idle_ms} "
                f"commit_interval_ms={self.commit_interval_ms} "
                f"k_floor={self.k_floor} max_future_ms={self.max_future_ms} "
                f"guarantee={'exactly_once' if self.exactly_once else 'at_least_once'} "
                f"stages={self.stages} "
                f"internal_topic={self.internal_topic if self.stages == 'split' else '-'} "
                f"security_protocol={sec.protocol} "
                f"sasl_mechanism={sec.sasl_mechanism or '-'} "
                f"sasl_username={'set' if sec.sasl_username else '-'} "
                f"ssl_cafile={sec.ssl_cafile or '-'} "
                f"ssl_client_cert={'set' if sec.ssl_certfile else '-'}")


def read_subject_key(path: str) -> bytes:
    """The region's subject key file: its bytes (never logged, never quoted in errors)."""
    where = SUBJECT_KEY_FILE.where
    try:
        p = Path(path)
        if p.stat().st_size > MAX_SUBJECT_KEY_BYTES:
            raise SettingsError(f"{where}: {path} is larger than {MAX_SUBJECT_KEY_BYTES} "
                                "bytes; it must hold only the key")
        key = p.read_bytes().strip()
    except OSError as exc:
        raise SettingsError(f"{where}: cannot read {path} "
                            f"({exc.strerror or type(exc).__name__})") from None
    if len(key) < MIN_SUBJECT_KEY_BYTES:
        raise SettingsError(f"{where}: {path} holds fewer than {MIN_SUBJECT_KEY_BYTES} bytes "
                            "(fix: head -c 48 /dev/urandom | base64 > the file, and give "
                            "every process of the region the same file)")
    return key


def _web_default() -> WebSettings:
    from deidentify.webconfig import WebSettings
    return WebSettings()


def load_settings(args: Any, env: Mapping[str, str] | None = None) -> SidecarSettings:
    """Resolve and validate every option of ``deidentify run`` (flags > env > defaults)."""
    env = os.environ if env is None else env
    src = Sources(args, env)

    # resolved in this order, so the first unusable value is the one reported
    region = src.get(REGION)
    if region is None:
        raise SettingsError(f"{REGION.where} is required (e.g. --region eu)")
    bootstrap = src.get(BOOTSTRAP)
    schemas = src.get(SCHEMAS)
    if schemas is None:
        from deidentify.schema import default_schema_dir
        schemas = str(default_schema_dir())
    schemas_dir = Path(schemas)
    if not schemas_dir.is_dir():
        raise SettingsError(f"{SCHEMAS.where}: {schemas}: no such directory")
    group = src.get(GROUP) or f"deidentify-{region}"
    central = src.get(CENTRAL_TOPIC)
    if not KAFKA_NAME_RE.match(central) or len(central) > 200 - 33 or central in (".", ".."):
        raise SettingsError(f"{CENTRAL_TOPIC.where}: '{central}' is not a legal topic name")
    prefix = src.get(TOPIC_PREFIX)
    if not TOPIC_PREFIX_RE.match(prefix):
        raise SettingsError(f"{TOPIC_PREFIX.where}: '{prefix}' may use only letters, digits, "
                            "'.', '_' and '-'")
    port, idle_ms, commit_ms = src.get(PORT), src.get(IDLE), src.get(COMMIT_INTERVAL)
    k_floor, max_future_ms = src.get(K_FLOOR), src.get(MAX_FUTURE)
    at_least_once, log_level = src.get(AT_LEAST_ONCE), src.get(LOG_LEVEL)
    stages = src.get(STAGES)
    key_file, internal = src.get(SUBJECT_KEY_FILE), src.get(INTERNAL_TOPIC)
    subject_key = None
    if stages == "split":
        if not key_file:
            raise SettingsError(f"{SUBJECT_KEY_FILE.where} is required with --stages split: "
                                "the processes of a region must hash subjects with one key")
        subject_key = read_subject_key(key_file)
        if at_least_once:
            raise SettingsError(f"{AT_LEAST_ONCE.where} cannot be combined with "
                                "--stages split (both stages are exactly-once)")
    from deidentify.webconfig import web_settings
    web = web_settings(args, env)
    return SidecarSettings(region=region, bootstrap=bootstrap, schemas_dir=schemas_dir,
                           group_id=group, central_topic=central, port=port,
                           topic_prefix=prefix, idle_ms=idle_ms, commit_interval_ms=commit_ms,
                           security=kafka_security(args, env), log_level=log_level, web=web,
                           exactly_once=not at_least_once, k_floor=k_floor,
                           max_future_ms=max_future_ms, stages=stages,
                           subject_key=subject_key, internal_topic_name=internal)

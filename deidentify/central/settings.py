"""Settings of ``deidentify central``: every option, where it comes from, and how it is checked.

Each option is declared once as a :class:`~deidentify.runtime.settings.Setting`;
``CENTRAL_SETTINGS`` is the list the CLI turns into ``deidentify central``'s flags and
``--help``, and the one ``docs/central.md``'s settings table is checked against. Values come
from the flag, else the variable, else the default, resolved by the same
:class:`~deidentify.runtime.settings.Sources` as ``deidentify run``; the Kafka security
variables (no flags here) mean exactly what they mean for ``deidentify run`` and are parsed
by the same code (:mod:`deidentify.runtime.security`); the password is never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deidentify.central.state import DEFAULT_MAX_VALUES_PER_DIMENSION
from deidentify.errors import SettingsError
from deidentify.runtime import settings as shared
from deidentify.runtime.security import SECURITY_SETTINGS, KafkaSecurity, kafka_security
from deidentify.runtime.settings import Setting, Sources
from deidentify.schema import DEFAULT_K_FLOOR

if TYPE_CHECKING:      # the web config (asyncio, ssl) loads only when settings are read
    from deidentify.webconfig import WebSettings

__all__ = ["CENTRAL_SETTINGS", "CentralSettings", "load_settings"]

DEFAULT_TOPIC = shared.DEFAULT_CENTRAL_TOPIC
DEFAULT_PORT = 8090
DEFAULT_GROUP = "deidentify-central"
DEFAULT_RETENTION_WINDOWS = 60

TOPIC = Setting(
    "--topic", "DEIDENTIFY_CENTRAL_TOPIC",
    "central aggregates topic; each region's sidecar publishes to <topic>.<region>",
    default=DEFAULT_TOPIC, shown=DEFAULT_TOPIC, parse=shared.kafka_name)
REGIONS = Setting(
    "--regions", "DEIDENTIFY_REGIONS",
    "the regions to read, comma-separated, e.g. eu,us: topics <topic>.<region>; the region of "
    "an aggregate must match its topic", metavar="LIST", note="required")
PORT = shared.http_port("dashboard and metrics port", DEFAULT_PORT)
GROUP = Setting(None, "DEIDENTIFY_CENTRAL_GROUP",
                "consumer group and faust app id", default=DEFAULT_GROUP, shown=DEFAULT_GROUP,
                parse=shared.kafka_name)
RETENTION = Setting(None, "DEIDENTIFY_CENTRAL_RETENTION",
                    "windows kept per region and schema", default=DEFAULT_RETENTION_WINDOWS,
                    shown=str(DEFAULT_RETENTION_WINDOWS), parse=shared.integer(1))
MAX_VALUES = Setting(
    None, "DEIDENTIFY_CENTRAL_MAX_VALUES",
    "distinct values per region and dimension held at once (more: ignored, counted as "
    "label_overflow)", default=DEFAULT_MAX_VALUES_PER_DIMENSION,
    shown=str(DEFAULT_MAX_VALUES_PER_DIMENSION), parse=shared.integer(1))
CENTRAL_LOG_LEVEL = shared.LOG_LEVEL.with_default("WARNING", "WARNING")

# deidentify central's settings, in --help order; the rest are variables only
CENTRAL_SETTINGS: tuple[Setting, ...] = (
    shared.BOOTSTRAP, TOPIC, REGIONS, shared.SCHEMAS, PORT, shared.K_FLOOR,
    *shared.WEB_SETTINGS, shared.ACCESS_LOG,
    GROUP, RETENTION, MAX_VALUES, CENTRAL_LOG_LEVEL,
    *(s.without_flag() for s in SECURITY_SETTINGS))


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
    security: KafkaSecurity | None = None

    @property
    def topics(self) -> dict[str, str]:
        """Topic -> the region it belongs to: ``<topic>.<region>`` per configured region."""
        return {f"{self.topic}.{region}": region for region in self.regions}

    @property
    def bind(self) -> str:
        return self.web.bind

    def describe(self) -> str:
        protocol = getattr(self.security, "protocol", "PLAINTEXT")
        return (f"topics {','.join(self.topics)} on {self.bootstrap} ({protocol}), "
                f"group {self.group}, schemas {self.schemas_dir}, "
                f"{self.web.describe(self.port)}")


def _regions(src: Sources, topic: str) -> tuple[str, ...]:
    raw = str(src.get(REGIONS) or "")
    regions = tuple(dict.fromkeys(r.strip() for r in raw.split(",") if r.strip()))
    if not regions:
        raise SettingsError(f"{REGIONS.where} is required: the regions whose topics "
                            f"{topic}.<region> to read (e.g. --regions eu,us)")
    for region in regions:
        shared.region_name(region, REGIONS.where)
        if not shared.KAFKA_NAME_RE.match(f"{topic}.{region}"):
            raise SettingsError(f"{TOPIC.where}: '{topic}.{region}' is too long for a topic "
                                "name")
    return regions


def load_settings(args: Any, env: Mapping[str, str] | None = None) -> CentralSettings:
    """Flags, else environment, else defaults; raises SettingsError naming what to fix."""
    env = os.environ if env is None else env
    src = Sources(args, env)
    bootstrap = src.get(shared.BOOTSTRAP)       # checked first, as before the split
    topic = src.get(TOPIC)
    regions = _regions(src, topic)
    schemas_dir = src.get(shared.SCHEMAS)
    if not schemas_dir:
        from deidentify.schema import default_schema_dir
        schemas_dir = str(default_schema_dir())
    from deidentify.webconfig import web_settings
    return CentralSettings(
        bootstrap=bootstrap, topic=topic, regions=regions,
        schemas_dir=schemas_dir,
        port=src.get(PORT), web=web_settings(args, env, access_log=True),
        group=src.get(GROUP), retention_windows=src.get(RETENTION),
        log_level=src.get(CENTRAL_LOG_LEVEL),
        max_values_per_dimension=src.get(MAX_VALUES),
        # the same variables and checks as the sidecar (central has no security flags)
        security=kafka_security(None, env), k_floor=src.get(shared.K_FLOOR))

"""Settings of ``deidentify run``: every option, where it comes from, and how it is checked.

Each option comes from a command-line flag, else from an environment variable, else from a
named default. Settings are validated once, at start-up, into frozen dataclasses; an unusable
value raises :class:`~deidentify.errors.SettingsError` whose message names the flag and the
environment variable to fix. SASL PLAIN over a connection without TLS is refused (the
password would cross the network in clear); a password or key file that other users may read
is accepted with a warning (``KafkaSecurity.warnings``, logged at start) - refusing it would
break the 0644 files that secret mounts often make. Secrets (the SASL password) come from an environment variable
or a file, never from a flag, and are wrapped in :class:`Secret` so that no ``repr``, log line
or error message can show them.

==========================  =============================  =================================
flag                        environment variable           default
==========================  =============================  =================================
``--region``                ``DEIDENTIFY_REGION``          (required) e.g. ``eu``
``--bootstrap``             ``KAFKA_BOOTSTRAP``            ``127.0.0.1:9092``
``--schemas``               ``DEIDENTIFY_SCHEMAS``         the shipped ``schemas/``
``--group``                 ``DEIDENTIFY_GROUP``           ``deidentify-<region>``
``--central-topic``         ``DEIDENTIFY_CENTRAL_TOPIC``   ``telemetry.central.aggregates``
                                                           (publishes to ``<it>.<region>``)
``--port``                  ``DEIDENTIFY_PORT``            ``8080`` (0: any free port)
``--topic-prefix``          ``DEIDENTIFY_TOPIC_PREFIX``    none
``--idle``                  ``DEIDENTIFY_IDLE``            ``30s``
``--commit-interval``       ``DEIDENTIFY_COMMIT_INTERVAL`` ``1s``
``--k-floor``               ``DEIDENTIFY_K_FLOOR``         ``5`` (can only be raised: 5..1000)
``--max-future``            ``DEIDENTIFY_MAX_FUTURE``      ``5m`` (events further ahead of the
                                                           wall clock: ``future_timestamp``)
``--security-protocol``     ``KAFKA_SECURITY_PROTOCOL``    ``PLAINTEXT`` (or ``SSL``,
                                                           ``SASL_PLAINTEXT``, ``SASL_SSL``)
``--sasl-mechanism``        ``KAFKA_SASL_MECHANISM``       ``SCRAM-SHA-512`` when SASL is on
``--sasl-username``         ``KAFKA_SASL_USERNAME``        (required with SASL)
``--sasl-password-file``    ``KAFKA_SASL_PASSWORD_FILE``   or the password itself in
                                                           ``KAFKA_SASL_PASSWORD``
``--ssl-cafile``            ``KAFKA_SSL_CAFILE``           the system's trusted CAs
``--ssl-certfile``          ``KAFKA_SSL_CERTFILE``         none; with ``--ssl-keyfile``: a
                                                           client certificate (mTLS), PEM
``--ssl-keyfile``           ``KAFKA_SSL_KEYFILE``          none; its private key, PEM,
                                                           unencrypted, not readable by others
(none)                      ``DEIDENTIFY_LOG_LEVEL``       ``INFO``
``--bind``                  ``DEIDENTIFY_BIND``            ``127.0.0.1`` (health/metrics
                                                           server address)
``--web-config``            ``DEIDENTIFY_WEB_CONFIG``      none: plain HTTP, no auth, so
                                                           loopback only (see webconfig)
``--insecure-listen``       ``DEIDENTIFY_INSECURE_LISTEN`` off: a non-loopback ``--bind``
                                                           without auth is refused
``--probe-port``            ``DEIDENTIFY_PROBE_PORT``      none: probes on ``--port`` only
==========================  =============================  =================================

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
from typing import Any

from deidentify.contract import REGION_RE
from deidentify.errors import SettingsError
from deidentify.schema.model import DEFAULT_K_FLOOR, duration_ms
from deidentify.webconfig import WebSettings, web_settings

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_CENTRAL_TOPIC = "telemetry.central.aggregates"
DEFAULT_PORT = 8080
DEFAULT_IDLE_MS = 30_000
DEFAULT_COMMIT_INTERVAL_MS = 1_000
DEFAULT_FETCH_MAX_WAIT_MS = 200          # longest a getmany waits for records
DEFAULT_MAX_BATCH_RECORDS = 20_000       # records per getmany
DEFAULT_RELOAD_POLL_MS = 2_000           # schema directory mtime poll
DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000     # SIGTERM -> exit, at most
DEFAULT_TRANSACTION_TIMEOUT_MS = 30_000  # one publish+commit transaction, at most
DEFAULT_MAX_FUTURE_MS = 5 * 60_000       # events further ahead of the wall clock: rejected
MAX_K_FLOOR = 1000
MAX_SECRET_FILE_BYTES = 4096

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# Kafka's legal topic / group characters; ids end up in logs and metric labels.
KAFKA_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
TOPIC_PREFIX_RE = re.compile(r"^[A-Za-z0-9._-]{0,100}$")
HOST_PORT_RE = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+):(\d{1,5})$")


class Secret:
    """A secret string that never shows itself: ``repr``/``str`` print ``'***'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class KafkaSecurity:
    """How the sidecar authenticates to and encrypts its Kafka connections."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: Secret | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None        # client certificate (mTLS)
    ssl_keyfile: str | None = None
    warnings: tuple[str, ...] = ()         # logged once at start; never a secret

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")


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
    web: WebSettings = field(default_factory=WebSettings)
    fetch_max_wait_ms: int = DEFAULT_FETCH_MAX_WAIT_MS
    max_batch_records: int = DEFAULT_MAX_BATCH_RECORDS
    reload_poll_ms: int = DEFAULT_RELOAD_POLL_MS
    shutdown_timeout_ms: int = DEFAULT_SHUTDOWN_TIMEOUT_MS
    transaction_timeout_ms: int = DEFAULT_TRANSACTION_TIMEOUT_MS
    exactly_once: bool = True
    k_floor: int = DEFAULT_K_FLOOR
    max_future_ms: int = DEFAULT_MAX_FUTURE_MS

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
                f"security_protocol={sec.protocol} "
                f"sasl_mechanism={sec.sasl_mechanism or '-'} "
                f"sasl_username={'set' if sec.sasl_username else '-'} "
                f"ssl_cafile={sec.ssl_cafile or '-'} "
                f"ssl_client_cert={'set' if sec.ssl_certfile else '-'}")


# --------------------------------------------------------------------------- parsing


def parse_duration_ms(text: str, *, what: str) -> int:
    """``500ms``, ``2s``, ``1m``, ``1h``; a bare number means seconds."""
    value = duration_ms(text, bare_unit="s")
    if value is None:
        raise SettingsError(f"{what}: '{text}' is not a duration (write e.g. 500ms, 2s, 1m)")
    return value


class _Sources:
    """Flag value, else environment variable, else default; remembers where each came from."""

    def __init__(self, args: Any, env: Mapping[str, str]) -> None:
        self.args = args
        self.env = env

    def get(self, attr: str, env_name: str | None, default: Any = None) -> Any:
        value = getattr(self.args, attr, None)
        if value is not None and value != "":
            return value
        if env_name:
            env_value = self.env.get(env_name)
            if env_value not in (None, ""):
                return env_value
        return default


def _where(flag: str, env_name: str | None) -> str:
    return f"{flag} (env {env_name})" if env_name else flag


def _readable_by_others(path: str, *, what: str) -> str | None:
    """A warning when group or others may read ``path`` (None when only its owner may)."""
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return None
    if mode & 0o044:
        return (f"{what}: {path} is readable by other users (mode {mode & 0o777:o}); "
                f"chmod 600 {path}")
    return None


def _read_secret_file(path: str, *, what: str) -> Secret:
    try:
        p = Path(path)
        if p.stat().st_size > MAX_SECRET_FILE_BYTES:
            raise SettingsError(f"{what}: {path} is larger than {MAX_SECRET_FILE_BYTES} bytes; "
                                "it must hold only the password")
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"{what}: cannot read {path} "
                            f"({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{what}: {path} is not UTF-8 text") from None
    value = text.rstrip("\r\n")
    if not value:
        raise SettingsError(f"{what}: {path} is empty")
    return Secret(value)


def _security(src: _Sources) -> KafkaSecurity:
    proto_where = _where("--security-protocol", "KAFKA_SECURITY_PROTOCOL")
    protocol = str(src.get("security_protocol", "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")).upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise SettingsError(f"{proto_where}: '{protocol}' is not one of "
                            f"{', '.join(SECURITY_PROTOCOLS)}")
    cafile = src.get("ssl_cafile", "KAFKA_SSL_CAFILE")
    if cafile is not None:
        if protocol not in ("SSL", "SASL_SSL"):
            raise SettingsError(f"{_where('--ssl-cafile', 'KAFKA_SSL_CAFILE')} is set but "
                                f"{proto_where} is {protocol}; use SSL or SASL_SSL")
        if not Path(cafile).is_file():
            raise SettingsError(f"{_where('--ssl-cafile', 'KAFKA_SSL_CAFILE')}: "
                                f"{cafile}: no such file")
    warnings: list[str] = []
    cert_where = _where("--ssl-certfile", "KAFKA_SSL_CERTFILE")
    key_where = _where("--ssl-keyfile", "KAFKA_SSL_KEYFILE")
    certfile = src.get("ssl_certfile", "KAFKA_SSL_CERTFILE")
    keyfile = src.get("ssl_keyfile", "KAFKA_SSL_KEYFILE")
    if certfile is not None or keyfile is not None:
        if protocol not in ("SSL", "SASL_SSL"):
            raise SettingsError(f"a client certificate ({cert_where}) is set but {proto_where} "
                                f"is {protocol}; use SSL (mTLS) or SASL_SSL")
        if certfile is None or keyfile is None:
            raise SettingsError(f"a client certificate needs both {cert_where} and {key_where}")
        for path, where in ((certfile, cert_where), (keyfile, key_where)):
            if not Path(path).is_file():
                raise SettingsError(f"{where}: {path}: no such file")
        note = _readable_by_others(keyfile, what=key_where)
        if note:
            warnings.append(note)
    mechanism = src.get("sasl_mechanism", "KAFKA_SASL_MECHANISM")
    username = src.get("sasl_username", "KAFKA_SASL_USERNAME")
    password_file = src.get("sasl_password_file", "KAFKA_SASL_PASSWORD_FILE")
    password_env = src.env.get("KAFKA_SASL_PASSWORD") or None
    if protocol not in ("SASL_PLAINTEXT", "SASL_SSL"):
        if mechanism is not None or password_file is not None:
            raise SettingsError(f"a SASL setting is given but {proto_where} is {protocol}; "
                                "use SASL_SSL (or SASL_PLAINTEXT)")
        # KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD may be set for the local broker script;
        # without a SASL protocol they are not ours to use.
        return KafkaSecurity(protocol=protocol, ssl_cafile=cafile, ssl_certfile=certfile,
                             ssl_keyfile=keyfile, warnings=tuple(warnings))
    mech_where = _where("--sasl-mechanism", "KAFKA_SASL_MECHANISM")
    mechanism = str(mechanism or "SCRAM-SHA-512").upper()
    if mechanism not in SASL_MECHANISMS:
        raise SettingsError(f"{mech_where}: '{mechanism}' is not one of "
                            f"{', '.join(SASL_MECHANISMS)}")
    if mechanism == "PLAIN" and protocol == "SASL_PLAINTEXT":
        raise SettingsError(f"{mech_where} PLAIN over {proto_where} SASL_PLAINTEXT would send "
                            "the password in clear; use SASL_SSL (or SCRAM-SHA-512)")
    if not username:
        raise SettingsError(f"{protocol} needs a user name: set "
                            f"{_where('--sasl-username', 'KAFKA_SASL_USERNAME')}")
    if password_file is not None and password_env is not None:
        raise SettingsError("both KAFKA_SASL_PASSWORD and "
                            f"{_where('--sasl-password-file', 'KAFKA_SASL_PASSWORD_FILE')} are "
                            "set; keep one")
    if password_file is not None:
        where = _where("--sasl-password-file", "KAFKA_SASL_PASSWORD_FILE")
        password = _read_secret_file(password_file, what=where)
        note = _readable_by_others(password_file, what=where)
        if note:
            warnings.append(note)
    elif password_env is not None:
        password = Secret(password_env)
    else:
        raise SettingsError(f"{protocol} needs a password: set KAFKA_SASL_PASSWORD or "
                            f"{_where('--sasl-password-file', 'KAFKA_SASL_PASSWORD_FILE')}")
    return KafkaSecurity(protocol=protocol, sasl_mechanism=mechanism, sasl_username=username,
                         sasl_password=password, ssl_cafile=cafile, ssl_certfile=certfile,
                         ssl_keyfile=keyfile, warnings=tuple(warnings))


def kafka_security(args: Any, env: Mapping[str, str]) -> KafkaSecurity:
    """TLS/SASL settings from flags (attributes of ``args``, may be absent) and environment.

    Shared by ``deidentify run`` and ``deidentify central`` so both read the same variables
    with the same checks; the password is wrapped in :class:`Secret` and never shown.
    """
    return _security(_Sources(args, env))


def k_floor_setting(src_value: Any) -> int:
    """``--k-floor`` / ``DEIDENTIFY_K_FLOOR``: the deployment's minimum k. It can only raise
    the default floor (5): a value below it is refused, never applied."""
    where = _where("--k-floor", "DEIDENTIFY_K_FLOOR")
    if src_value is None:
        return DEFAULT_K_FLOOR
    try:
        value = int(str(src_value).strip())
    except ValueError:
        raise SettingsError(f"{where}: '{src_value}' is not a whole number") from None
    if not DEFAULT_K_FLOOR <= value <= MAX_K_FLOOR:
        raise SettingsError(f"{where}: {value} is not between {DEFAULT_K_FLOOR} and "
                            f"{MAX_K_FLOOR} (the floor can only be raised above the default "
                            f"{DEFAULT_K_FLOOR})")
    return value


def _bootstrap(value: str) -> str:
    where = _where("--bootstrap", "KAFKA_BOOTSTRAP")
    servers = [s.strip() for s in value.split(",") if s.strip()]
    if not servers:
        raise SettingsError(f"{where} is empty; write HOST:PORT[,HOST:PORT...]")
    for server in servers:
        match = HOST_PORT_RE.match(server)
        if not match or not 0 < int(match.group(2)) < 65536:
            raise SettingsError(f"{where}: '{server}' is not HOST:PORT")
    return ",".join(servers)


def load_settings(args: Any, env: Mapping[str, str] | None = None) -> SidecarSettings:
    """Resolve and validate every option of ``deidentify run`` (flags > env > defaults)."""
    env = os.environ if env is None else env
    src = _Sources(args, env)

    region = src.get("region", "DEIDENTIFY_REGION")
    if region is None:
        raise SettingsError(f"{_where('--region', 'DEIDENTIFY_REGION')} is required "
                            "(e.g. --region eu)")
    if not REGION_RE.match(region):
        raise SettingsError(f"{_where('--region', 'DEIDENTIFY_REGION')}: '{region}' must match "
                            "^[a-z][a-z0-9-]{0,31}$ (e.g. eu, us-east)")

    bootstrap = _bootstrap(str(src.get("bootstrap", "KAFKA_BOOTSTRAP", DEFAULT_BOOTSTRAP)))

    schemas = src.get("schemas", "DEIDENTIFY_SCHEMAS")
    if schemas is None:
        from deidentify.schema import default_schema_dir
        schemas = str(default_schema_dir())
    schemas_dir = Path(schemas)
    if not schemas_dir.is_dir():
        raise SettingsError(f"{_where('--schemas', 'DEIDENTIFY_SCHEMAS')}: {schemas}: "
                            "no such directory")

    group = src.get("group", "DEIDENTIFY_GROUP", f"deidentify-{region}")
    if not KAFKA_NAME_RE.match(group):
        raise SettingsError(f"{_where('--group', 'DEIDENTIFY_GROUP')}: '{group}' may use only "
                            "letters, digits, '.', '_' and '-' (at most 200)")
    central = src.get("central_topic", "DEIDENTIFY_CENTRAL_TOPIC", DEFAULT_CENTRAL_TOPIC)
    if not KAFKA_NAME_RE.match(central) or len(central) > 200 - 33 or central in (".", ".."):
        raise SettingsError(f"{_where('--central-topic', 'DEIDENTIFY_CENTRAL_TOPIC')}: "
                            f"'{central}' is not a legal topic name")
    prefix = src.get("topic_prefix", "DEIDENTIFY_TOPIC_PREFIX", "")
    if not TOPIC_PREFIX_RE.match(prefix):
        raise SettingsError(f"{_where('--topic-prefix', 'DEIDENTIFY_TOPIC_PREFIX')}: "
                            f"'{prefix}' may use only letters, digits, '.', '_' and '-'")

    port_where = _where("--port", "DEIDENTIFY_PORT")
    port_value = src.get("port", "DEIDENTIFY_PORT", DEFAULT_PORT)
    try:
        port = int(port_value)
    except (TypeError, ValueError):
        raise SettingsError(f"{port_where}: '{port_value}' is not a port number") from None
    if not 0 <= port < 65536:
        raise SettingsError(f"{port_where}: {port} is not between 0 and 65535")

    idle_where = _where("--idle", "DEIDENTIFY_IDLE")
    idle_ms = parse_duration_ms(str(src.get("idle", "DEIDENTIFY_IDLE", "30s")), what=idle_where)
    if idle_ms < 100:
        raise SettingsError(f"{idle_where}: must be at least 100ms")
    commit_where = _where("--commit-interval", "DEIDENTIFY_COMMIT_INTERVAL")
    commit_ms = parse_duration_ms(
        str(src.get("commit_interval", "DEIDENTIFY_COMMIT_INTERVAL", "1s")), what=commit_where)
    if not 10 <= commit_ms <= 60_000:
        raise SettingsError(f"{commit_where}: must be between 10ms and 60s")

    k_floor = k_floor_setting(src.get("k_floor", "DEIDENTIFY_K_FLOOR"))
    future_where = _where("--max-future", "DEIDENTIFY_MAX_FUTURE")
    max_future_ms = parse_duration_ms(str(src.get("max_future", "DEIDENTIFY_MAX_FUTURE", "5m")),
                                      what=future_where)
    if not 1_000 <= max_future_ms <= 24 * 3_600_000:
        raise SettingsError(f"{future_where}: must be between 1s and 24h")

    alo = src.get("at_least_once", "DEIDENTIFY_AT_LEAST_ONCE", False)
    if isinstance(alo, str):
        if alo.lower() not in ("1", "true", "yes", "0", "false", "no"):
            raise SettingsError(f"{_where('--at-least-once', 'DEIDENTIFY_AT_LEAST_ONCE')}: "
                                f"'{alo}' is not one of 1, true, yes, 0, false, no")
        alo = alo.lower() in ("1", "true", "yes")

    log_level = str(env.get("DEIDENTIFY_LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise SettingsError(f"DEIDENTIFY_LOG_LEVEL: '{log_level}' is not one of "
                            f"{', '.join(LOG_LEVELS)}")

    web = web_settings(args, env)

    return SidecarSettings(region=region, bootstrap=bootstrap, schemas_dir=schemas_dir,
                           group_id=group, central_topic=central, port=port,
                           topic_prefix=prefix, idle_ms=idle_ms, commit_interval_ms=commit_ms,
                           security=_security(src), log_level=log_level, web=web,
                           exactly_once=not alo, k_floor=k_floor,
                           max_future_ms=max_future_ms)

"""Settings declared once: flag, environment variable, default, parser and help.

A :class:`Setting` is the whole documentation of one option, as OpenTelemetry's
``config.go`` makes each field's comment its documentation: the CLI adds its flags from the
declarations (:func:`add_flags`, so ``--help`` says the variable and the default), and
``tests/test_docs.py`` checks the settings tables of ``docs/sidecar.md`` and
``docs/central.md`` against the same declarations.

Resolution, the same for ``deidentify run`` and ``deidentify central``
(:meth:`Sources.get`)::

    flag given (not None, not "")      -> the flag's value
    else variable set (not "")         -> the variable's value
    else                               -> the declared default (already typed)

A flag or variable value goes through the setting's parser; a value it cannot use raises
:class:`~deidentify.errors.SettingsError` whose message starts with where it came from
(``--idle (env DEIDENTIFY_IDLE): 'soon' is not a duration (write e.g. 500ms, 2s, 1m)``):
the flag, the variable, what is wrong and how to write it. Parsers never see or print a
secret: secrets have no parser here (see :mod:`deidentify.runtime.security`).

This module imports no Kafka client: the CLI reads it to build ``--help``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from deidentify.contract import REGION_RE
from deidentify.errors import SettingsError
from deidentify.schema.model import DEFAULT_K_FLOOR, duration_ms

__all__ = [
    "BOOTSTRAP", "K_FLOOR", "LOG_LEVEL", "SCHEMAS", "WEB_SETTINGS", "Setting", "Sources",
    "add_flags", "parse_duration_ms",
]

Parser = Callable[[Any, str], Any]      # (flag or variable value, where) -> typed value

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# each region's sidecar publishes to ``<central topic>.<region>``; the collector reads those
DEFAULT_CENTRAL_TOPIC = "telemetry.central.aggregates"
MAX_K_FLOOR = 1000
# Kafka's legal topic / group characters; names end up in logs and metric labels.
KAFKA_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
HOST_PORT_RE = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+):(\d{1,5})$")


@dataclass(frozen=True)
class Setting:
    """One option: where it comes from, what it defaults to, how it is parsed and shown.

    ``flag`` is None for a variable-only setting, ``env`` None for a flag-only one; the
    attribute the parsed arguments carry is the flag's name (``--k-floor``: ``k_floor``).
    ``default`` is the typed value used when neither is given (None: unset or required);
    ``shown`` is how ``--help`` and the docs write that default (one word first: the docs
    test compares it). ``switch``: a flag without a value (``store_true``).
    """

    flag: str | None
    env: str | None
    help: str
    default: Any = None
    shown: str | None = None       # the default as documented; None: say nothing
    parse: Parser | None = None    # None: the text as given
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    switch: bool = False
    flag_type: type | None = None  # argparse ``type`` (e.g. int for a port)
    note: str | None = None        # said after the variable and default in --help

    @property
    def name(self) -> str:
        """The argparse dest: ``--k-floor`` -> ``k_floor`` (a variable's name without one)."""
        if self.flag is not None:
            return self.flag.lstrip("-").replace("-", "_")
        return (self.env or "").lower()

    @property
    def where(self) -> str:
        """How error messages name the setting: ``--port (env DEIDENTIFY_PORT)``."""
        if self.flag and self.env:
            return f"{self.flag} (env {self.env})"
        return self.flag or self.env or "?"

    def help_text(self) -> str:
        """``--help``: the help, then ``(env VAR; default X; note)``."""
        parts = []
        if self.env:
            parts.append(f"env {self.env}" + ("=1" if self.switch else ""))
        if self.shown is not None:
            parts.append(f"default {self.shown}")
        if self.note:
            parts.append(self.note)
        return f"{self.help} ({'; '.join(parts)})" if parts else self.help

    def with_default(self, default: Any, shown: str | None = None) -> Setting:
        """The same setting with another default (a service that defaults differently)."""
        return replace(self, default=default, shown=shown if shown is not None else self.shown)

    def without_flag(self) -> Setting:
        return replace(self, flag=None)


class Sources:
    """Flag, else environment variable, else default: one resolver for every service."""

    def __init__(self, args: Any, env: Mapping[str, str]) -> None:
        self.args = args
        self.env = env

    def given(self, setting: Setting) -> Any:
        """The flag's or the variable's raw value; None when neither is given."""
        if setting.flag is not None:
            value = getattr(self.args, setting.name, None)
            if value is not None and value != "":
                return value
        if setting.env is not None:
            value = self.env.get(setting.env)
            if value is not None and value != "":
                return value
        return None

    def get(self, setting: Setting) -> Any:
        """The setting's typed value: parsed from the flag or the variable, else the default."""
        value = self.given(setting)
        if value is None:
            return setting.default
        if setting.parse is None:
            return value
        return setting.parse(value, setting.where)


def add_flags(parser: Any, settings: Iterable[Setting]) -> None:
    """Add the flag of each setting that has one to an argparse parser, in order."""
    for s in settings:
        if s.flag is None:
            continue
        kwargs: dict[str, Any] = {"default": None, "help": s.help_text(), "dest": s.name}
        if s.switch:
            kwargs["action"] = "store_true"
        else:
            if s.metavar is not None:
                kwargs["metavar"] = s.metavar
            if s.choices is not None:
                kwargs["choices"] = s.choices
            if s.flag_type is not None:
                kwargs["type"] = s.flag_type
        parser.add_argument(s.flag, **kwargs)


# --------------------------------------------------------------------------- parsers


def parse_duration_ms(text: str, *, what: str) -> int:
    """``500ms``, ``2s``, ``1m``, ``1h``; a bare number means seconds."""
    value = duration_ms(text, bare_unit="s")
    if value is None:
        raise SettingsError(f"{what}: '{text}' is not a duration (write e.g. 500ms, 2s, 1m)")
    return value


def duration(low_ms: int, high_ms: int | None, bounds: str) -> Parser:
    """A duration in ``[low_ms, high_ms]``; ``bounds`` says them in words for the error."""
    def parse(value: Any, where: str) -> int:
        ms = parse_duration_ms(str(value), what=where)
        if ms < low_ms or (high_ms is not None and ms > high_ms):
            raise SettingsError(f"{where}: must be {bounds}")
        return ms
    return parse


def integer(low: int, high: int | None = None, *, fix: str = "") -> Parser:
    """A whole number in ``[low, high]``; ``fix`` is added to the range error."""
    def parse(value: Any, where: str) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise SettingsError(f"{where}: '{value}' is not a whole number") from None
        if number < low or (high is not None and number > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise SettingsError(f"{where}: {number} is not {bounds}{fix}")
        return number
    return parse


def port(value: Any, where: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{where}: '{value}' is not a port number") from None
    if not 0 <= number < 65536:
        raise SettingsError(f"{where}: {number} is not between 0 and 65535")
    return number


def boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no", ""):
        return False
    raise SettingsError(f"{where}: '{value}' is not one of 1, true, yes, 0, false, no")


def one_of(choices: tuple[str, ...]) -> Parser:
    """Case-insensitive choice, returned in upper case (protocols, mechanisms, levels)."""
    def parse(value: Any, where: str) -> str:
        text = str(value).upper()
        if text not in choices:
            raise SettingsError(f"{where}: '{text}' is not one of {', '.join(choices)}")
        return text
    return parse


def kafka_name(value: Any, where: str) -> str:
    text = str(value)
    if not KAFKA_NAME_RE.match(text) or text in (".", ".."):
        raise SettingsError(f"{where}: '{text}' may use only letters, digits, '.', '_' and '-' "
                            "(at most 200)")
    return text


def region_name(value: Any, where: str) -> str:
    text = str(value)
    if not REGION_RE.match(text):
        raise SettingsError(f"{where}: '{text}' must match ^[a-z][a-z0-9-]{{0,31}}$ "
                            "(e.g. eu, us-east)")
    return text


def bootstrap_servers(value: Any, where: str) -> str:
    servers = [s.strip() for s in str(value).split(",") if s.strip()]
    if not servers:
        raise SettingsError(f"{where} is empty; write HOST:PORT[,HOST:PORT...]")
    for server in servers:
        match = HOST_PORT_RE.match(server)
        if not match or not 0 < int(match.group(2)) < 65536:
            raise SettingsError(f"{where}: '{server}' is not HOST:PORT "
                                "(write HOST:PORT[,HOST:PORT...])")
    return ",".join(servers)


# --------------------------------------------------------------------------- shared settings

BOOTSTRAP = Setting(
    "--bootstrap", "KAFKA_BOOTSTRAP", "Kafka bootstrap servers",
    default="127.0.0.1:9092", shown="127.0.0.1:9092", parse=bootstrap_servers,
    metavar="HOST:PORT")

SCHEMAS = Setting(
    "--schemas", "DEIDENTIFY_SCHEMAS", "folder of allowlist schemas",
    shown="the shipped schemas/", metavar="DIR")

K_FLOOR = Setting(
    "--k-floor", "DEIDENTIFY_K_FLOOR",
    "deployment-wide minimum k: a schema with a lower privacy.k is refused",
    default=DEFAULT_K_FLOOR, shown=f"{DEFAULT_K_FLOOR}, can only be raised",
    parse=integer(DEFAULT_K_FLOOR, MAX_K_FLOOR,
                  fix=f" (the floor can only be raised above the default {DEFAULT_K_FLOOR})"),
    metavar="K", flag_type=int)

LOG_LEVEL = Setting(
    None, "DEIDENTIFY_LOG_LEVEL", "log level (Kafka clients never below INFO)",
    default="INFO", shown="INFO", parse=one_of(LOG_LEVELS))

def http_port(help: str, default: int) -> Setting:
    """``--port`` / ``DEIDENTIFY_PORT`` of a service's HTTP server (0: any free port)."""
    return Setting("--port", "DEIDENTIFY_PORT", help, default=default, shown=str(default),
                   parse=port, flag_type=int)


# Who may read an HTTP surface (see deidentify/webconfig.py and docs/security.md).
BIND = Setting(
    "--bind", "DEIDENTIFY_BIND",
    "address of the HTTP server; a non-loopback address needs authentication from "
    "--web-config", default="127.0.0.1", shown="127.0.0.1", metavar="ADDRESS")
WEB_CONFIG = Setting(
    "--web-config", "DEIDENTIFY_WEB_CONFIG",
    "Prometheus exporter web config: tls_server_config (TLS, client CA) and bcrypt "
    "basic_auth_users; reloaded when it changes", metavar="FILE")
INSECURE_LISTEN = Setting(
    "--insecure-listen", "DEIDENTIFY_INSECURE_LISTEN",
    "allow a non-loopback --bind without authentication, for a lab; logged as INSECURE",
    default=False, parse=boolean, switch=True)
PROBE_PORT = Setting(
    "--probe-port", "DEIDENTIFY_PROBE_PORT",
    "also serve /livez and /readyz, unauthenticated plain HTTP, on this port",
    shown="none: only on --port", parse=port, metavar="PORT", flag_type=int)
ACCESS_LOG = Setting(
    "--access-log", "DEIDENTIFY_ACCESS_LOG",
    "append the dashboard/API access log to FILE, mode 0600",
    shown="none: the process log, logger deidentify.access", metavar="FILE")
WEB_SETTINGS = (BIND, WEB_CONFIG, INSECURE_LISTEN, PROBE_PORT)

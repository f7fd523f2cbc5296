"""Who may read the HTTP surfaces: the web configuration shared by ``run`` and ``central``.

Both runtimes serve Internal data over HTTP (the sidecar's ``/metrics``, the collector's
dashboard, ``/api/summary`` and ``/metrics``). This module is the one place that decides who
may read it; neither runtime has its own copy.

* **The file** (``--web-config FILE``, env ``DEIDENTIFY_WEB_CONFIG``) has the format of the
  Prometheus exporters' web configuration (exporter-toolkit), so a Prometheus scrape config
  and secret tooling written for node_exporter work unchanged::

      tls_server_config:                 # optional: serve HTTPS
        cert_file: /etc/deidentify/tls.crt
        key_file: /etc/deidentify/tls.key
        client_ca_file: /etc/deidentify/clients-ca.crt   # optional: mTLS
        client_auth_type: RequireAndVerifyClientCert     # default NoClientCert
        min_version: TLS12                               # TLS12 (default) or TLS13
      basic_auth_users:                  # optional: user -> bcrypt hash
        prometheus: $2y$10$...

  Relative paths are relative to the file. Unknown keys are refused with the file, line and
  fix (a typo must not silently switch authentication off).
* **Listening safely** (:func:`check_listen`): without a web config the default address is
  loopback; a non-loopback address without authentication (basic auth users or a required,
  verified client certificate) is refused at start, unless ``--insecure-listen`` says so
  explicitly, and then every log line about the listener says ``INSECURE``.
* **Probes** (``/livez``, ``/readyz``) are never authenticated and say only status; with
  ``--probe-port`` they are also served, plain HTTP, on a port of their own.
* **Reload without restart** (:class:`WebAccess`): the file's mtime is checked at most once
  a second when a request arrives (and on SIGHUP in the sidecar). A new user list applies
  at once; a new certificate and key are loaded into the running TLS context for new
  connections. A file that no longer loads keeps the last good configuration and logs the
  error; changes that need a new listener (TLS on/off, client CA or auth type) are logged as
  needing a restart and otherwise ignored.
* **Access log** (:func:`access_logger`): one line per request that is not a probe, on the
  logger ``deidentify.access``: who (basic-auth user or client-certificate subject), the
  route template (never a query string or a path segment a client typed), the status.

Cost: one ``stat()`` per request and second; bcrypt (~60 ms at cost 10) runs once per
(user, password) in a worker thread and its result is cached under a keyed hash of the
password (a per-process random key, never persisted), so a scrape every second costs
nothing after the first. The cache holds at most :data:`AUTH_CACHE_SIZE` entries and is
dropped with every reload.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
import socket
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from deidentify.errors import SchemaError, SettingsError, WebConfigError
from deidentify.runtime import settings as declared

__all__ = [
    "PROBE_PATHS",
    "TlsServerConfig",
    "WebAccess",
    "WebConfig",
    "WebListener",
    "WebSettings",
    "access_logger",
    "check_listen",
    "hash_password",
    "is_loopback",
    "load_web_config",
    "web_settings",
    "write_web_config",
]

log = logging.getLogger("deidentify.web")
ACCESS_LOGGER = "deidentify.access"

PROBE_PATHS = frozenset({"/livez", "/readyz"})
DEFAULT_BIND = declared.BIND.default
CLIENT_AUTH_TYPES = ("NoClientCert", "RequestClientCert", "RequireAnyClientCert",
                     "VerifyClientCertIfGiven", "RequireAndVerifyClientCert")
TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
TOP_KEYS = ("tls_server_config", "basic_auth_users", "http_server_config")
TLS_KEYS = ("cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version",
            "max_version")
HTTP_KEYS = ("http2",)
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
USER_RE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-")
MAX_WEB_CONFIG_BYTES = 1 << 20
AUTH_CACHE_SIZE = 256
RELOAD_CHECK_S = 1.0
REALM = 'Basic realm="deidentify", charset="UTF-8"'


# ---------------------------------------------------------------------------- the file


@dataclass(frozen=True)
class TlsServerConfig:
    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None
    client_auth_type: str = "NoClientCert"
    min_version: str = "TLS12"
    max_version: str | None = None

    @property
    def verifies_clients(self) -> bool:
        """A verified client certificate is required: that alone authenticates."""
        return self.client_auth_type == "RequireAndVerifyClientCert"


@dataclass(frozen=True)
class WebConfig:
    """One loaded web configuration file (``file`` is None: no file, plain HTTP, no auth)."""

    file: Path | None = None
    tls: TlsServerConfig | None = None
    users: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def authenticates(self) -> bool:
        return bool(self.users) or (self.tls is not None and self.tls.verifies_clients)

    def auth_methods(self) -> str:
        methods = []
        if self.users:
            methods.append("basic")
        if self.tls is not None and self.tls.verifies_clients:
            methods.append("client-certificate")
        return "+".join(methods) or "none"


def _err(path: Path, line: int | None, message: str, fix: str) -> WebConfigError:
    return WebConfigError(message, file=str(path), line=line, fix=fix)


def _unknown(path: Path, mapping: Any, allowed: tuple[str, ...], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise _err(path, mapping.line_of(key), f"unknown key '{key}' in {where}",
                       f"use only {', '.join(allowed)}")


def _file(path: Path, tls: Any, key: str, *, required: bool) -> Path | None:
    value = tls.get(key)
    if value is None:
        if required:
            raise _err(path, tls.line, f"tls_server_config needs {key}",
                       f"add '{key}: /path/to/file.pem'")
        return None
    if not isinstance(value, str) or not value:
        raise _err(path, tls.line_of(key), f"{key} must be a file path",
                   f"write '{key}: /path/to/file.pem'")
    resolved = (path.parent / value) if not os.path.isabs(value) else Path(value)
    if not resolved.is_file():
        raise _err(path, tls.line_of(key), f"{key}: {value}: no such file",
                   "point it at an existing PEM file (relative paths start at this file)")
    return resolved


def _tls(path: Path, tls: Any) -> TlsServerConfig | None:
    if tls is None:
        return None
    if not hasattr(tls, "line_of"):
        raise _err(path, None, "tls_server_config must be a mapping",
                   "write cert_file and key_file under tls_server_config")
    _unknown(path, tls, TLS_KEYS, "tls_server_config")
    auth_type = tls.get("client_auth_type", "NoClientCert")
    if auth_type not in CLIENT_AUTH_TYPES:
        raise _err(path, tls.line_of("client_auth_type"),
                   f"client_auth_type '{auth_type}' is not known",
                   f"use one of {', '.join(CLIENT_AUTH_TYPES)}")
    ca = _file(path, tls, "client_ca_file", required=False)
    if auth_type in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert") and ca is None:
        raise _err(path, tls.line_of("client_auth_type"),
                   f"client_auth_type {auth_type} needs client_ca_file",
                   "add 'client_ca_file: /path/to/clients-ca.pem'")
    versions = {}
    for key in ("min_version", "max_version"):
        value = tls.get(key)
        if value is not None and value not in TLS_VERSIONS:
            raise _err(path, tls.line_of(key), f"{key} '{value}' is not supported",
                       f"use one of {', '.join(TLS_VERSIONS)}")
        versions[key] = value
    return TlsServerConfig(cert_file=_file(path, tls, "cert_file", required=True),
                           key_file=_file(path, tls, "key_file", required=True),
                           client_ca_file=ca, client_auth_type=auth_type,
                           min_version=versions["min_version"] or "TLS12",
                           max_version=versions["max_version"])


def _users(path: Path, users: Any) -> dict[str, bytes]:
    if users is None:
        return {}
    if not hasattr(users, "line_of"):
        raise _err(path, None, "basic_auth_users must be a mapping of user: bcrypt hash",
                   "write '  prometheus: $2y$10$...' under basic_auth_users")
    out = {}
    for user, hashed in users.items():
        line = users.line_of(user)
        if not user or not set(user) <= USER_RE_CHARS or len(user) > 64:
            raise _err(path, line, "a user name may use only letters, digits and . _ @ -",
                       "rename the user (at most 64 characters)")
        if not isinstance(hashed, str) or not hashed.startswith(BCRYPT_PREFIXES) \
                or len(hashed) != 60:
            # never echo the value: it may be a clear-text password pasted by mistake
            raise _err(path, line, f"the password of user '{user}' is not a bcrypt hash",
                       "write the hash, e.g. from "
                       "python3 -c 'import bcrypt,getpass; print(bcrypt.hashpw("
                       "getpass.getpass().encode(), bcrypt.gensalt()).decode())'")
        out[user] = hashed.encode("ascii")
    return out


def load_web_config(file: str | os.PathLike) -> WebConfig:
    """Read and check a web configuration file; raises :class:`WebConfigError`."""
    from deidentify.schema.yamlsource import read_yaml

    path = Path(file)
    try:
        if path.stat().st_size > MAX_WEB_CONFIG_BYTES:
            raise _err(path, None, "the file is larger than 1 MiB", "is this the right file?")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _err(path, None, f"cannot read the web config ({exc.strerror or type(exc).__name__})",
                   "check the path given to --web-config / DEIDENTIFY_WEB_CONFIG") from None
    except UnicodeDecodeError:
        raise _err(path, None, "the file is not UTF-8 text", "save it as UTF-8") from None
    if not text.strip():
        return WebConfig(file=path)      # an empty file is valid: no TLS, no users
    try:
        doc = read_yaml(text, str(path))
    except SchemaError as exc:
        raise _err(path, exc.line, exc.message, exc.fix or "fix the YAML") from None
    if not hasattr(doc, "line_of"):
        raise _err(path, 1, "the web config must be a mapping",
                   f"use the keys {', '.join(TOP_KEYS)}")
    _unknown(path, doc, TOP_KEYS, "the web config")
    http = doc.get("http_server_config")
    if http is not None:
        if not hasattr(http, "line_of"):
            raise _err(path, doc.line_of("http_server_config"),
                       "http_server_config must be a mapping", "write 'http2: true' under it")
        _unknown(path, http, HTTP_KEYS, "http_server_config")
    return WebConfig(file=path, tls=_tls(path, doc.get("tls_server_config")),
                     users=_users(path, doc.get("basic_auth_users")))


@cache
def _dummy_hash() -> bytes:
    """A bcrypt hash of a random string: an unknown user costs as much as a known one."""
    import bcrypt
    return bcrypt.hashpw(secrets.token_bytes(16).hex().encode(), bcrypt.gensalt(10))


def hash_password(password: str, rounds: int = 10) -> str:
    import bcrypt
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


def write_web_config(path: Path, users: Mapping[str, str], *, cert_file: Path | None = None,
                     key_file: Path | None = None) -> None:
    """Write a web config (mode 0600) for ``users`` (user -> clear password, hashed here)."""
    lines = []
    if cert_file is not None and key_file is not None:
        lines += ["tls_server_config:", f"  cert_file: {cert_file}", f"  key_file: {key_file}"]
    lines.append("basic_auth_users:")
    lines += [f"  {user}: {hash_password(pw)}" for user, pw in users.items()]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class WebSettings:
    """Where and how an HTTP surface listens (shared by ``run`` and ``central``)."""

    bind: str = DEFAULT_BIND
    web_config: WebConfig = field(default_factory=WebConfig)
    insecure_listen: bool = False
    probe_port: int | None = None
    access_log: Path | None = None

    def describe(self, port: int, probe_port: int | None = None) -> str:
        """One log fragment naming the listener; says INSECURE when it is."""
        scheme = "https" if self.web_config.tls else "http"
        host = f"[{self.bind}]" if ":" in self.bind else self.bind
        text = f"listen={scheme}://{host}:{port}/ auth={self.web_config.auth_methods()}"
        if self.web_config.file is not None:
            text += f" web_config={self.web_config.file}"
        if self.bind in ("0.0.0.0", "::", ""):
            text += " (all interfaces)"
        if probe_port is not None:
            text += f" probes=http://{host}:{probe_port}/"
        if self.insecure_listen and not is_loopback(self.bind) \
                and not self.web_config.authenticates:
            text += " INSECURE(--insecure-listen: Internal data unauthenticated on the network)"
        elif self.insecure_listen:
            text += " insecure_listen=set"
        return text


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_listen(bind: str, config: WebConfig, insecure: bool) -> None:
    """Refuse to serve Internal data unauthenticated on a non-loopback address."""
    if is_loopback(bind) or config.authenticates or insecure:
        return
    raise SettingsError(
        f"refusing to listen on {bind or 'every interface'} without authentication: the "
        "metrics and dashboard are Internal data (fix: give --web-config FILE / "
        "DEIDENTIFY_WEB_CONFIG with basic_auth_users or a required client certificate, or "
        "bind to 127.0.0.1 with --bind / DEIDENTIFY_BIND; --insecure-listen / "
        "DEIDENTIFY_INSECURE_LISTEN=1 exists for a lab only)")


def web_settings(args: Any, env: Mapping[str, str], *, access_log: bool = False) -> WebSettings:
    """``--bind``, ``--web-config``, ``--insecure-listen``, ``--probe-port`` (and
    ``--access-log`` where the surface keeps one), each flag > env > default, as declared in
    :mod:`deidentify.runtime.settings`."""
    src = declared.Sources(args, env)
    bind = src.get(declared.BIND)
    if not all(c.isalnum() or c in ".:_-[]" for c in bind) or len(bind) > 253:
        raise SettingsError(f"{declared.BIND.where}: '{bind}' is not a host name or address")
    bind = bind.strip("[]")
    file = src.get(declared.WEB_CONFIG)
    config = load_web_config(file) if file is not None else WebConfig()
    insecure = src.get(declared.INSECURE_LISTEN)
    probe_port = src.get(declared.PROBE_PORT)
    log_path = None
    if access_log:
        value = src.get(declared.ACCESS_LOG)
        if value is not None:
            log_path = Path(value)
            if not log_path.parent.is_dir():
                raise SettingsError(f"{declared.ACCESS_LOG.where}: {log_path.parent}: "
                                    "no such directory")
    check_listen(bind, config, insecure)
    server_context(config)          # a key that does not match its certificate fails now
    return WebSettings(bind=bind, web_config=config, insecure_listen=insecure,
                       probe_port=probe_port, access_log=log_path)


# ---------------------------------------------------------------------------- runtime


def _server_context(tls: TlsServerConfig) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = TLS_VERSIONS[tls.min_version]
    if tls.max_version:
        ctx.maximum_version = TLS_VERSIONS[tls.max_version]
    ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    if tls.client_ca_file is not None:
        ctx.load_verify_locations(cafile=str(tls.client_ca_file))
    ctx.verify_mode = {
        "NoClientCert": ssl.CERT_NONE,
        "RequestClientCert": ssl.CERT_OPTIONAL,
        "RequireAnyClientCert": ssl.CERT_REQUIRED,
        "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
        "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
    }[tls.client_auth_type]
    if tls.client_auth_type in ("RequestClientCert", "RequireAnyClientCert") \
            and tls.client_ca_file is None:
        # Go's "any" client certificate has no Python equivalent without a CA to check it
        # against; ask for none rather than accept one unverified.
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def server_context(config: WebConfig) -> ssl.SSLContext | None:
    """The TLS context of ``config`` (None: plain HTTP); a bad key/cert is a WebConfigError."""
    if config.tls is None:
        return None
    try:
        return _server_context(config.tls)
    except (OSError, ssl.SSLError) as exc:
        raise WebConfigError(f"cannot load the TLS certificate or key "
                             f"({getattr(exc, 'reason', None) or type(exc).__name__})",
                             file=str(config.file), line=None,
                             fix="cert_file and key_file must be a matching PEM pair") from None


def _subject(request) -> str | None:
    transport = request.transport
    cert = transport.get_extra_info("peercert") if transport is not None else None
    if not cert:
        return None
    parts = []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            short = {"commonName": "CN", "organizationName": "O",
                     "organizationalUnitName": "OU", "countryName": "C"}.get(key, key)
            parts.append(f"{short}={value}")
    return ",".join(parts) or "(no subject)"


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class WebAccess:
    """The live web configuration of one process: reload, TLS context, authentication."""

    def __init__(self, settings: WebSettings, *, access_log: logging.Logger | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 reload_check_s: float = RELOAD_CHECK_S) -> None:
        self.settings = settings
        self.reload_check_s = reload_check_s
        self.config = settings.web_config
        self.ssl_context = server_context(self.config)
        self.access_log = access_log
        self.clock = clock
        self._mtime = self._stat()
        self._checked = clock()
        self._key = secrets.token_bytes(32)
        self._cache: OrderedDict[tuple[str, bytes], bool] = OrderedDict()

    # ---------------------------------------------------------------- reload

    def _stat(self) -> float | None:
        if self.config.file is None:
            return None
        try:
            st = self.config.file.stat()
        except OSError:
            return None
        mtimes = [st.st_mtime_ns]
        tls = self.config.tls
        for extra in ((tls.cert_file, tls.key_file) if tls else ()):
            try:
                mtimes.append(extra.stat().st_mtime_ns)
            except OSError:
                pass
        return float(max(mtimes))

    def maybe_reload(self) -> None:
        """Reload when the file (or its certificate) changed; at most once a second."""
        now = self.clock()
        if self.config.file is None or now - self._checked < self.reload_check_s:
            return
        self._checked = now
        if self._stat() != self._mtime:
            self.reload()

    def reload(self) -> bool:
        """Load the file again; True if the new configuration is in force."""
        if self.config.file is None:
            return False
        self._mtime = self._stat()
        try:
            new = load_web_config(self.config.file)
        except WebConfigError as exc:
            log.error("web config not reloaded, the previous one stays in force: %s", exc)
            return False
        old_tls, new_tls = self.config.tls, new.tls
        if (old_tls is None) != (new_tls is None) or (
                old_tls is not None and new_tls is not None
                and (old_tls.client_ca_file, old_tls.client_auth_type, old_tls.min_version,
                     old_tls.max_version) != (new_tls.client_ca_file,
                                              new_tls.client_auth_type,
                                              new_tls.min_version, new_tls.max_version)):
            log.error("web config not reloaded: %s changes TLS on/off, the client CA, the "
                      "client auth type or the TLS versions, which needs a restart",
                      self.config.file)
            return False
        if not new.authenticates and not is_loopback(self.settings.bind) \
                and not self.settings.insecure_listen:
            log.error("web config not reloaded: %s would leave %s without authentication",
                      self.config.file, self.settings.bind)
            return False
        if new_tls is not None and self.ssl_context is not None:
            try:
                self.ssl_context.load_cert_chain(str(new_tls.cert_file), str(new_tls.key_file))
            except (OSError, ssl.SSLError) as exc:
                log.error("web config not reloaded: cannot load the certificate or key (%s)",
                          type(exc).__name__)
                return False
        self.config = new
        self._cache.clear()
        log.warning("web config reloaded: %s auth=%s users=%d", new.file, new.auth_methods(),
                    len(new.users))
        return True

    # ---------------------------------------------------------------- authentication

    def _cache_key(self, user: str, password: str) -> tuple[str, bytes]:
        return user, hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).digest()

    async def check_basic(self, user: str, password: str) -> bool:
        key = self._cache_key(user, password)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        import bcrypt
        hashed = self.config.users.get(user)
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(None, bcrypt.checkpw, password.encode("utf-8"),
                                        hashed or _dummy_hash())
        ok = ok and hashed is not None
        if ok:           # only successes are cached: guesses cannot fill the cache
            self._cache[key] = True
            while len(self._cache) > AUTH_CACHE_SIZE:
                self._cache.popitem(last=False)
        return ok

    async def identify(self, request) -> tuple[bool, str]:
        """(allowed, who) for one request under the current configuration."""
        config = self.config
        subject = _subject(request)
        who = f"cert:{subject}" if subject else "-"
        if config.tls is not None and config.tls.verifies_clients and subject is None:
            return False, who          # the handshake should have refused it already
        if not config.users:
            return True, who
        creds = _basic_credentials(request.headers.get("Authorization"))
        if creds is None or not await self.check_basic(*creds):
            return False, who
        return True, creds[0] if subject is None else f"{creds[0]} {who}"

    def middleware(self):
        """aiohttp middleware: probes pass, everything else is authenticated and logged."""
        from aiohttp import web

        @web.middleware
        async def authenticate(request: web.Request, handler):
            if request.path in PROBE_PATHS:
                return await handler(request)
            self.maybe_reload()
            allowed, who = await self.identify(request)
            if not allowed:
                self._log(request, who, 401)
                raise web.HTTPUnauthorized(headers={"WWW-Authenticate": REALM})
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                self._log(request, who, exc.status)
                raise
            self._log(request, who, response.status)
            return response

        return authenticate

    def _log(self, request, who: str, status: int) -> None:
        if self.access_log is None:
            return
        # the route template, never the path a client typed nor the query string
        info = request.match_info
        route = getattr(getattr(info, "route", None), "resource", None)
        path = route.canonical if route is not None else "(unmatched)"
        self.access_log.info("user=%s method=%s path=%s status=%d", who,
                             request.method if request.method in ("GET", "HEAD", "POST")
                             else "OTHER", path, status)


def access_logger(path: Path | None) -> logging.Logger:
    """``deidentify.access``: to ``path`` (mode 0600, appended) when set, else the process log.

    The access log is Internal data too (who read what, when).
    """
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.setLevel(logging.INFO)
    if path is not None and not any(getattr(h, "_deidentify_access", None) == str(path)
                                    for h in logger.handlers):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("ts=%(asctime)s %(message)s"))
        handler._deidentify_access = str(path)  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    return logger


# ---------------------------------------------------------------------------- listening


def _bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class WebListener:
    """Serve one aiohttp application under a :class:`WebAccess`; ``start()``/``stop()``.

    The application gets the authentication middleware; with a probe port, a second plain
    HTTP listener serves only ``/livez`` and ``/readyz`` of the same application.
    """

    def __init__(self, app, access: WebAccess, *, port: int) -> None:
        self.app = app
        self.access = access
        self.port = port
        self.probe_port: int | None = access.settings.probe_port
        self._runners: list = []
        app.middlewares.insert(0, access.middleware())

    def _probe_app(self):
        from aiohttp import web
        probes = web.Application()
        for route in self.app.router.routes():
            canonical = route.resource.canonical if route.resource is not None else None
            if canonical in PROBE_PATHS and route.method == "GET":
                probes.router.add_get(canonical, route.handler)
        return probes

    async def _serve(self, app, port: int, ssl_context) -> int:
        from aiohttp import web
        sock = _bind_socket(self.access.settings.bind, port)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        try:
            await runner.setup()
            await web.SockSite(runner, sock, ssl_context=ssl_context).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runners.append(runner)
        return sock.getsockname()[1]

    async def start(self) -> int:
        """Bind and serve; returns the bound port (useful with port 0)."""
        try:
            self.port = await self._serve(self.app, self.port, self.access.ssl_context)
            if self.probe_port is not None:
                self.probe_port = await self._serve(self._probe_app(), self.probe_port, None)
        except BaseException:
            await self.stop()
            raise
        settings = self.access.settings
        if settings.insecure_listen and not is_loopback(settings.bind) \
                and not self.access.config.authenticates:
            log.warning("serving without authentication on the network: %s", self.describe())
        return self.port

    async def stop(self) -> None:
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()

    def describe(self) -> str:
        return self.access.settings.describe(self.port, self.probe_port)


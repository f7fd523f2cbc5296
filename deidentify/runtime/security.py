"""Kafka security of both services: TLS, mTLS, SASL, and secrets read from files.

The same flags and variables, with the same checks, for ``deidentify run`` (flags and
variables) and ``deidentify central`` (variables only; its CLI has no security flags):

* SASL PLAIN over a connection without TLS is refused (the password would cross the network
  in clear);
* a password or key file that other users may read is accepted with a warning
  (``KafkaSecurity.warnings``, logged at start) - refusing it would break the 0644 files
  that secret mounts often make;
* secrets (the SASL password) come from an environment variable or a file, never from a
  flag, and are wrapped in :class:`Secret` so that no ``repr``, log line or error message
  can show them.

Imports no Kafka client: clients are built from :class:`KafkaSecurity` by each runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deidentify.errors import SettingsError
from deidentify.runtime.settings import Setting, Sources, one_of

__all__ = ["SECURITY_SETTINGS", "KafkaSecurity", "Secret", "kafka_security"]

MAX_SECRET_FILE_BYTES = 4096
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

SECURITY_PROTOCOL = Setting(
    "--security-protocol", "KAFKA_SECURITY_PROTOCOL",
    "Kafka security protocol", default="PLAINTEXT", shown="PLAINTEXT",
    parse=one_of(SECURITY_PROTOCOLS), choices=SECURITY_PROTOCOLS)
SASL_MECHANISM = Setting(
    "--sasl-mechanism", "KAFKA_SASL_MECHANISM", "SASL mechanism",
    shown="SCRAM-SHA-512", choices=SASL_MECHANISMS)
SASL_USERNAME = Setting(
    "--sasl-username", "KAFKA_SASL_USERNAME", "SASL user name")
SASL_PASSWORD_FILE = Setting(
    "--sasl-password-file", "KAFKA_SASL_PASSWORD_FILE",
    "file holding the SASL password", metavar="FILE",
    note="or the password itself in env KAFKA_SASL_PASSWORD; never a flag")
# a secret: no flag (it would show in ps), never parsed or shown
SASL_PASSWORD = Setting(None, "KAFKA_SASL_PASSWORD", "the SASL password itself")
SSL_CAFILE = Setting(
    "--ssl-cafile", "KAFKA_SSL_CAFILE",
    "CA certificate(s) to verify the brokers, PEM", shown="the system's trusted CAs",
    metavar="FILE")
SSL_CERTFILE = Setting(
    "--ssl-certfile", "KAFKA_SSL_CERTFILE",
    "client certificate for mTLS to the brokers, PEM", metavar="FILE",
    note="needs --ssl-keyfile")
SSL_KEYFILE = Setting(
    "--ssl-keyfile", "KAFKA_SSL_KEYFILE",
    "the client certificate's private key, PEM, unencrypted", metavar="FILE")
SECURITY_SETTINGS = (SECURITY_PROTOCOL, SASL_MECHANISM, SASL_USERNAME, SASL_PASSWORD_FILE,
                     SSL_CAFILE, SSL_CERTFILE, SSL_KEYFILE, SASL_PASSWORD)


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
    """How a service authenticates to and encrypts its Kafka connections."""

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


def read_secret_file(path: str, *, what: str) -> Secret:
    """The first line of a small UTF-8 file, as a :class:`Secret` (errors never quote it)."""
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


def _tls_files(src: Sources, protocol: str,
               warnings: list[str]) -> tuple[str | None, str | None, str | None]:
    """(CA file, client certificate, its key), each checked against the protocol."""
    proto_where = SECURITY_PROTOCOL.where
    cafile = src.get(SSL_CAFILE)
    if cafile is not None:
        if protocol not in ("SSL", "SASL_SSL"):
            raise SettingsError(f"{SSL_CAFILE.where} is set but {proto_where} is {protocol}; "
                                "use SSL or SASL_SSL")
        if not Path(cafile).is_file():
            raise SettingsError(f"{SSL_CAFILE.where}: {cafile}: no such file")
    certfile = src.get(SSL_CERTFILE)
    keyfile = src.get(SSL_KEYFILE)
    if certfile is not None or keyfile is not None:
        if protocol not in ("SSL", "SASL_SSL"):
            raise SettingsError(f"a client certificate ({SSL_CERTFILE.where}) is set but "
                                f"{proto_where} is {protocol}; use SSL (mTLS) or SASL_SSL")
        if certfile is None or keyfile is None:
            raise SettingsError(f"a client certificate needs both {SSL_CERTFILE.where} and "
                                f"{SSL_KEYFILE.where}")
        for path, where in ((certfile, SSL_CERTFILE.where), (keyfile, SSL_KEYFILE.where)):
            if not Path(path).is_file():
                raise SettingsError(f"{where}: {path}: no such file")
        note = _readable_by_others(keyfile, what=SSL_KEYFILE.where)
        if note:
            warnings.append(note)
    return cafile, certfile, keyfile


def _sasl_password(src: Sources, protocol: str, warnings: list[str]) -> Secret:
    password_file = src.get(SASL_PASSWORD_FILE)
    password_env = src.env.get(SASL_PASSWORD.env or "") or None
    where = SASL_PASSWORD_FILE.where
    if password_file is not None and password_env is not None:
        raise SettingsError(f"both {SASL_PASSWORD.env} and {where} are set; keep one")
    if password_file is not None:
        note = _readable_by_others(password_file, what=where)
        if note:
            warnings.append(note)
        return read_secret_file(password_file, what=where)
    if password_env is not None:
        return Secret(password_env)
    raise SettingsError(f"{protocol} needs a password: set {SASL_PASSWORD.env} or {where}")


def kafka_security(args: Any, env: Mapping[str, str]) -> KafkaSecurity:
    """TLS/SASL settings from flags (attributes of ``args``, may be absent) and environment.

    Shared by ``deidentify run`` and ``deidentify central`` so both read the same variables
    with the same checks; the password is wrapped in :class:`Secret` and never shown.
    """
    src = Sources(args, env)
    protocol = src.get(SECURITY_PROTOCOL)
    warnings: list[str] = []
    cafile, certfile, keyfile = _tls_files(src, protocol, warnings)
    mechanism = src.get(SASL_MECHANISM)
    if protocol not in ("SASL_PLAINTEXT", "SASL_SSL"):
        if mechanism is not None or src.get(SASL_PASSWORD_FILE) is not None:
            raise SettingsError(f"a SASL setting is given but {SECURITY_PROTOCOL.where} is "
                                f"{protocol}; use SASL_SSL (or SASL_PLAINTEXT)")
        # KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD may be set for the local broker script;
        # without a SASL protocol they are not ours to use.
        return KafkaSecurity(protocol=protocol, ssl_cafile=cafile, ssl_certfile=certfile,
                             ssl_keyfile=keyfile, warnings=tuple(warnings))
    mechanism = one_of(SASL_MECHANISMS)(mechanism or "SCRAM-SHA-512", SASL_MECHANISM.where)
    if mechanism == "PLAIN" and protocol == "SASL_PLAINTEXT":
        raise SettingsError(f"{SASL_MECHANISM.where} PLAIN over {SECURITY_PROTOCOL.where} "
                            "SASL_PLAINTEXT would send the password in clear; use SASL_SSL "
                            "(or SCRAM-SHA-512)")
    username = src.get(SASL_USERNAME)
    if not username:
        raise SettingsError(f"{protocol} needs a user name: set {SASL_USERNAME.where}")
    password = _sasl_password(src, protocol, warnings)
    return KafkaSecurity(protocol=protocol, sasl_mechanism=mechanism, sasl_username=username,
                         sasl_password=password, ssl_cafile=cafile, ssl_certfile=certfile,
                         ssl_keyfile=keyfile, warnings=tuple(warnings))

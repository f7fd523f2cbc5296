"""Throw-away certificate authorities, certificates and web configs for the TLS tests.

Made with the ``cryptography`` package in the test's temporary folder; nothing is kept.
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from deidentify.webconfig import write_web_config


@dataclass(frozen=True)
class Pem:
    cert: Path
    key: Path


def _write_key(key, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def make_ca(folder: Path, name: str = "deidentify test CA") -> tuple[Pem, object, object]:
    """A self-signed CA: (files, certificate, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    files = Pem(folder / f"{name.replace(' ', '-')}.crt", folder / f"{name.replace(' ', '-')}.key")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, files.key)
    return files, cert, key


def issue(folder: Path, ca: tuple[Pem, object, object], common_name: str, *,
          client: bool = False, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> Pem:
    """A leaf certificate signed by ``ca``: a server (SANs ``hosts``) or a client."""
    _files, ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                                        x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                                           "deidentify tests")]))
               .issuer_name(ca_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    if client:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    else:
        names = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = (builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                                  critical=False))
    cert = builder.sign(ca_key, hashes.SHA256())
    stem = common_name.replace(" ", "-")
    files = Pem(folder / f"{stem}.crt", folder / f"{stem}.key")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, files.key)
    return files


@dataclass(frozen=True)
class WebTls:
    """A web config with TLS and one basic-auth user, and what a client needs."""

    config: Path
    ca: Pem
    server: Pem
    user: str
    password: str

    def client_context(self, client: Pem | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca.cert))
        if client is not None:
            ctx.load_cert_chain(str(client.cert), str(client.key))
        return ctx


def web_tls(folder: Path, *, user: str = "prometheus") -> WebTls:
    folder.mkdir(parents=True, exist_ok=True)
    ca = make_ca(folder)
    server = issue(folder, ca, "deidentify-server")
    password = secrets.token_urlsafe(16)
    config = folder / "web-config.yml"
    write_web_config(config, {user: password}, cert_file=server.cert, key_file=server.key)
    return WebTls(config, ca[0], server, user, password)

"""The shared web configuration (deidentify/webconfig.py): file checks, safe listening,
authentication over real TLS sockets, reload without restart, the access log.

Servers here are real aiohttp listeners on 127.0.0.1 with throw-away certificates; the
clients are aiohttp with their own TLS contexts. No broker.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import socket
import ssl
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from deidentify.errors import SettingsError, WebConfigError
from deidentify.metrics import sidecar_metrics
from deidentify.sidecar.health import HealthServer, HealthState
from deidentify.webconfig import (
    WebAccess,
    WebListener,
    WebSettings,
    check_listen,
    hash_password,
    is_loopback,
    load_web_config,
    web_settings,
    write_web_config,
)
from tests.tls_helpers import issue, make_ca, web_tls

HASH = hash_password("s3cret-pass")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "web.yml"
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- the file


@pytest.mark.parametrize("text, line, words", [
    ("basic_auth_users:\n  alice: " + HASH + "\nbasic_auth_user:\n  bob: x\n", 3,
     "unknown key 'basic_auth_user'"),
    ("tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n", 2,
     "cert_file: nope.crt: no such file"),
    ("basic_auth_users:\n  alice: " + HASH + "\n  bob: clear-text-password\n", 3,
     "password of user 'bob' is not a bcrypt hash"),
    ("basic_auth_users:\n  alice: [\n", None, "not valid YAML"),
    ("tls_server_config:\n  cert_file: {crt}\n  key_file: {key}\n"
     "  client_auth_type: RequireAndVerifyClientCert\n", 4, "needs client_ca_file"),
    ("tls_server_config:\n  cert_file: {crt}\n  key_file: {key}\n"
     "  client_auth_type: Always\n", 4, "client_auth_type 'Always' is not known"),
    ("tls_server_config:\n  cert_file: {crt}\n  key_file: {key}\n  ciphers: [x]\n", 4,
     "unknown key 'ciphers' in tls_server_config"),
])
def test_bad_files_name_the_file_line_and_fix(tmp_path: Path, text: str, line, words) -> None:
    ca = make_ca(tmp_path)
    server = issue(tmp_path, ca, "srv")
    path = write(tmp_path, text.format(crt=server.cert, key=server.key))
    with pytest.raises(WebConfigError) as info:
        load_web_config(path)
    message = str(info.value)
    assert words in message
    assert message.startswith(f"{path}:{line}:" if line else f"{path}")
    assert "(fix: " in message
    assert "clear-text-password" not in message        # a pasted password is never echoed


def test_a_good_file_loads(tmp_path: Path) -> None:
    tls = web_tls(tmp_path)
    config = load_web_config(tls.config)
    assert set(config.users) == {"prometheus"} and config.tls is not None
    assert config.authenticates and config.auth_methods() == "basic"
    assert "$2" not in repr(config)                      # hashes stay out of repr()
    assert not load_web_config(write(tmp_path, "")).authenticates


def test_a_missing_file_is_a_settings_error_naming_the_flag(tmp_path: Path) -> None:
    with pytest.raises(WebConfigError, match="--web-config / DEIDENTIFY_WEB_CONFIG"):
        web_settings(None, {"DEIDENTIFY_WEB_CONFIG": str(tmp_path / "none.yml")})


def test_a_key_that_does_not_match_its_certificate_fails_at_start(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    one, two = issue(tmp_path, ca, "one"), issue(tmp_path, ca, "two")
    path = write(tmp_path, f"tls_server_config:\n  cert_file: {one.cert}\n  key_file: {two.key}\n"
                           f"basic_auth_users:\n  a: {HASH}\n")
    with pytest.raises(WebConfigError, match="matching PEM pair"):
        web_settings(None, {"DEIDENTIFY_WEB_CONFIG": str(path), "DEIDENTIFY_BIND": "0.0.0.0"})


# --------------------------------------------------------------------------- listening


def test_defaults_listen_on_loopback_only() -> None:
    settings = web_settings(None, {})
    assert settings.bind == "127.0.0.1" and not settings.web_config.authenticates
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert is_loopback(host)
    for host in ("0.0.0.0", "::", "", "192.0.2.1", "example.internal"):
        assert not is_loopback(host)


@pytest.mark.parametrize("bind", ["0.0.0.0", "::", "192.0.2.1"])
def test_non_loopback_without_auth_is_refused_with_the_fix(bind: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        web_settings(None, {"DEIDENTIFY_BIND": bind})
    message = str(info.value)
    assert f"refusing to listen on {bind}" in message
    assert "--web-config" in message and "--insecure-listen" in message
    # TLS alone is not authentication
    ca = make_ca(tmp_path)
    server = issue(tmp_path, ca, "srv")
    tls_only = write(tmp_path, f"tls_server_config:\n  cert_file: {server.cert}\n"
                               f"  key_file: {server.key}\n")
    with pytest.raises(SettingsError, match="refusing to listen"):
        web_settings(None, {"DEIDENTIFY_BIND": bind, "DEIDENTIFY_WEB_CONFIG": str(tls_only)})


def test_insecure_listen_is_explicit_and_named_in_the_log_line() -> None:
    settings = web_settings(None, {"DEIDENTIFY_BIND": "0.0.0.0",
                                   "DEIDENTIFY_INSECURE_LISTEN": "1"})
    text = settings.describe(8080)
    assert "INSECURE(--insecure-listen" in text and "http://0.0.0.0:8080/" in text
    assert "(all interfaces)" in text
    check_listen("0.0.0.0", settings.web_config, True)


def test_an_insecure_listener_warns_when_it_starts(caplog) -> None:
    settings = web_settings(None, {"DEIDENTIFY_BIND": "0.0.0.0",
                                   "DEIDENTIFY_INSECURE_LISTEN": "true"})

    async def scenario(port, _listener, _access):
        return port

    with caplog.at_level(logging.WARNING, logger="deidentify.web"):
        port = serve(settings, scenario)
    assert f"serving without authentication on the network: listen=http://0.0.0.0:{port}/" \
        in caplog.text
    assert "INSECURE(--insecure-listen" in caplog.text


def test_auth_allows_non_loopback(tmp_path: Path) -> None:
    tls = web_tls(tmp_path)
    settings = web_settings(None, {"DEIDENTIFY_BIND": "0.0.0.0",
                                   "DEIDENTIFY_WEB_CONFIG": str(tls.config)})
    text = settings.describe(9000, 9001)
    assert text.startswith("listen=https://0.0.0.0:9000/ auth=basic")
    assert "probes=http://0.0.0.0:9001/" in text and "INSECURE" not in text


# --------------------------------------------------------------------------- serving


def listening_address(port: int) -> str:
    """The local address of the listening TCP socket on ``port`` (from /proc/net/tcp*)."""
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            addr, port_hex = fields[1].split(":")
            if int(port_hex, 16) == port and fields[3] == "0A":          # LISTEN
                raw = bytes.fromhex(addr)
                if family == socket.AF_INET:
                    return socket.inet_ntop(family, raw[::-1])
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                return socket.inet_ntop(family, words)
    raise AssertionError(f"nothing listens on port {port}")


def test_the_sidecar_health_server_listens_on_loopback_by_default() -> None:
    async def scenario() -> str:
        server = HealthServer(HealthState(heartbeat=time.monotonic()), sidecar_metrics(),
                              port=0, listen=web_settings(None, {}))
        port = await server.start()
        try:
            return listening_address(port)
        finally:
            await server.stop()
    assert asyncio.run(scenario()) == "127.0.0.1"


def demo_app() -> web.Application:
    app = web.Application()

    async def ok(_request):
        return web.Response(text="internal data")

    async def probe(_request):
        return web.Response(text="ok")

    app.router.add_get("/metrics", ok)
    app.router.add_get("/api/summary", ok)
    app.router.add_get("/livez", probe)
    app.router.add_get("/readyz", probe)
    return app


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def get(url: str, *, ctx=None, auth=None) -> tuple[int, str, dict]:
    async with aiohttp.ClientSession() as session, \
            session.get(url, ssl=ctx if ctx is not None else False, headers=auth) as res:
        return res.status, await res.text(), dict(res.headers)


def serve(settings: WebSettings, scenario, *, access_log: logging.Logger | None = None,
          reload_check_s: float = 1.0):
    async def main():
        access = WebAccess(settings, access_log=access_log, reload_check_s=reload_check_s)
        listener = WebListener(demo_app(), access, port=0)
        port = await listener.start()
        try:
            return await scenario(port, listener, access)
        finally:
            await listener.stop()
            await listener.stop()           # a second stop is harmless
    return asyncio.run(main())


def test_tls_and_basic_auth(tmp_path: Path) -> None:
    tls = web_tls(tmp_path)
    settings = web_settings(None, {"DEIDENTIFY_WEB_CONFIG": str(tls.config),
                                   "DEIDENTIFY_PROBE_PORT": "0"})
    good = basic(tls.user, tls.password)

    async def scenario(port, listener, _access):
        base = f"https://127.0.0.1:{port}"
        ctx = tls.client_context()
        out = {}
        for path in ("/metrics", "/api/summary"):
            out[path, "none"] = await get(base + path, ctx=ctx)
            out[path, "wrong"] = await get(base + path, ctx=ctx,
                                           auth=basic(tls.user, "guess"))
            out[path, "nouser"] = await get(base + path, ctx=ctx,
                                            auth=basic("mallory", tls.password))
            out[path, "good"] = await get(base + path, ctx=ctx, auth=good)
        out["live"] = await get(base + "/livez", ctx=ctx)
        out["probe-port"] = await get(f"http://127.0.0.1:{listener.probe_port}/readyz")
        out["probe-port-metrics"] = await get(f"http://127.0.0.1:{listener.probe_port}/metrics")
        with pytest.raises(aiohttp.ClientError):           # plain HTTP is not served
            await get(f"http://127.0.0.1:{port}/metrics")
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await get(base + "/metrics", ctx=ssl.create_default_context(), auth=good)
        return out

    out = serve(settings, scenario)
    for path in ("/metrics", "/api/summary"):
        for who in ("none", "wrong", "nouser"):
            status, body, headers = out[path, who]
            assert status == 401, (path, who)
            assert headers["WWW-Authenticate"].startswith("Basic realm=")
            assert "internal data" not in body
        assert out[path, "good"][:2] == (200, "internal data")
    assert out["live"][:2] == (200, "ok")
    assert out["probe-port"][:2] == (200, "ok")
    assert out["probe-port-metrics"][0] == 404           # the probe port serves probes only


def test_client_certificates_and_the_access_log(tmp_path: Path, caplog) -> None:
    ca = make_ca(tmp_path / "ca")
    clients_ca = make_ca(tmp_path / "clients", "clients CA")
    server = issue(tmp_path, ca, "srv")
    client = issue(tmp_path, clients_ca, "prometheus-eu", client=True)
    stranger = issue(tmp_path, make_ca(tmp_path / "other", "other CA"), "mallory", client=True)
    config = write(tmp_path, f"tls_server_config:\n  cert_file: {server.cert}\n"
                             f"  key_file: {server.key}\n  client_ca_file: {clients_ca[0].cert}\n"
                             "  client_auth_type: RequireAndVerifyClientCert\n")
    settings = web_settings(None, {"DEIDENTIFY_WEB_CONFIG": str(config),
                                   "DEIDENTIFY_BIND": "0.0.0.0"})   # mTLS authenticates
    assert settings.web_config.auth_methods() == "client-certificate"

    def context(cert=None):
        ctx = ssl.create_default_context(cafile=str(ca[0].cert))
        if cert is not None:
            ctx.load_cert_chain(str(cert.cert), str(cert.key))
        return ctx

    async def scenario(port, _listener, _access):
        base = f"https://127.0.0.1:{port}"
        ok = await get(base + "/api/summary?tenant=acme-secret", ctx=context(client))
        refused = []
        for cert in (None, stranger):
            try:
                refused.append((await get(base + "/api/summary", ctx=context(cert)))[0])
            except (aiohttp.ClientError, ssl.SSLError, OSError):
                refused.append("handshake refused")
        return ok, refused

    with caplog.at_level(logging.INFO, logger="deidentify.access"):
        ok, refused = serve(settings, scenario,
                            access_log=logging.getLogger("deidentify.access"))
    assert ok[:2] == (200, "internal data")
    assert refused == ["handshake refused", "handshake refused"]
    lines = [r.getMessage() for r in caplog.records if r.name == "deidentify.access"]
    assert lines == ["user=cert:CN=prometheus-eu,O=deidentify tests method=GET "
                     "path=/api/summary status=200"]
    assert "acme-secret" not in caplog.text and "tenant" not in caplog.text


def test_access_log_names_the_user_and_never_a_query_value(tmp_path: Path, caplog) -> None:
    tls = web_tls(tmp_path, user="alice")
    settings = web_settings(None, {"DEIDENTIFY_WEB_CONFIG": str(tls.config)})

    async def scenario(port, _listener, _access):
        base = f"https://127.0.0.1:{port}"
        ctx = tls.client_context()
        await get(base + "/api/summary?q=alice.secret%40example.com", ctx=ctx,
                  auth=basic("alice", tls.password))
        await get(base + "/metrics", ctx=ctx, auth=basic("alice", "wrong"))
        await get(base + "/no/such/alice.secret", ctx=ctx,
                  auth=basic("alice", tls.password))
        await get(base + "/livez", ctx=ctx)

    with caplog.at_level(logging.INFO, logger="deidentify.access"):
        serve(settings, scenario, access_log=logging.getLogger("deidentify.access"))
    lines = [r.getMessage() for r in caplog.records if r.name == "deidentify.access"]
    assert lines == ["user=alice method=GET path=/api/summary status=200",
                     "user=- method=GET path=/metrics status=401",
                     "user=alice method=GET path=(unmatched) status=404"]
    assert "secret" not in caplog.text


def test_the_file_is_reloaded_without_restart(tmp_path: Path, caplog) -> None:
    tls = web_tls(tmp_path)
    settings = web_settings(None, {"DEIDENTIFY_WEB_CONFIG": str(tls.config)})

    async def scenario(port, _listener, _access):
        base = f"https://127.0.0.1:{port}/metrics"
        ctx = tls.client_context()
        old = basic(tls.user, tls.password)
        new = basic("grafana", "n3w-password")
        before = (await get(base, ctx=ctx, auth=old))[0], (await get(base, ctx=ctx, auth=new))[0]
        write_web_config(tls.config, {"grafana": "n3w-password"}, cert_file=tls.server.cert,
                         key_file=tls.server.key)
        os.utime(tls.config, ns=(time.time_ns(), time.time_ns() + 10**9))
        after = (await get(base, ctx=ctx, auth=old))[0], (await get(base, ctx=ctx, auth=new))[0]
        # a broken file keeps the last good one in force
        tls.config.write_text("basic_auth_users:\n  grafana: plain\n")
        os.utime(tls.config, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
        broken = (await get(base, ctx=ctx, auth=new))[0]
        return before, after, broken

    with caplog.at_level(logging.INFO, logger="deidentify.web"):
        before, after, broken = serve(settings, scenario, reload_check_s=0)
    assert before == (200, 401)
    assert after == (401, 200)
    assert broken == 200
    assert "web config not reloaded, the previous one stays in force" in caplog.text
    assert f"{tls.config}:2:" in caplog.text


@pytest.mark.parametrize("command", [["run", "--region", "eu"], ["central", "--regions", "eu"]])
def test_both_processes_refuse_a_non_loopback_address_without_auth(command, tmp_path) -> None:
    """No broker needed: the refusal comes before any connection."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEIDENTIFY_", "KAFKA_"))}
    result = subprocess.run([sys.executable, "-m", "deidentify.cli", *command,
                             "--bind", "0.0.0.0", "--port", "0"],
                            capture_output=True, text=True, timeout=60, env=env,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    assert "refusing to listen on 0.0.0.0 without authentication" in result.stderr
    assert "--web-config" in result.stderr
    bad = write(tmp_path, "basic_auth_users:\n  a: not-a-hash\n")
    result = subprocess.run([sys.executable, "-m", "deidentify.cli", *command,
                             "--web-config", str(bad)],
                            capture_output=True, text=True, timeout=60, env=env,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    assert f"{bad}:2: the password of user 'a' is not a bcrypt hash" in result.stderr

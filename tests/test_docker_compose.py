"""docker-compose.yml is consistent with the real CLI and the Prometheus scrape config.

No Docker needed: the file is parsed with PyYAML; every deidentify service's command is
parsed by the real argparse parser (``deidentify.cli.build_parser``), and every Prometheus
target must be a compose service serving ``/metrics`` on that port.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from deidentify.cli import build_parser
from deidentify.generate import TOPICS, raw_topic
from deidentify.schema import load_schemas

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PROMETHEUS = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
SUBCOMMANDS_WITH_PORT = {"run", "central"}


def deidentify_services() -> dict[str, list[str]]:
    """name -> command (arguments after the ``deidentify`` entrypoint)."""
    out = {}
    for name, service in SERVICES.items():
        if service.get("image", "").startswith("deidentify") or "build" in service:
            out[name] = service["command"]
    return out


def parse(command: list[str]) -> argparse.Namespace:
    parser = build_parser()
    try:
        return parser.parse_args(command)
    except SystemExit as exc:          # argparse exits on unknown flags or bad values
        raise AssertionError(f"deidentify {' '.join(command)} is rejected by the CLI") from exc


def test_the_deidentify_services_are_the_expected_ones() -> None:
    commands = deidentify_services()
    kinds = sorted((c[0], getattr(parse(c), "region", None)) for c in commands.values())
    assert kinds == [("central", None), ("generate", "eu"), ("generate", "us"),
                     ("run", "eu"), ("run", "us")]


@pytest.mark.parametrize("name", sorted(deidentify_services()))
def test_every_command_is_accepted_by_the_real_parser(name: str) -> None:
    command = deidentify_services()[name]
    assert all(isinstance(arg, str) for arg in command), "compose commands must be strings"
    args = parse(command)
    assert args.command == command[0]
    assert args.command in {"run", "central", "generate"}
    assert args.bootstrap == "kafka:9092"
    if args.command in SUBCOMMANDS_WITH_PORT:
        assert args.port is not None
        published = [str(p) for p in SERVICES[name].get("ports", [])]
        assert f"127.0.0.1:{args.port}:{args.port}" in published
        probe = SERVICES[name]["healthcheck"]["test"]
        assert probe[-1] == str(args.port) and "/readyz" in " ".join(probe)


def test_sidecars_read_their_region_prefix_and_generators_write_it() -> None:
    commands = {n: parse(c) for n, c in deidentify_services().items()}
    sidecars = {a.region: a for a in commands.values() if a.command == "run"}
    generators = {a.region: a for a in commands.values() if a.command == "generate"}
    assert set(sidecars) == set(generators) == {"eu", "us"}
    schemas = load_schemas(ROOT / "schemas")
    for region, args in sidecars.items():
        assert args.topic_prefix == f"{region}."
        read = {args.topic_prefix + schema.topic for schema in schemas.schemas}
        # generate writes to --topic-prefix + the bare raw topics (no prefix by default)
        written = {(generators[region].topic_prefix or "") + topic for topic in TOPICS.values()}
        assert written == read, f"generator-{region} and sidecar-{region} miss each other"


def test_init_creates_every_topic_the_services_use() -> None:
    script = "\n".join(SERVICES["kafka-init"]["command"])
    schemas = load_schemas(ROOT / "schemas")
    for region in ("eu", "us"):
        for schema in schemas.schemas:
            assert f"{region}.{schema.topic}" in script
    for kind in ("http_request", "billing_charge", "webhook_delivery"):
        assert raw_topic(kind, "eu") in script
    central = parse(deidentify_services()["central"])
    assert central.regions == "eu,us"
    for region in ("eu", "us"):          # each region's own central topic
        assert f"{central.topic}.{region}" in script.replace(";", " ").split()


def test_prometheus_targets_match_the_services_ports() -> None:
    commands = deidentify_services()
    targets = []
    for job in PROMETHEUS["scrape_configs"]:
        for static in job["static_configs"]:
            targets.extend(static["targets"])
    assert targets
    scraped = set()
    for target in targets:
        host, _, port = target.rpartition(":")
        assert host in commands, f"{target}: no deidentify service named {host}"
        args = parse(commands[host])
        assert args.command in SUBCOMMANDS_WITH_PORT
        assert args.port == int(port), f"{target}: the service serves on {args.port}"
        scraped.add(host)
    with_port = {n for n, c in commands.items() if c[0] in SUBCOMMANDS_WITH_PORT}
    assert scraped == with_port, "every sidecar and the collector are scraped"


def test_prometheus_and_grafana_mount_the_shipped_files() -> None:
    prom_volumes = SERVICES["prometheus"]["volumes"]
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prom_volumes
    grafana_volumes = " ".join(SERVICES["grafana"]["volumes"])
    for path in ("./deploy/grafana/provisioning", "./deploy/grafana/deidentify-dashboard.json"):
        assert path in grafana_volumes
        assert (ROOT / path).exists()
    assert (ROOT / "Dockerfile").is_file()
    assert "ENTRYPOINT [\"deidentify\"]" in (ROOT / "Dockerfile").read_text()


# --------------------------------------------------------------------------- hardening

SECRETS = COMPOSE.get("secrets", {})


def test_every_port_is_published_on_loopback_only() -> None:
    published = [(name, str(p)) for name, svc in SERVICES.items() for p in svc.get("ports", [])]
    assert published
    for name, port in published:
        assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_is_hardened(name: str) -> None:
    service = SERVICES[name]
    assert "no-new-privileges:true" in service.get("security_opt", []), name
    assert service.get("cap_drop") == ["ALL"], name
    assert "cap_add" not in service, name
    assert service.get("mem_limit"), f"{name} has no memory limit"
    assert not service.get("privileged"), name
    if name not in ("kafka", "kafka-init"):        # the apache/kafka image writes its config
        assert service.get("read_only") is True, f"{name} has a writable root file system"


def test_http_surfaces_need_the_web_config() -> None:
    for name, command in deidentify_services().items():
        args = parse(command)
        if args.command not in SUBCOMMANDS_WITH_PORT:
            continue
        env = SERVICES[name]["environment"]
        assert env["DEIDENTIFY_WEB_CONFIG"] == "/run/secrets/web-config.yml", name
        assert "web-config.yml" in SERVICES[name]["secrets"], name
        assert not args.insecure_listen and "DEIDENTIFY_INSECURE_LISTEN" not in env, name
    assert SECRETS["web-config.yml"]["file"] == "./deploy/secrets/web-config.yml"
    prom = SERVICES["prometheus"]
    assert "--web.config.file=/run/secrets/web-config.yml" in prom["command"]
    for job in PROMETHEUS["scrape_configs"]:
        auth = job["basic_auth"]
        assert auth["username"] == "prometheus"
        assert auth["password_file"] == "/run/secrets/prometheus-password"
    assert "prometheus-password" in prom["secrets"]


def test_grafana_has_no_anonymous_access_and_a_secret_admin_password() -> None:
    grafana = SERVICES["grafana"]
    env = grafana["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert "GF_AUTH_ANONYMOUS_ORG_ROLE" not in env
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana-admin-password"
    assert "grafana-admin-password" in grafana["secrets"]
    assert SECRETS["grafana-admin-password"]["file"].startswith("./deploy/secrets/")
    datasource = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/"
                                 "prometheus.yml").read_text())["datasources"][0]
    assert datasource["basicAuth"] is True
    assert datasource["secureJsonData"]["basicAuthPassword"] == \
        "$__file{/run/secrets/grafana-password}"


def test_the_secrets_script_makes_every_secret_compose_reads(tmp_path) -> None:
    import shutil
    import subprocess
    import sys

    copy = tmp_path / "repo"
    (copy / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "compose-secrets.sh", copy / "scripts")
    result = subprocess.run(["bash", str(copy / "scripts" / "compose-secrets.sh")],
                            env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    folder = copy / "deploy" / "secrets"
    for secret in SECRETS.values():
        assert (copy / secret["file"]).is_file(), secret["file"]
    assert folder.stat().st_mode & 0o077 == 0             # only the owner on the host
    from deidentify.webconfig import load_web_config
    config = load_web_config(folder / "web-config.yml")
    assert set(config.users) == {"prometheus", "grafana", "viewer"}
    import bcrypt
    password = (folder / "prometheus-password").read_text().strip()
    assert bcrypt.checkpw(password.encode(), config.users["prometheus"])

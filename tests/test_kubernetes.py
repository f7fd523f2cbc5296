"""The Kubernetes manifests in deploy/kubernetes/ agree with the real CLI and are hardened.

No cluster needed: every manifest is parsed with PyYAML; every ``deidentify`` container's
``args`` are parsed by the real argparse parser (``deidentify.cli.build_parser``), its probes
must reach ``/livez`` and ``/readyz`` on a port the container declares and the command
serves, and pod and container run non-root, read-only, without privilege escalation or
capabilities, with every secret mounted read-only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from deidentify.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
MANIFEST_DIR = ROOT / "deploy" / "kubernetes"
MANIFESTS = sorted(MANIFEST_DIR.glob("*.yaml"))
LOOPBACK = {None, "127.0.0.1", "::1", "localhost"}


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def deployments() -> dict[str, dict]:
    """``file:name`` -> Deployment, over every manifest."""
    out = {}
    for path in MANIFESTS:
        for doc in documents(path):
            if doc.get("kind") == "Deployment":
                out[f"{path.name}:{doc['metadata']['name']}"] = doc
    return out


DEPLOYMENTS = deployments()


def containers(deployment: dict) -> list[dict]:
    return deployment["spec"]["template"]["spec"]["containers"]


def deidentify_container(deployment: dict) -> dict:
    found = [c for c in containers(deployment) if "deidentify" in c["image"]]
    assert len(found) == 1, "one deidentify container per Deployment"
    return found[0]


def parse(command: list[str]) -> argparse.Namespace:
    try:
        return build_parser().parse_args(command)
    except SystemExit as exc:          # argparse exits on unknown flags or bad values
        raise AssertionError(f"deidentify {' '.join(command)} is rejected by the CLI") from exc


def args_of(deployment: dict) -> argparse.Namespace:
    container = deidentify_container(deployment)
    assert "command" not in container, "the image's ENTRYPOINT is deidentify; use args"
    command = container["args"]
    assert all(isinstance(arg, str) for arg in command), "args must be strings"
    return parse(command)


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def test_the_manifests_are_the_expected_ones() -> None:
    assert [p.name for p in MANIFESTS] == ["central.yaml", "sidecar-eu.yaml"]
    kinds = sorted((args_of(d).command, getattr(args_of(d), "region", None))
                   for d in DEPLOYMENTS.values())
    assert kinds == [("central", None), ("run", "eu")]
    central = next(args_of(d) for d in DEPLOYMENTS.values() if args_of(d).command == "central")
    assert central.regions == "eu,us"


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_one_replica_recreated(name: str) -> None:
    spec = DEPLOYMENTS[name]["spec"]
    # the sidecar's transactional id comes from its group: a second pod would fence the first
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_probes_hit_livez_and_readyz_on_a_served_declared_port(name: str) -> None:
    container = deidentify_container(DEPLOYMENTS[name])
    args = args_of(DEPLOYMENTS[name])
    declared = {p["containerPort"] for p in container["ports"]}
    names = {p["name"]: p["containerPort"] for p in container["ports"] if "name" in p}
    served = {args.port, args.probe_port} - {None}
    assert args.port in declared
    for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path
        port = names.get(get["port"], get["port"])
        assert port in declared, f"{probe} on port {get['port']}, not declared"
        assert port in served, f"{probe} on {port}; deidentify serves {sorted(served)}"
        # the probes carry no credentials: only the plain-HTTP probe port answers them
        # without the web config
        assert get.get("scheme", "HTTP") == "HTTP"
        if args.web_config is not None:
            assert port == args.probe_port, f"{probe} must use --probe-port"
    annotations = DEPLOYMENTS[name]["spec"]["template"]["metadata"].get("annotations", {})
    if "prometheus.io/port" in annotations:
        assert int(annotations["prometheus.io/port"]) == args.port


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_a_non_loopback_bind_has_a_mounted_web_config(name: str) -> None:
    container = deidentify_container(DEPLOYMENTS[name])
    args = args_of(DEPLOYMENTS[name])
    env = env_of(container)
    assert not args.insecure_listen and "DEIDENTIFY_INSECURE_LISTEN" not in env
    bind = args.bind or env.get("DEIDENTIFY_BIND")
    web_config = args.web_config or env.get("DEIDENTIFY_WEB_CONFIG")
    if bind in LOOPBACK:
        return
    assert web_config, f"--bind {bind} without --web-config is refused at start"
    mounts = [m["mountPath"] for m in container["volumeMounts"]]
    assert any(web_config.startswith(m.rstrip("/") + "/") for m in mounts), \
        f"{web_config} is not on a mounted volume"


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_pod_and_containers_are_hardened(name: str) -> None:
    pod = DEPLOYMENTS[name]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"].get("runAsUser", 1) != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not pod.get("hostNetwork") and not pod.get("hostPID")
    for container in containers(DEPLOYMENTS[name]):
        ctx = container["securityContext"]
        assert ctx.get("runAsNonRoot", pod["securityContext"]["runAsNonRoot"]) is True
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["capabilities"]["drop"] == ["ALL"]
        assert "add" not in ctx["capabilities"]
        assert not ctx.get("privileged")
        assert container["resources"]["limits"]["memory"]


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_secrets_and_config_maps_are_mounted_read_only(name: str) -> None:
    pod = DEPLOYMENTS[name]["spec"]["template"]["spec"]
    sources = {v["name"]: v for v in pod["volumes"]}
    secrets = {n for n, v in sources.items() if "secret" in v or "configMap" in v}
    assert secrets
    for container in containers(DEPLOYMENTS[name]):
        for mount in container.get("volumeMounts", []):
            assert mount["name"] in sources, f"mount of undeclared volume {mount['name']}"
            if mount["name"] in secrets:
                assert mount.get("readOnly") is True, f"{mount['name']} is mounted writable"
            else:        # the only writable volume is scratch space
                assert "emptyDir" in sources[mount["name"]], mount["name"]


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_kafka_secrets_come_from_mounted_files(name: str) -> None:
    container = deidentify_container(DEPLOYMENTS[name])
    env = env_of(container)
    assert "KAFKA_SASL_PASSWORD" not in env, "the password belongs in a file, not the spec"
    mounts = [m["mountPath"] for m in container["volumeMounts"] if m.get("readOnly")]
    for key in ("KAFKA_SASL_PASSWORD_FILE", "KAFKA_SSL_CAFILE", "DEIDENTIFY_SCHEMAS"):
        assert env.get(key), f"{key} is not set"
        assert any(env[key] == m or env[key].startswith(m.rstrip("/") + "/") for m in mounts), \
            f"{key}={env[key]} is not on a read-only mount"
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"

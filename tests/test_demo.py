"""``deidentify demo`` end to end: real broker, two real sidecars, the real collector.

Runs the demo as a subprocess (what ``make demo`` runs) and checks, while it runs, that the
central collector holds aggregates from both regions, then that the demo exits 0 on its own
(``--duration``) or on Ctrl-C (SIGINT) and that every process it started is gone.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

DEIDENTIFY = str(Path(sys.executable).with_name("deidentify"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def regions_seen(port: int) -> set[str]:
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/summary", timeout=3) as res:
            doc = orjson.loads(res.read())
    except OSError:
        return set()
    return {r for r, e in doc["regions"].items()
            if any(s["events"] > 0 for s in e.get("schemas", {}).values())}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def start_demo(kafka_bootstrap: str, port: int, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, KAFKA_BOOTSTRAP=kafka_bootstrap, PYTHONUNBUFFERED="1")
    return subprocess.Popen([DEIDENTIFY, "demo", "--port", str(port), "--rate", "300", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            stdin=subprocess.DEVNULL)


def watch(proc: subprocess.Popen, port: int, timeout_s: float) -> set[str]:
    """Regions the collector held aggregates for, polled until both or until the timeout."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None and seen != {"eu", "us"}:
        seen |= regions_seen(port)
        time.sleep(1)
    return seen


def check_clean_exit(proc: subprocess.Popen, timeout_s: float) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"the demo did not exit in time:\n{out[-4000:]}")
    assert proc.returncode == 0, out[-4000:]
    pids = [int(p) for p in re.findall(r"started \S+ \(pid (\d+)\)", out)]
    assert len(pids) == 3, out[-4000:]                # central + two sidecars
    for pid in pids:
        assert not pid_alive(pid), f"pid {pid} is still running"
    assert len(re.findall(r"exited with code 0", out)) == 3, out[-4000:]
    assert "central received aggregates from 2 region(s) [eu,us]" in out, out[-4000:]
    assert "@" not in out, "something that looks like an email reached the terminal"
    return out


@pytest.mark.slow
def test_demo_runs_for_its_duration_and_stops_everything(kafka_bootstrap: str) -> None:
    port = free_port()
    proc = start_demo(kafka_bootstrap, port, "--duration", "80s")
    # aggregates from both regions while the demo runs (the deadline only fails a hung demo)
    seen = watch(proc, port, timeout_s=150)
    assert seen == {"eu", "us"}
    out = check_clean_exit(proc, timeout_s=200)
    assert "dashboard: http://127.0.0.1:" in out


@pytest.mark.slow
def test_demo_stops_cleanly_on_ctrl_c(kafka_bootstrap: str) -> None:
    port = free_port()
    proc = start_demo(kafka_bootstrap, port)
    seen = watch(proc, port, timeout_s=150)
    assert seen == {"eu", "us"}
    proc.send_signal(signal.SIGINT)
    check_clean_exit(proc, timeout_s=120)


def test_terminal_view_shows_any_schema_from_its_view(tmp_path: Path) -> None:
    """The live view names no schema: a schema only in a folder gets its line too."""
    from deidentify.central.app import CentralCollector
    from deidentify.demo import DemoRun, render_view
    from deidentify.generate_schema import SchemaEventGenerator
    from deidentify.pipeline import Pipeline
    from deidentify.schema import load_schemas
    from tests.central.new_schema import write_login_schema

    write_login_schema(tmp_path)
    schemas = load_schemas(tmp_path)
    start_ms = (int(time.time() * 1000) // 60_000 - 5) * 60_000
    pipeline = Pipeline(schemas, region="eu")
    gen = SchemaEventGenerator(schemas.schemas, seed=2, start_ms=start_ms, events_per_second=40)
    pipeline.process_batch([(i, orjson.dumps(e)) for i, e in enumerate(gen.events(4000))])
    collector = CentralCollector(schemas)
    for agg in pipeline.close_all():
        collector.handle(agg.to_json())
    text = render_view(DemoRun(bootstrap="127.0.0.1:9092", port=8090, rate=1.0,
                               duration_s=None), collector.summary(), None, "test")
    (line,) = [t for t in text.splitlines() if t.strip().startswith("login_attempts")]
    assert "events/min" in line and "mfa_prompts" in line and "latency_ms p50" in line
    top = text.splitlines()[text.splitlines().index(line) + 1]
    assert top.startswith("    top: ")
    assert any(method in top for method in ("password", "sso", "passkey", "magic_link"))

"""``deidentify demo`` end to end: real broker, two real sidecars, the real collector.

Runs the demo as a subprocess (what ``make demo`` runs) and checks, while it runs, that the
central collector holds aggregates from both regions, then that the demo exits 0 on its own
(``--duration``) or on Ctrl-C (SIGINT) and that every process it started is gone.

The dashboard needs the credentials the demo prints (its generated web config): the test
reads them from the demo's output as a user would, and checks that without them the
collector answers 401.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest

DEIDENTIFY = str(Path(sys.executable).with_name("deidentify"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LOGIN_RE = re.compile(r"log in as user '([a-z]+)' with password '([^']+)'")


class Demo:
    """The demo process, its output read as it comes (to learn the printed credentials)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def poll(self):
        return self.proc.poll()

    def login(self) -> tuple[str, str] | None:
        for line in list(self.lines):
            match = LOGIN_RE.search(line)
            if match:
                return match.group(1), match.group(2)
        return None

    def output(self, timeout_s: float) -> str:
        self.proc.wait(timeout_s)
        self.reader.join(30)
        return "".join(self.lines)


def summary_status(port: int, login: tuple[str, str] | None) -> tuple[int, bytes]:
    headers = {}
    if login is not None:
        token = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/summary", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=3) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def regions_seen(port: int, login: tuple[str, str] | None) -> set[str]:
    if login is None:
        return set()
    try:
        status, body = summary_status(port, login)
    except OSError:
        return set()
    if status != 200:
        return set()
    doc = orjson.loads(body)
    return {r for r, e in doc["regions"].items()
            if any(s["events"] > 0 for s in e.get("schemas", {}).values())}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def start_demo(kafka_bootstrap: str, port: int, *extra: str) -> Demo:
    env = dict(os.environ, KAFKA_BOOTSTRAP=kafka_bootstrap, PYTHONUNBUFFERED="1")
    return Demo(subprocess.Popen([DEIDENTIFY, "demo", "--port", str(port), "--rate", "300",
                                  *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, env=env, stdin=subprocess.DEVNULL))


def watch(proc: Demo, port: int, timeout_s: float) -> set[str]:
    """Regions the collector held aggregates for, polled until both or until the timeout."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None and seen != {"eu", "us"}:
        seen |= regions_seen(port, proc.login())
        time.sleep(1)
    return seen


def check_clean_exit(proc: Demo, timeout_s: float) -> str:
    try:
        out = proc.output(timeout_s)
    except subprocess.TimeoutExpired:
        proc.proc.kill()
        out = proc.output(30)
        pytest.fail(f"the demo did not exit in time:\n{out[-4000:]}")
    assert proc.proc.returncode == 0, out[-4000:]
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
    # the dashboard is not open to anyone: without the printed credentials, 401
    assert summary_status(port, None)[0] == 401
    assert summary_status(port, (proc.login()[0], "wrong"))[0] == 401
    out = check_clean_exit(proc, timeout_s=200)
    assert "dashboard: http://127.0.0.1:" in out


@pytest.mark.slow
def test_demo_stops_cleanly_on_ctrl_c(kafka_bootstrap: str) -> None:
    port = free_port()
    proc = start_demo(kafka_bootstrap, port)
    seen = watch(proc, port, timeout_s=150)
    assert seen == {"eu", "us"}
    proc.proc.send_signal(signal.SIGINT)
    check_clean_exit(proc, timeout_s=120)


def test_terminal_view_shows_any_schema_from_its_view(tmp_path: Path) -> None:
    """The live view names no schema: a schema only in a folder gets its line too."""
    from deidentify.central.collector import CentralCollector
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

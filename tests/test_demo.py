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
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.helpers import ServiceProcess, free_port, http_get

DEIDENTIFY = str(Path(sys.executable).with_name("deidentify"))
LOGIN_RE = re.compile(r"log in as user '([a-z]+)' with password '([^']+)'")
BOTH = {"eu", "us"}


class Demo(ServiceProcess):
    """The demo process (what ``make demo`` runs), its output in a log file, read as a user
    reads the terminal (to learn the printed credentials)."""

    name = "demo"

    def __init__(self, kafka_bootstrap: str, port: int, log_path: Path, *extra: str) -> None:
        self.port = port
        self.log_path = log_path
        env = dict(os.environ, KAFKA_BOOTSTRAP=kafka_bootstrap, PYTHONUNBUFFERED="1")
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [DEIDENTIFY, "demo", "--port", str(port), "--rate", "300", *extra],
                stdout=log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)

    def ensure_stopped(self) -> None:
        """A failed test still lets the demo stop its children and delete its topics."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                self.kill9()

    def login(self) -> tuple[str, str] | None:
        match = LOGIN_RE.search(self.log_text())
        return (match.group(1), match.group(2)) if match else None

    def summary_status(self, login: tuple[str, str] | None) -> tuple[int, bytes]:
        headers = {}
        if login is not None:
            token = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        return http_get(f"{self.url}/api/summary", 3.0, headers=headers)

    def regions_seen(self) -> set[str]:
        """Regions the collector holds events from (none before the login is printed)."""
        login = self.login()
        if login is None:
            return set()
        status, body = self.summary_status(login)
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


def wait_for_both_regions(demo: Demo) -> None:
    """Aggregates from both regions while the demo runs (the deadline only fails a hung
    demo; the demo exiting meanwhile fails at once, with its output)."""
    demo.wait_until("aggregates from both regions", lambda: demo.regions_seen() == BOTH,
                    timeout_s=300, interval_s=1.0)


def check_clean_exit(demo: Demo, timeout_s: float) -> str:
    try:
        demo.wait(timeout_s)
    except subprocess.TimeoutExpired:
        demo.kill9()
        pytest.fail(f"the demo did not exit in time:\n{demo.log_tail(80)}")
    out = demo.log_text()
    assert demo.proc.returncode == 0, out[-4000:]
    pids = [int(p) for p in re.findall(r"started \S+ \(pid (\d+)\)", out)]
    assert len(pids) == 3, out[-4000:]                # central + two sidecars
    for pid in pids:
        assert not pid_alive(pid), f"pid {pid} is still running"
    assert len(re.findall(r"exited with code 0", out)) == 3, out[-4000:]
    assert "central received aggregates from 2 region(s) [eu,us]" in out, out[-4000:]
    assert "@" not in out, "something that looks like an email reached the terminal"
    return out


@pytest.mark.slow
def test_demo_runs_for_its_duration_and_stops_everything(kafka_bootstrap: str,
                                                         tmp_path: Path) -> None:
    demo = Demo(kafka_bootstrap, free_port(), tmp_path / "demo.log", "--duration", "80s")
    try:
        wait_for_both_regions(demo)
        # the dashboard is not open to anyone: without the printed credentials, 401
        assert demo.summary_status(None)[0] == 401
        assert demo.summary_status((demo.login()[0], "wrong"))[0] == 401
        # it stops on its own (--duration); the deadline only fails a demo that never stops
        out = check_clean_exit(demo, timeout_s=300)
        assert "dashboard: http://127.0.0.1:" in out
    finally:
        demo.ensure_stopped()


@pytest.mark.slow
def test_demo_stops_cleanly_on_ctrl_c(kafka_bootstrap: str, tmp_path: Path) -> None:
    demo = Demo(kafka_bootstrap, free_port(), tmp_path / "demo.log")
    try:
        wait_for_both_regions(demo)
        demo.proc.send_signal(signal.SIGINT)
        check_clean_exit(demo, timeout_s=120)
    finally:
        demo.ensure_stopped()


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

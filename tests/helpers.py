"""Helpers shared by the tests (none of them talks to Kafka; see tests/kafka_helpers.py).

* builders for the pure-core tests: ``schema_set``, ``schema_file``, ``call`` events;
* ``captured_logs``: everything logged in this process, as text;
* ``free_port``, ``http_get``: a free loopback port, a GET that returns (status, body);
* ``parse_metrics`` / ``metric_samples``: the one Prometheus text parser of the tests;
* ``ServiceProcess``: a ``deidentify`` command (sidecar, collector, demo) as a real
  subprocess with its output in a log file, event-based waits (``wait_until``: a deadline
  that only fails a hung process, and an early failure with the log tail when the process
  exits) and a bounded stop.
"""

from __future__ import annotations

import io
import logging
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from deidentify.schema import SchemaSet, load_schema_file

MINUTE = 60_000
T0 = 1_795_168_800_000  # 2026-11-20T10:00:00Z

COUNTS_SCHEMA = """\
name: calls
version: 1
description: counts by method
source: {{type: call, topic: raw.calls}}
window: {{size: 60s, grace: {grace}}}
dimensions:
  method: {{type: enum, field: method, values: [GET, POST, PUT, DELETE]}}
measures:
  latency_ms: {{type: histogram, field: latency_ms, buckets: [10, 100], min: 0, max: 1000}}
  bytes: {{type: sum, field: bytes, integer: true, min: 0, max: 1000000}}
  errors: {{type: count_if, field: status, gte: 500}}
privacy:
  subjects: [user]
  k: {k}
  caps: {{method: {cap}}}
  max_cells: {max_cells}
"""


# These unit tests of the pure core exercise single-event cells, so they lower the
# deployment's k floor (default 5) explicitly; nothing else ever runs below it.
UNIT_TEST_K_FLOOR = 1


def schema_file(path: Path, text: str, *, k_floor: int = UNIT_TEST_K_FLOOR):
    path.write_text(text)
    return load_schema_file(path, k_floor=k_floor)


def schema_set(text: str | None = None, *, k: int = 1, grace: str = "10s", cap: int = 500,
               max_cells: int = 2000, version: int = 1,
               k_floor: int = UNIT_TEST_K_FLOOR) -> SchemaSet:
    if text is None:
        text = COUNTS_SCHEMA.format(k=k, grace=grace, cap=cap, max_cells=max_cells)
        text = text.replace("version: 1", f"version: {version}", 1)
    with tempfile.TemporaryDirectory() as tmp:
        schema = schema_file(Path(tmp) / "schema.yaml", text, k_floor=k_floor)
        return SchemaSet.from_schemas([schema], tmp)


def call(ts_ms: int, method: str = "GET", user: str = "u1", **extra) -> bytes:
    event = {"type": "call", "ts": ts_ms, "tenant_id": "acme", "method": method, "user": user,
             "latency_ms": 5, "bytes": 10, "status": 200}
    event.update(extra)
    return orjson.dumps(event)


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every record logged in this process at DEBUG, as formatted text (with tracebacks, as
    logging's default formatter writes them: the no-leak tests read the worst case)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


# --------------------------------------------------------------------------- network


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout_s: float = 5.0, *, context=None,
             headers: dict | None = None) -> tuple[int, bytes]:
    """``(status, body)`` of a GET; an HTTP error status is a result, not an exception."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s, context=context) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# --------------------------------------------------------------------------- Prometheus


def parse_metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text → ``{(sample name, sorted label pairs): value}``."""
    from prometheus_client.parser import text_string_to_metric_families

    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def metric_samples(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels`` (0.0 when none)."""
    return sum(value for (sample, pairs), value in parse_metrics(text).items()
               if sample == name and all(dict(pairs).get(k) == v for k, v in labels.items()))


# --------------------------------------------------------------------------- processes


class ServiceProcess:
    """A ``deidentify`` command run as a real subprocess, its output in ``log_path``.

    Subclasses set ``name`` and how the process starts; ``proc`` is the ``Popen`` once
    started, ``port`` the HTTP port it serves (health, metrics, dashboard)."""

    name = "process"
    proc: subprocess.Popen | None
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, timeout_s: float = 2.0) -> tuple[int, bytes]:
        return http_get(self.url + path, timeout_s)

    def metrics_text(self) -> str:
        status, body = self.get("/metrics")
        assert status == 200, f"/metrics answered {status}"
        return body.decode()

    def wait_until(self, what: str, check: Callable[[], bool], timeout_s: float = 30.0,
                   interval_s: float = 0.1) -> None:
        """Return once ``check()`` is true; fail at once if the process exits, or after
        ``timeout_s`` (a deadline that only fails a hung test). A connection error in
        ``check`` counts as "not yet"."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}) while "
                                     f"waiting for {what}:\n{self.log_tail()}")
            try:
                if check():
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(interval_s)
        raise AssertionError(f"timed out after {timeout_s}s waiting for {what}:\n"
                             f"{self.log_tail()}")

    def ready_status(self) -> int:
        return self.get("/readyz")[0]

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        self.wait_until("/readyz 200", lambda: self.ready_status() == 200, timeout_s)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout_s: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout_s)

    def sigterm(self, timeout_s: float = 15.0) -> int:
        """SIGTERM and wait for the exit code (``TimeoutExpired`` if it does not exit)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout_s)

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM when running; SIGKILL and fail when it does not exit in ``timeout_s``."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill9()
                raise AssertionError(f"{self.name} did not stop on SIGTERM") from None
        return self.proc.returncode

    def kill9(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait(10)

    def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

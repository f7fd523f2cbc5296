"""Supervision of the demo's child processes: the central collector and one sidecar per region.

Each child is ``python -m deidentify.cli ...`` in its own process group (Ctrl-C reaches only
the demo, which then stops them in order), bound to 127.0.0.1 with this run's web config,
its output in ``<run logs>/<name>.log``. ``wait_ready`` polls ``/readyz`` until every child
answers 200 (``READY_TIMEOUT_S``); ``check_alive`` turns a child that exited into an error
naming its log; ``stop_children`` sends SIGTERM, waits, and SIGKILLs after
``STOP_TIMEOUT_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from deidentify.demo.settings import (
    READY_TIMEOUT_S,
    REGIONS,
    STOP_TIMEOUT_S,
    Child,
    DemoRun,
    say,
)
from deidentify.errors import DeidentifyError


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def any_free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(run: DemoRun, name: str, args: list[str], port: int, extra_env: dict) -> Child:
    child = Child(name, [sys.executable, "-m", "deidentify.cli", *args],
                  run.logs / f"{name}.log", port=port)
    env = dict(os.environ, PYTHONUNBUFFERED="1", **extra_env)
    with open(child.log_path, "wb") as log:
        child.proc = subprocess.Popen(child.argv, stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=env,
                                      start_new_session=True)
    run.children.append(child)
    say(f"started {name} (pid {child.pid}), log {child.log_path}")
    return child


def start_children(run: DemoRun) -> None:
    schemas = ["--schemas", run.schemas_dir] if run.schemas_dir else []
    from deidentify.webconfig import write_web_config
    write_web_config(run.web_config, {run.user: run.password})
    web = ["--web-config", str(run.web_config), "--bind", "127.0.0.1"]
    _start(run, "central", ["central", "--bootstrap", run.bootstrap, "--topic", run.central_topic,
                            "--regions", ",".join(r for r, _p, _s in REGIONS),
                            "--port", str(run.port), *schemas, *web], run.port,
           {"DEIDENTIFY_CENTRAL_GROUP": f"deidentify-demo-{run.run_id}-central",
            "DEIDENTIFY_BIND": "127.0.0.1"})
    for region, port, _seed in REGIONS:
        if not port_free(port):
            wanted, port = port, any_free_port()
            say(f"port {wanted} is busy; the {region} sidecar uses {port}")
        _start(run, f"sidecar-{region}",
               ["run", "--region", region, "--topic-prefix", f"{run.prefix}{region}.",
                "--bootstrap", run.bootstrap, "--port", str(port), "--idle", "5s",
                "--group", f"deidentify-demo-{run.run_id}-{region}",
                "--central-topic", run.central_topic, *schemas, *web], port, {})


def http_get(url: str, timeout_s: float = 3.0, headers: dict | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=timeout_s) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


async def wait_ready(run: DemoRun, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = {c.name: c for c in run.children}
    while pending:
        for name, child in list(pending.items()):
            check_alive(child)
            try:
                status, _ = await loop.run_in_executor(
                    None, http_get, f"http://127.0.0.1:{child.port}/readyz", 2.0)
            except OSError:
                continue
            if status == 200:
                say(f"{name} is ready (http://127.0.0.1:{child.port}/readyz)")
                del pending[name]
        if not pending or stop.is_set():
            return
        if time.monotonic() > deadline:
            raise DeidentifyError(f"not ready after {READY_TIMEOUT_S:.0f}s: "
                                  f"{', '.join(pending)} (see the logs in {run.logs})")
        await asyncio.sleep(0.5)


def check_alive(child: Child) -> None:
    if child.proc is not None and child.proc.poll() is not None:
        raise DeidentifyError(f"{child.name} exited with code {child.proc.returncode}; "
                              f"see {child.log_path}")


def stop_children(run: DemoRun) -> bool:
    """SIGTERM to every child, wait, SIGKILL after STOP_TIMEOUT_S. True if all exited 0."""
    for child in run.children:
        if child.proc is not None and child.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.proc.send_signal(signal.SIGTERM)
    clean = True
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for child in run.children:
        if child.proc is None:
            continue
        try:
            child.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{child.name} (pid {child.pid}) did not stop in {STOP_TIMEOUT_S:.0f}s: killing it")
            child.proc.kill()
            child.proc.wait(10)
            clean = False
        code = child.proc.returncode
        if code != 0:
            clean = False
        say(f"{child.name} (pid {child.pid}) exited with code {code}")
    return clean

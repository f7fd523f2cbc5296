"""Processes, their resource usage, and the figures every contender reports.

A contender runs in its own process (its own session, so the harness can stop exactly the
processes it started). Two ways of measuring:

* **self-timed** children (:mod:`benchmarks.offline`, :mod:`benchmarks.ceiling`,
  :mod:`benchmarks.faust_agent`, :mod:`benchmarks.quix_app`) take ``time.monotonic()`` and
  ``time.process_time()`` (user + system of every thread) at their first event and at their
  last, and write a :class:`Measurement` as JSON to a result file;
* the **sidecar** (``deidentify run``) is sampled from outside: :class:`Sampler` reads its CPU
  times and RSS with psutil and its ``deid_sidecar_events_consumed`` counter from ``/metrics``
  every ``interval_s``; the steady-state figures span the first sample that saw an event to the
  first that saw them all.

In both cases the process's whole life (start-up included) is also recorded from
``os.wait4`` (total CPU). Peak RSS is the process's ``VmHWM`` (:func:`peak_rss_of`).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Measurement:
    """What one contender run measured. Rates are events per CPU second and per wall second."""

    events: int                    # events counted in the timed span
    cpu_s: float                   # user + system CPU of the process over the timed span
    wall_s: float
    peak_rss_bytes: int = 0
    total_cpu_s: float = 0.0       # whole process life, start-up and shutdown included
    total_wall_s: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def per_core(self) -> float:
        return self.events / self.cpu_s if self.cpu_s > 0 else 0.0

    @property
    def per_wall(self) -> float:
        return self.events / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["events_per_cpu_s"] = round(self.per_core, 1)
        d["events_per_wall_s"] = round(self.per_wall, 1)
        return d


def self_timer():
    """For children: ``(monotonic, process CPU)`` now."""
    return time.monotonic(), time.process_time()


def peak_rss_of(pid: int | str = "self") -> int:
    """Peak RSS (``VmHWM``) of a live process, 0 when unknown.

    ``VmHWM`` belongs to the process's address space, so it starts afresh at ``exec``;
    ``ru_maxrss`` does not (it keeps the RSS the forked child inherited from the harness),
    which is why it is not used for peak RSS.
    """
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def max_rss_bytes() -> int:
    """Peak RSS of the calling process (``VmHWM``; ``ru_maxrss`` where /proc is missing)."""
    return peak_rss_of("self") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def write_result(path: str, m: Measurement) -> None:
    tmp = f"{path}.tmp"
    Path(tmp).write_text(json.dumps(m.to_dict()))
    os.replace(tmp, path)


def read_result(path: str) -> Measurement | None:
    try:
        d = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return Measurement(events=d["events"], cpu_s=d["cpu_s"], wall_s=d["wall_s"],
                       peak_rss_bytes=d.get("peak_rss_bytes", 0),
                       total_cpu_s=d.get("total_cpu_s", 0.0),
                       total_wall_s=d.get("total_wall_s", 0.0), extra=d.get("extra", {}))


# --------------------------------------------------------------------------- processes


@dataclass
class Exit:
    returncode: int
    cpu_s: float          # user + system over the whole life
    max_rss_bytes: int    # ru_maxrss: includes what the fork inherited; not a peak RSS figure
    wall_s: float
    timed_out: bool = False


class Child:
    """A contender process in its own session; stdout/stderr go to a log file.

    Logs may carry library messages; the harness only ever prints the log's path.
    """

    def __init__(self, argv: list[str], *, log_path: str, env: dict | None = None,
                 cwd: str | None = None) -> None:
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "wb")
        full_env = dict(os.environ)
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        full_env["PYTHONWARNINGS"] = "ignore"
        if env:
            full_env.update(env)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=full_env, cwd=cwd,
                                     start_new_session=True)
        self.pid = self.proc.pid
        self.exit: Exit | None = None

    def alive(self) -> bool:
        return self.exit is None and self._try_reap(block=False) is None

    def _try_reap(self, block: bool) -> Exit | None:
        if self.exit is not None:
            return self.exit
        try:
            pid, status, ru = os.wait4(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            self.exit = Exit(-1, 0.0, 0, time.monotonic() - self.started)
            return self.exit
        if pid == 0:
            return None
        code = os.waitstatus_to_exitcode(status)
        self.proc.returncode = code   # Popen must not wait for it again
        self.exit = Exit(code, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024,
                         time.monotonic() - self.started)
        self._log.close()
        return self.exit

    def wait(self, timeout_s: float) -> Exit | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = self._try_reap(block=False)
            if done is not None:
                return done
            time.sleep(0.05)
        return None

    def stop(self, grace_s: float = 15.0) -> Exit:
        """SIGTERM this child's process group, SIGKILL after ``grace_s``; reap it."""
        if self.exit is not None:
            return self.exit
        self._signal(signal.SIGTERM)
        done = self.wait(grace_s)
        if done is None:
            self._signal(signal.SIGKILL)
            done = self._try_reap(block=True)
            assert done is not None
            done.timed_out = True
        return done

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)          # the session this harness created for it
        except ProcessLookupError:
            pass


def python_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


# --------------------------------------------------------------------------- sampling


@dataclass
class Sample:
    t: float               # monotonic
    cpu_s: float           # process user + system
    rss_bytes: int
    consumed: int | None   # events consumed so far (None: unknown)


def scrape_counter(url: str, metric: str, timeout_s: float = 1.0) -> int | None:
    """Sum of every series of a Prometheus counter on ``url`` (None when unreachable)."""
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            text = resp.read().decode("utf-8", "replace")
    except OSError:
        return None
    total = 0.0
    seen = False
    for line in text.splitlines():
        if line.startswith(metric) and line[len(metric):len(metric) + 1] in ("{", " "):
            try:
                total += float(line.rsplit(" ", 1)[1])
                seen = True
            except (ValueError, IndexError):
                continue
    return int(total) if seen else 0


class Sampler:
    """Samples a process's CPU, RSS and (optionally) a consumed-events counter."""

    def __init__(self, pid: int, metrics_url: str | None = None,
                 counter: str = "deid_sidecar_events_consumed_total") -> None:
        import psutil
        self.process = psutil.Process(pid)
        self.metrics_url = metrics_url
        self.counter = counter
        self.samples: list[Sample] = []
        self.peak_rss = 0

    def sample(self) -> Sample | None:
        import psutil
        try:
            with self.process.oneshot():
                ct = self.process.cpu_times()
                rss = self.process.memory_info().rss
        except psutil.Error:
            return None
        consumed = scrape_counter(self.metrics_url, self.counter) if self.metrics_url else None
        s = Sample(time.monotonic(), ct.user + ct.system, rss, consumed)
        self.peak_rss = max(self.peak_rss, rss, peak_rss_of(self.process.pid))
        self.samples.append(s)
        return s

    def steady(self, total: int) -> tuple[int, float, float] | None:
        """``(events, cpu_s, wall_s)`` from the first sample with events to the first with all."""
        first = next((s for s in self.samples if s.consumed), None)
        last = next((s for s in self.samples if s.consumed is not None
                     and s.consumed >= total), None)
        if first is None or last is None or last.t <= first.t:
            return None
        return total - first.consumed, last.cpu_s - first.cpu_s, last.t - first.t

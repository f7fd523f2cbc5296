"""``deidentify demo`` (what ``make demo`` runs): the whole path on one machine, live.

::

    local Kafka (scripts/kafka.sh, started only if none answers)
      │
      ├─ generator eu ─► demo-<run>.eu.telemetry.raw.*  ─► deidentify run --region eu (:8081)─┐
      ├─ generator us ─► demo-<run>.us.telemetry.raw.*  ─► deidentify run --region us (:8082)─┤
      │                                                                                        ▼
      └────────────────────────── demo-<run>.central.aggregates.{eu,us} ◄──────────────────────┘
                                                   │
                                 deidentify central (:8090, dashboard) ─► live terminal view

What it does, in order

1. Takes a lease on the local broker (``scripts/kafka.sh acquire``): starts it when nothing
   answers on the bootstrap address, and at the end (``release``) stops it only if this run
   started it and nobody else still uses it. A broker someone else runs is left alone.
2. Creates this run's topics. Every run has its own names (``demo-<run>.``) and consumer
   groups, so runs never see each other's data; the topics are deleted again at the end.
3. Writes a web config for this run (``web-config.yml`` in the run's temporary folder, mode
   0600): one basic-auth user ``demo`` with a random password, printed once with the
   dashboard URL. Starts the central collector and one sidecar per region as child
   processes with it (their own process groups, so Ctrl-C reaches only the demo, which then
   stops them in order), on 127.0.0.1, with logs in the same folder, and waits until each
   answers ``/readyz``.
4. Generates synthetic raw telemetry full of fake PII in this process, one producer per
   region. To show aggregates within a minute, each generator first *backfills* the last
   two minutes of event time as fast as it can (the sidecars close those windows at once),
   then goes on at ``--rate`` events/s with event time following the wall clock, so a new
   window closes every minute.
   Schemas of ``--schemas`` whose event type has no dedicated generator get events from
   :mod:`deidentify.generate_schema`, on their own ``source.topic`` (region-prefixed).
5. Shows a live view of what the central collector holds (every 2 s on a terminal, every
   15 s otherwise) and the dashboard URL.
6. On Ctrl-C, SIGTERM or after ``--duration``: stops the generators, sends SIGTERM to every
   child, waits (SIGKILL after 20 s), deletes the topics, releases the broker, exits 0.

Only aggregates that passed central re-validation and counts are ever printed; no raw event
value reaches the terminal.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from deidentify.errors import DeidentifyError, SchemaError, SettingsError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SH = ROOT / "scripts" / "kafka.sh"
REGIONS = (("eu", 8081, 1), ("us", 8082, 2))     # region, sidecar port, generator seed
BACKFILL_MS = 120_000
WINDOW_MS = 60_000
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
BROKER_TIMEOUT_S = 900.0                          # the first start downloads the jars
VIEW_EVERY_TTY_S = 2.0
VIEW_EVERY_PLAIN_S = 15.0


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen | None = None
    port: int | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None


@dataclass
class DemoRun:
    bootstrap: str
    port: int
    rate: float
    duration_s: float | None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    children: list[Child] = field(default_factory=list)
    produced: dict[str, int] = field(default_factory=dict)
    logs: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="deidentify-demo-")))
    leased: bool = False
    topics: list[str] = field(default_factory=list)
    schemas_dir: str | None = None         # --schemas (default: the shipped schemas/)
    generic: tuple = ()                     # schemas with no dedicated generator
    user: str = "demo"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12), repr=False)

    @property
    def web_config(self) -> Path:
        return self.logs / "web-config.yml"

    @property
    def authorization(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    @property
    def prefix(self) -> str:
        return f"demo-{self.run_id}."

    @property
    def central_topic(self) -> str:
        """The base name: each region's sidecar publishes to ``<it>.<region>``."""
        return f"{self.prefix}central.aggregates"

    def raw_topic(self, region: str, kind: str) -> str:
        from deidentify.generate import TOPICS
        return f"{self.prefix}{region}.{TOPICS[kind]}"

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def say(text: str) -> None:
    print(f"demo: {text}", flush=True)


# ---------------------------------------------------------------------------- settings


def _settings(args: Any) -> DemoRun:
    from deidentify.runtime.settings import parse_duration_ms

    bootstrap = args.bootstrap or os.environ.get("KAFKA_BOOTSTRAP") or "127.0.0.1:9092"
    duration_s = None
    if args.duration not in (None, "", "0"):
        duration_s = parse_duration_ms(args.duration, what="--duration") / 1000
        if duration_s <= 0:
            raise SettingsError("--duration must be longer than 0s")
    rate = float(args.rate)
    if not rate > 0:
        raise SettingsError("--rate must be a number greater than 0 (events per second)")
    if not 0 < int(args.port) < 65536:
        raise SettingsError("--port must be 1..65535")
    run = DemoRun(bootstrap=bootstrap, port=int(args.port), rate=rate, duration_s=duration_s,
                  schemas_dir=getattr(args, "schemas", None) or None)
    from deidentify.generate import TOPICS
    from deidentify.schema import load_schemas
    schemas = load_schemas(run.schemas_dir)       # SchemaError: shown as a usage error
    run.generic = tuple(s for s in schemas.schemas if s.source_type not in TOPICS)
    return run


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _any_free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------- broker


def _broker(run: DemoRun, command: str) -> bool:
    """``scripts/kafka.sh acquire|release <our pid>``; False when there is no script."""
    if not KAFKA_SH.is_file():
        return False
    env = dict(os.environ, KAFKA_BOOTSTRAP=run.bootstrap)
    result = subprocess.run([str(KAFKA_SH), command, str(os.getpid())], env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=BROKER_TIMEOUT_S, check=False)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise DeidentifyError(f"scripts/kafka.sh {command} failed: " + " / ".join(tail))
    return True


async def broker_answers(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """True when a metadata request to ``bootstrap`` lists at least one broker."""
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
        return bool(client.cluster.brokers())
    except Exception:
        return False
    finally:
        await client.close()


async def _create_topics(run: DemoRun) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from deidentify.generate import TOPICS
    names = [run.raw_topic(region, kind) for region, _p, _s in REGIONS for kind in TOPICS]
    names += sorted({f"{run.prefix}{region}.{s.topic}" for region, _p, _s in REGIONS
                     for s in run.generic} - set(names))
    names += [f"{run.central_topic}.{region}" for region, _p, _s in REGIONS]
    admin = AIOKafkaAdminClient(bootstrap_servers=run.bootstrap, request_timeout_ms=30_000)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, 3, 1) for n in names])
        deadline = time.monotonic() + 30
        while True:
            described = await admin.describe_topics(names)
            ok = [t for t in described if not t["error_code"] and t["partitions"]
                  and all(p["leader"] >= 0 for p in t["partitions"])]
            if len(ok) == len(names):
                break
            if time.monotonic() > deadline:
                raise DeidentifyError("the demo topics did not get partition leaders in 30s")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    run.topics = names


async def _delete_topics(run: DemoRun) -> None:
    if not run.topics:
        return
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=run.bootstrap, request_timeout_ms=15_000)
    try:
        await asyncio.wait_for(admin.start(), 15)
        await asyncio.wait_for(admin.delete_topics(run.topics), 15)
        with contextlib.suppress(Exception):
            groups = [f"deidentify-demo-{run.run_id}-{r}" for r, _p, _s in REGIONS]
            groups.append(f"deidentify-demo-{run.run_id}-central")
            await asyncio.wait_for(admin.delete_consumer_groups(groups), 15)
    except Exception as exc:
        say(f"could not delete this run's topics ({type(exc).__name__}); they start with "
            f"{run.prefix}")
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


# ---------------------------------------------------------------------------- children


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


def _start_children(run: DemoRun) -> None:
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
        if not _port_free(port):
            wanted, port = port, _any_free_port()
            say(f"port {wanted} is busy; the {region} sidecar uses {port}")
        _start(run, f"sidecar-{region}",
               ["run", "--region", region, "--topic-prefix", f"{run.prefix}{region}.",
                "--bootstrap", run.bootstrap, "--port", str(port), "--idle", "5s",
                "--group", f"deidentify-demo-{run.run_id}-{region}",
                "--central-topic", run.central_topic, *schemas, *web], port, {})


def _get(url: str, timeout_s: float = 3.0, headers: dict | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=timeout_s) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


async def _wait_ready(run: DemoRun, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = {c.name: c for c in run.children}
    while pending:
        for name, child in list(pending.items()):
            _check_alive(child)
            try:
                status, _ = await loop.run_in_executor(
                    None, _get, f"http://127.0.0.1:{child.port}/readyz", 2.0)
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


def _check_alive(child: Child) -> None:
    if child.proc is not None and child.proc.poll() is not None:
        raise DeidentifyError(f"{child.name} exited with code {child.proc.returncode}; "
                              f"see {child.log_path}")


def _stop_children(run: DemoRun) -> bool:
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


# ---------------------------------------------------------------------------- generators


async def _generate(run: DemoRun, region: str, seed: int, stop: asyncio.Event,
                    generic: bool = False) -> None:
    """Backfill two minutes of event time at full speed, then follow the wall clock.

    ``generic``: events for the loaded schemas that have no dedicated generator
    (:mod:`deidentify.generate_schema`), produced to their ``source.topic``; else the
    built-in generator of the three shipped event kinds."""
    from aiokafka import AIOKafkaProducer

    from deidentify.generate import TelemetryGenerator
    from deidentify.generate_schema import SchemaEventGenerator

    now_ms = int(time.time() * 1000)
    start_ms = now_ms - now_ms % WINDOW_MS - BACKFILL_MS
    name = f"{region} (new schemas)" if generic else region
    if generic:
        gen = SchemaEventGenerator(run.generic, seed=seed, start_ms=start_ms,
                                   events_per_second=run.rate)
        topics = {s: f"{run.prefix}{region}.{s.topic}" for s in run.generic}
    else:
        gen = TelemetryGenerator(seed=seed, region=region, start_ms=start_ms,
                                 events_per_second=run.rate)
        topics = {kind: run.raw_topic(region, kind)
                  for kind in ("http_request", "billing_charge", "webhook_delivery")}
    producer = AIOKafkaProducer(bootstrap_servers=run.bootstrap, client_id=f"demo-gen-{region}",
                                acks=1, linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    run.produced[name] = 0
    step_ms = 1000.0 / run.rate
    chunk = max(1, min(5000, int(run.rate / 10)))
    try:
        while not stop.is_set():
            event_ms = start_ms + run.produced[name] * step_ms
            ahead_s = (event_ms - time.time() * 1000) / 1000
            if ahead_s > 0:          # caught up with the wall clock: follow it
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), ahead_s)
                continue
            for kind, key, value in gen.records(chunk):
                await producer.send(topics[kind], value, key=key)
            run.produced[name] += chunk
            await asyncio.sleep(0)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 10)


# ---------------------------------------------------------------------------- live view


def _fmt(n: float | None, decimals: int = 0) -> str:
    return "-" if n is None else f"{n:,.{decimals}f}"


def render_view(run: DemoRun, summary: dict | None, left_s: float | None, broker_note: str) -> str:
    """The terminal view: aggregates the central collector accepted, and counts."""
    lines = [f"deidentify demo · dashboard {run.dashboard} (user {run.user}, password "
             f"{run.password}) · "
             + ("Ctrl-C to stop" if left_s is None else f"stops in {left_s:.0f}s (Ctrl-C stops now)"),
             f"broker {run.bootstrap} ({broker_note}) · run {run.run_id} · logs {run.logs}",
             "generated (fake PII, never leaves the region): "
             + "  ".join(f"{r} {_fmt(n)} events" for r, n in sorted(run.produced.items()))]
    if summary is None:
        lines.append("central: not answering yet")
        return "\n".join(lines)
    c = summary.get("collector", {})
    lines.append(f"central: {_fmt(c.get('accepted'))} aggregates accepted, "
                 f"{_fmt(c.get('rejected_total'))} rejected, lag {_fmt(c.get('lag'))}")
    regions = summary.get("regions", {})
    if not regions:
        lines.append("")
        lines.append("waiting for the first closed window (the backfilled minutes close first)...")
    for region in sorted(regions):
        entry = regions[region]
        lines.append("")
        lines.append(f"── region {region} " + "─" * 60)
        for name, info in sorted(entry.get("schemas", {}).items()):
            line = _schema_line(name, info.get("view"))
            if line:
                lines.extend(line)
        schemas = entry.get("schemas", {})
        lines.append("  windows merged: " + ", ".join(
            f"{name} {s['windows']}" for name, s in sorted(schemas.items())))
    return "\n".join(lines)


def _schema_line(name: str, view: dict | None) -> list[str]:
    """One schema's newest window and top cells, whatever the schema (from its view)."""
    if not view or not view.get("windows"):
        return []
    last = view["windows"][-1]
    parts = [f"  {name:<19} window {last['start'][11:16]}Z  {_fmt(last['per_minute'])} events/min"]
    for rate in view.get("rates", []):
        value = last["rates"].get(rate)
        parts.append(f"{rate} {'-' if value is None else f'{value * 100:.2f}%'}")
    units = {m["name"]: m.get("unit") for m in view.get("measures", [])}
    for hist in view.get("histograms", []):
        q = last["quantiles"].get(hist, {})
        unit = f" {units.get(hist)}" if units.get(hist) in ("ms", "s") else ""
        parts.append(f"{hist} p50 {_fmt(q.get('p50'), 1)}{unit} p99 {_fmt(q.get('p99'), 0)}{unit}")
    top = ", ".join(" ".join(str(v) for v in r["dims"].values()) + f" {_fmt(r['per_minute'])}/min"
                    for r in view.get("top", [])[:3])
    return ["  ".join(parts), f"    top: {top}"]


async def _fetch_summary(run: DemoRun) -> dict | None:
    loop = asyncio.get_running_loop()
    try:
        status, body = await loop.run_in_executor(None, _get, run.dashboard + "api/summary", 3.0,
                                                  run.authorization)
    except OSError:
        return None
    return orjson.loads(body) if status == 200 else None


async def _view(run: DemoRun, stop: asyncio.Event, deadline: float | None,
                broker_note: str) -> dict | None:
    tty = sys.stdout.isatty()
    every = VIEW_EVERY_TTY_S if tty else VIEW_EVERY_PLAIN_S
    last: dict | None = None
    while not stop.is_set():
        for child in run.children:
            _check_alive(child)
        summary = await _fetch_summary(run)
        last = summary or last
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        text = render_view(run, summary, left, broker_note)
        if tty:
            sys.stdout.write("\x1b[H\x1b[2J" + text + "\n")
        else:
            sys.stdout.write(text + "\n\n")
        sys.stdout.flush()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
    return last


# ---------------------------------------------------------------------------- main


async def _run(run: DemoRun) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    generators: list[asyncio.Task] = []
    result = EXIT_OK
    last: dict | None = None
    try:
        answered = await broker_answers(run.bootstrap)
        if not answered:
            say(f"no broker answers on {run.bootstrap}: starting the local one "
                "(scripts/kafka.sh; the very first start downloads Kafka, be patient)")
        run.leased = await loop.run_in_executor(None, _broker, run, "acquire")
        if not run.leased and not answered:
            raise DeidentifyError(f"no Kafka broker answers on {run.bootstrap} and "
                                  "scripts/kafka.sh is not here to start one")
        if not await broker_answers(run.bootstrap, 15.0):
            raise DeidentifyError(f"no Kafka broker answers on {run.bootstrap}")
        broker_note = "started for the demo" if not answered else "already running"
        await _create_topics(run)
        say(f"created {len(run.topics)} topics {run.prefix}*")
        if not _port_free(run.port):
            raise SettingsError(f"port {run.port} is busy: pass --port with a free port")
        _start_children(run)
        await _wait_ready(run, stop)
        say(f"dashboard: {run.dashboard} (log in as user '{run.user}' with password "
            f"'{run.password}'; this run's web config: {run.web_config})")
        deadline = None if run.duration_s is None else time.monotonic() + run.duration_s
        if deadline is not None:
            loop.call_later(run.duration_s, stop.set)
        for region, _port, seed in REGIONS:
            generators.append(asyncio.create_task(_generate(run, region, seed, stop)))
            if run.generic:
                generators.append(asyncio.create_task(
                    _generate(run, region, seed, stop, generic=True)))
        view = asyncio.create_task(_view(run, stop, deadline, broker_note))
        done, _ = await asyncio.wait([view, *generators], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception() is not None:
                raise task.exception()
        last = view.result() if view.done() else await view
    except DeidentifyError as exc:
        say(f"error: {exc}")
        result = EXIT_USAGE if isinstance(exc, SettingsError) else EXIT_FAILED
    except Exception as exc:
        say(f"error: {type(exc).__name__} (message withheld)")
        result = EXIT_FAILED
    finally:
        stop.set()
        for task in generators:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, 15)
        if run.children:     # what the collector holds, just before it stops
            last = await _fetch_summary(run) or last
        say("stopping " + ", ".join(f"{c.name} (pid {c.pid})" for c in run.children)
            if run.children else "nothing to stop")
        clean = await loop.run_in_executor(None, _stop_children, run)
        if not clean and result == EXIT_OK:
            result = EXIT_FAILED
        await _delete_topics(run)
        if run.leased:
            try:
                await loop.run_in_executor(None, _broker, run, "release")
            except DeidentifyError as exc:
                say(f"warning: {exc}")
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if last is not None:
        regions = last.get("regions", {})
        counts = ", ".join(
            f"{r}: {sum(s['events'] for s in e.get('schemas', {}).values()):,} events in "
            f"{sum(s['windows'] for s in e.get('schemas', {}).values())} schema windows"
            for r, e in sorted(regions.items()))
        say(f"central received aggregates from {len(regions)} region(s) "
            f"[{','.join(sorted(regions))}]: {counts or 'none'}")
    say(f"all {len(run.children)} processes stopped; exit {result}")
    if result == EXIT_OK:
        shutil.rmtree(run.logs, ignore_errors=True)
    else:
        say(f"logs kept in {run.logs}")
    return result


def main(args: Any) -> int:
    try:
        run = _settings(args)
    except (SettingsError, SchemaError) as exc:
        print(f"deidentify demo: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_run(run))

"""How each contender is started, measured and stopped. Each ``run_*`` returns a Measurement.

Every contender runs in a child process with a bounded lifetime (``timeout_s``); whatever
happens, the child is stopped (SIGTERM to the session the harness created for it, SIGKILL
after a grace period) before the function returns. Child output goes to a log file under the
run's work directory; only the file's path is ever printed.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.dataset import Dataset, committed_offsets, create_topics, raw_topics
from benchmarks.measure import Child, Measurement, Sample, Sampler, python_argv, read_result

ROOT = Path(__file__).resolve().parent.parent

CONTENDERS = ("deidentify", "faust", "faust-pipeline", "quixstreams", "ceiling", "preview",
              "parse-only", "decode-only")
OPTIONAL = ("deidentify-alo", "quixstreams-eos")
PROBES = ("partitions", "subjects", "profile")


class ContenderFailed(RuntimeError):
    """A contender did not finish; the message names it and its log file, never a value."""


@dataclass
class RunContext:
    bootstrap: str
    run_id: str
    workdir: Path
    dataset: Dataset
    timeout_s: float = 300.0
    produced: dict[int, dict] = field(default_factory=dict)   # partitions -> produce summary
    log: Callable[[str], None] = print
    sidecar_guarantee_flag: list[str] | None = None           # at-least-once switch, if any

    def prefix(self, partitions: int) -> str:
        return f"bench.{self.run_id}.p{partitions}."

    def name(self, *parts: object) -> str:
        return ".".join(["bench", self.run_id, *map(str, parts)])

    def path(self, *parts: object) -> str:
        return str(self.workdir / "-".join(map(str, parts)))

    def central_topic(self, contender: str, rep: int, partitions: int) -> str:
        topic = self.name("central", contender, f"p{partitions}", f"r{rep}")
        create_topics(self.bootstrap, [topic], 1)
        return topic


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child_env() -> dict:
    path = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)}


def _run_self_timed(ctx: RunContext, label: str, argv: list[str], result: str,
                    stop_after_result: bool = False, timeout_s: float | None = None) -> Measurement:
    """Start a self-timed child, wait for its result file (and exit), stop it, merge rusage."""
    if os.path.exists(result):
        os.unlink(result)
    log_path = f"{result}.log"
    child = Child(argv, log_path=log_path, env=_child_env(), cwd=str(ctx.workdir))
    deadline = time.monotonic() + (timeout_s or ctx.timeout_s)
    try:
        while time.monotonic() < deadline:
            if os.path.exists(result) and stop_after_result:
                break
            if not child.alive():
                break
            time.sleep(0.1)
    finally:
        exit_ = child.stop(grace_s=20.0)
    m = read_result(result)
    if m is None:
        why = "timed out" if time.monotonic() >= deadline else f"exited with {exit_.returncode}"
        raise ContenderFailed(f"{label} {why} without a result (log: {log_path})")
    m.total_cpu_s = exit_.cpu_s
    m.total_wall_s = exit_.wall_s
    return m


# --------------------------------------------------------------------------- offline


def run_preview(ctx: RunContext, rep: int) -> Measurement:
    result = ctx.path("preview", rep, "result.json")
    m = _run_self_timed(ctx, "preview",
                        python_argv("benchmarks.offline", "preview", ctx.dataset.path,
                                    "--result", result), result)
    return m


def run_parse_only(ctx: RunContext, rep: int) -> Measurement:
    result = ctx.path("parse-only", rep, "result.json")
    return _run_self_timed(ctx, "parse-only",
                           python_argv("benchmarks.offline", "parse", ctx.dataset.path,
                                       "--result", result), result)


def run_decode_only(ctx: RunContext, rep: int) -> Measurement:
    result = ctx.path("decode-only", rep, "result.json")
    return _run_self_timed(ctx, "decode-only",
                           python_argv("benchmarks.offline", "decode", ctx.dataset.path,
                                       "--result", result), result)


def run_subjects(ctx: RunContext, n: int) -> Measurement:
    result = ctx.path("subjects", n, "result.json")
    return _run_self_timed(ctx, f"subjects {n}",
                           python_argv("benchmarks.offline", "subjects", str(n),
                                       "--result", result), result)


def run_profile(ctx: RunContext, limit: int) -> Measurement:
    result = ctx.path("profile", "result.json")
    return _run_self_timed(ctx, "profile",
                           python_argv("benchmarks.offline", "profile", ctx.dataset.path,
                                       "--limit", str(limit), "--result", result), result)


# --------------------------------------------------------------------------- Kafka


def _topics_arg(ctx: RunContext, partitions: int) -> str:
    return ",".join(raw_topics(ctx.prefix(partitions)).values())


def run_ceiling(ctx: RunContext, rep: int, partitions: int) -> Measurement:
    result = ctx.path("ceiling", f"p{partitions}", rep, "result.json")
    argv = python_argv("benchmarks.ceiling", "--bootstrap", ctx.bootstrap,
                       "--topics", _topics_arg(ctx, partitions), "--partitions", str(partitions),
                       "--expect", str(ctx.dataset.events), "--timeout", str(ctx.timeout_s),
                       "--result", result)
    return _run_self_timed(ctx, "ceiling", argv, result)


def run_faust(ctx: RunContext, rep: int, partitions: int, events: int,
              mode: str = "table") -> Measurement:
    label = "faust" if mode == "table" else "faust-pipeline"
    result = ctx.path(label, f"p{partitions}", rep, "result.json")
    datadir = ctx.path(label, f"p{partitions}", rep, "data")
    argv = python_argv("benchmarks.faust_agent", "--bootstrap", ctx.bootstrap,
                       "--prefix", ctx.prefix(partitions), "--partitions", str(partitions),
                       "--central", ctx.central_topic(label, rep, partitions),
                       "--app-id", ctx.name(label, f"p{partitions}", f"r{rep}"),
                       "--expect", str(events), "--mode", mode,
                       "--datadir", datadir, "--result", result)
    return _run_self_timed(ctx, label, argv, result, stop_after_result=True)


def run_quix(ctx: RunContext, rep: int, partitions: int, guarantee: str = "at-least-once",
             events: int | None = None) -> Measurement:
    label = "quixstreams" if guarantee == "at-least-once" else "quixstreams-eos"
    result = ctx.path(label, f"p{partitions}", rep, "result.json")
    argv = python_argv("benchmarks.quix_app", "--bootstrap", ctx.bootstrap,
                       "--prefix", ctx.prefix(partitions),
                       "--central", ctx.central_topic(label, rep, partitions),
                       "--group", ctx.name(label, f"p{partitions}", f"r{rep}"),
                       "--state-dir", ctx.path(label, f"p{partitions}", rep, "state"),
                       "--expect", str(events or ctx.dataset.events), "--guarantee", guarantee,
                       "--result", result)
    return _run_self_timed(ctx, label, argv, result, stop_after_result=True)


def run_deidentify(ctx: RunContext, rep: int, partitions: int, *, e2e: bool = False,
                   at_least_once: bool = False, interval_s: float = 0.5,
                   near_end_s: float = 0.1) -> Measurement:
    """``deidentify run`` from outside: psutil + its /metrics counter, then committed offsets.

    Throughput spans the first sample that saw a consumed event to the first that saw them
    all. A sample every ``interval_s``, and every ``near_end_s`` once the last two samples'
    rate says the end is less than two intervals away (:func:`next_sample_in`): each
    ``/metrics`` scrape costs the sidecar ~1.4 ms of CPU (measured), which at 10 per second
    would be ~1.4% of the CPU being measured, a load no scraper puts on it in production
    (Prometheus scrapes every 15-60 s), while the end of the span keeps its 0.1 s resolution.

    With ``e2e`` it then waits until the group's committed offsets reach the end of every
    raw partition (the last windows close by wall clock once the partitions are idle) and
    counts what the central topic holds.
    """
    label = "deidentify-alo" if at_least_once else "deidentify"
    group = ctx.name(label, f"p{partitions}", f"r{rep}")
    central = ctx.central_topic(label, rep, partitions)
    port = _free_port()
    argv = python_argv("deidentify.cli", "run", "--region", "eu", "--bootstrap", ctx.bootstrap,
                       "--topic-prefix", ctx.prefix(partitions), "--central-topic", central,
                       "--port", str(port), "--idle", "2s", "--group", group)
    if at_least_once:
        if not ctx.sidecar_guarantee_flag:
            raise ContenderFailed("deidentify run has no at-least-once switch")
        argv += ctx.sidecar_guarantee_flag
    log_path = ctx.path(label, f"p{partitions}", rep, "sidecar.log")
    total = ctx.dataset.events
    child = Child(argv, log_path=log_path, env={"DEIDENTIFY_LOG_LEVEL": "WARNING"},
                  cwd=str(ROOT))
    sampler = Sampler(child.pid, metrics_url=f"http://127.0.0.1:{port}/metrics")
    deadline = time.monotonic() + ctx.timeout_s
    consumed_at = None
    e2e_s = None
    extra: dict = {"sample_interval_s": interval_s, "near_end_interval_s": near_end_s}
    try:
        previous = None
        while time.monotonic() < deadline and child.alive():
            s = sampler.sample()
            if s is not None and s.consumed is not None and s.consumed >= total:
                consumed_at = s.t
                break
            time.sleep(next_sample_in(previous, s, total, interval_s, near_end_s))
            previous = s
        if consumed_at is None:
            why = "timed out" if child.alive() else "exited"
            raise ContenderFailed(f"{label} {why} before consuming every event "
                                  f"(log: {log_path})")
        if e2e:
            ends = ctx.produced[partitions]["end_offsets"]
            wait_until = time.monotonic() + 150.0
            while time.monotonic() < wait_until and child.alive():
                got = committed_offsets(ctx.bootstrap, group, list(ends))
                if all(got.get(tp, -1) >= end for tp, end in ends.items()):
                    e2e_s = time.monotonic() - child.started
                    break
                sampler.sample()
                time.sleep(0.25)
            extra["e2e_committed"] = e2e_s is not None
            if e2e_s is not None:
                extra["e2e_s_from_start"] = round(e2e_s, 2)
                extra["e2e_s_after_consumed"] = round(time.monotonic() - consumed_at, 2)
                extra["central"] = count_central(ctx.bootstrap, f"{central}.eu")
    finally:
        sampler.sample()                      # the last VmHWM before it stops
        exit_ = child.stop(grace_s=20.0)
    steady = sampler.steady(total)
    if steady is None:
        raise ContenderFailed(f"{label}: too few samples to measure (log: {log_path})")
    events, cpu_s, wall_s = steady
    extra["samples"] = len(sampler.samples)
    extra["exit_code"] = exit_.returncode
    return Measurement(events, cpu_s, wall_s, sampler.peak_rss,
                       total_cpu_s=exit_.cpu_s, total_wall_s=exit_.wall_s, extra=extra)


def next_sample_in(previous: Sample | None, latest: Sample | None, total: int,
                   interval_s: float, near_end_s: float) -> float:
    """Seconds to the next sample: ``near_end_s`` when the rate between the last two samples
    would reach ``total`` within two ``interval_s``, else ``interval_s``."""
    if (previous is None or latest is None or latest.consumed is None
            or previous.consumed is None or latest.t <= previous.t):
        return interval_s
    rate = (latest.consumed - previous.consumed) / (latest.t - previous.t)
    if rate > 0 and total - latest.consumed < rate * 2 * interval_s:
        return near_end_s
    return interval_s


def count_central(bootstrap: str, topic: str, timeout_s: float = 20.0) -> dict:
    """Aggregates on ``topic`` (read_committed) and the sum of their ``measures.count``."""
    import orjson
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}.reader",
                         "enable.auto.commit": False, "isolation.level": "read_committed",
                         "auto.offset.reset": "earliest", "log_level": 3})
    try:
        md = consumer.list_topics(topic, timeout=10)
        tps = [TopicPartition(topic, p, 0) for p in md.topics[topic].partitions]
        ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in tps}
        consumer.assign(tps)
        cells = 0
        events = 0
        by_schema: dict[str, int] = {}
        done = {p for p, end in ends.items() if end == 0}
        deadline = time.monotonic() + timeout_s
        while len(done) < len(tps) and time.monotonic() < deadline:
            for msg in consumer.consume(10_000, 0.5):
                if msg.error():
                    continue
                if msg.offset() + 1 >= ends[msg.partition()]:
                    done.add(msg.partition())
                value = orjson.loads(msg.value())
                cells += 1
                events += value["measures"]["count"]
                by_schema[value["schema"]] = by_schema.get(value["schema"], 0) + 1
            # read_committed skips transaction markers: a partition whose last record is a
            # marker never delivers it, so compare the position instead
            for tp in consumer.position(tps):
                if tp.offset >= ends[tp.partition]:
                    done.add(tp.partition)
        return {"cells": cells, "events_counted": events, "cells_by_schema": by_schema}
    finally:
        consumer.close()

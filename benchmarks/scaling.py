"""Scaling one region: ``deidentify run --stages single`` against ``--stages split`` with 1-3.

``python -m benchmarks.scaling --events 200000`` generates (or reuses) the benchmark data set,
produces it once to raw topics with ``--partitions`` partitions, then runs, one after the
other on the same events: ``single`` (one process), and ``split`` with 1, 2 and 3 processes
of one region (same ``--group``, same ``--subject-key-file``). Each configuration gets its own
group and central topic and starts from the beginning of the raw topics.

A configuration is done when the central topic (read_committed) holds the events the
``single`` run published (the sum of ``measures.count``), or, failing that, when stage one's
committed raw offsets reached the end (a partition that received nothing counts as
there) and the central topic stopped changing (reported as ``complete: false``); the time is
then the first poll (once a second) that saw its final content. The wall time includes
start-up and joining the groups. Figures: events / wall second from the first process's start to done,
and events / CPU second summed over the sidecar processes (user + system over their whole
life, start-up and shutdown included, as ``rusage`` reports them after SIGTERM). Split-1
against single is the cost of the second stage. Nothing here asserts on a timing; the host's
other load goes into every figure. Event values are never printed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import tempfile
import time
from pathlib import Path

from benchmarks.contenders import ROOT, _free_port, count_central
from benchmarks.dataset import (
    committed_offsets,
    create_topics,
    delete_groups,
    delete_topics,
    end_offsets,
    ensure_dataset,
    list_topics,
    produce,
    raw_topics,
)
from benchmarks.measure import Child, python_argv

CONFIGS = (("single", 1), ("split", 1), ("split", 2), ("split", 3))


def log(msg: str) -> None:
    print(f"[scaling] {msg}", flush=True)


def run_config(bootstrap: str, run_id: str, workdir: Path, key_file: Path, stages: str,
               processes: int, events: int, ends: dict, target: int | None,
               timeout_s: float) -> dict:
    label = f"{stages}{processes}"
    group = f"bench.{run_id}.{label}.group"
    central = f"bench.{run_id}.{label}.central"
    create_topics(bootstrap, [f"{central}.eu"], 1)
    argv_base = python_argv("deidentify.cli", "run", "--region", "eu",
                            "--bootstrap", bootstrap, "--topic-prefix", f"bench.{run_id}.",
                            "--central-topic", central, "--idle", "2s", "--group", group,
                            "--stages", stages)
    if stages == "split":
        argv_base += ["--subject-key-file", str(key_file)]
    children: list[Child] = []
    t0 = time.monotonic()
    done_s = None
    complete = False
    counted: dict = {}
    try:
        for i in range(processes):
            argv = argv_base + ["--port", str(_free_port())]
            children.append(Child(argv, log_path=str(workdir / f"{label}-{i}.log"),
                                  env={"DEIDENTIFY_LOG_LEVEL": "WARNING"}, cwd=str(ROOT)))
        deadline = t0 + timeout_s
        raw_done_polls = 0
        last = None
        changed_s = 0.0           # when the central topic last changed (first poll seeing it)
        while time.monotonic() < deadline:
            if not all(c.alive() for c in children):
                raise RuntimeError(f"{label}: a sidecar exited (logs under {workdir})")
            counted = count_central(bootstrap, f"{central}.eu", timeout_s=10.0)
            now = time.monotonic()
            if target is not None and counted["events_counted"] >= target:
                done_s, complete = now - t0, True
                break
            if counted != last:
                changed_s = now - t0
            got = committed_offsets(bootstrap, group, list(ends))
            if all(end == 0 or got.get(tp, -1) >= end for tp, end in ends.items()):
                raw_done_polls = raw_done_polls + 1 if counted == last else 0
                if raw_done_polls >= 3 and target is None:
                    done_s, complete = changed_s, True
                    break
                if raw_done_polls >= 10:          # stable but short of the target
                    done_s = changed_s
                    break
            last = counted
            time.sleep(1.0)
    finally:
        exits = [c.stop(grace_s=20.0) for c in children]
    if done_s is None:
        raise RuntimeError(f"{label}: not done within {timeout_s:.0f}s (logs under {workdir})")
    cpu_s = sum(e.cpu_s for e in exits)
    return {"stages": stages, "processes": processes, "events": events,
            "wall_s": round(done_s, 2), "cpu_s": round(cpu_s, 2),
            "events_per_wall_s": round(events / done_s), "events_per_cpu_s": round(events / cpu_s),
            "complete": complete, "central": counted,
            "exit_codes": [e.returncode for e in exits]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__.split(
        "\n\n")[0])
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    p.add_argument("--cache-dir", type=Path,
                   default=Path(tempfile.gettempdir()) / "deidentify-bench")
    p.add_argument("--timeout", type=float, default=600.0, help="per configuration, seconds")
    p.add_argument("--result", type=Path, default=None, help="write the figures as JSON here")
    args = p.parse_args(argv)

    dataset = ensure_dataset(args.events, cache_dir=args.cache_dir, log=log)
    run_id = secrets.token_hex(4)
    prefix = f"bench.{run_id}."
    workdir = Path(tempfile.mkdtemp(prefix="deidentify-scaling-"))
    key_file = workdir / "subject.key"
    key_file.write_bytes(base64.b64encode(os.urandom(48)))
    key_file.chmod(0o600)
    results = []
    try:
        log(f"producing {dataset.events:,} events to {args.partitions} partitions per topic")
        produce(dataset, args.bootstrap, prefix, args.partitions, log=log)
        ends = end_offsets(args.bootstrap, list(raw_topics(prefix).values()))
        target = None
        for stages, n in CONFIGS:
            r = run_config(args.bootstrap, run_id, workdir, key_file, stages, n,
                           dataset.events, ends, target, args.timeout)
            if target is None:
                target = r["central"]["events_counted"]
            results.append(r)
            log(f"{stages:6} x{n}: {r['events_per_wall_s']:>7,} ev/s wall "
                f"{r['events_per_cpu_s']:>7,} ev/CPU-s  (wall {r['wall_s']}s, "
                f"cpu {r['cpu_s']}s, complete={r['complete']})")
    finally:
        names = [t for t in list_topics(args.bootstrap, "") if t.startswith(prefix)]
        log(f"deleted {delete_topics(args.bootstrap, names)} topic(s) and "
            f"{delete_groups(args.bootstrap, prefix)} group(s); logs in {workdir}")
    doc = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "cpus": os.cpu_count(), "load_avg": os.getloadavg(),
           "partitions": args.partitions, "results": results}
    if args.result:
        args.result.write_text(json.dumps(doc, indent=2))
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

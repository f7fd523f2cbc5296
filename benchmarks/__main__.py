"""``python -m benchmarks``: run the side-by-side benchmarks and write ``benchmarks/results/``.

usage: python -m benchmarks [--events N] [--partitions P] [--repeat R] [--offline-repeat R]
                            [--only NAME ...]
                            [--quick] [--bootstrap HOST:PORT] [--results-dir DIR] ...

Names for ``--only``: the contenders ``deidentify``, ``faust``, ``faust-pipeline``,
``quixstreams``, ``ceiling``, ``preview``, ``parse-only``, ``decode-only``, the optional ``deidentify-alo``
(needs an at-least-once switch in ``deidentify run``) and ``quixstreams-eos``, and the probes
``partitions`` (deidentify + ceiling with 1, 2 and 4 partitions), ``subjects`` (RSS with
10k/100k/1M distinct subjects per window) and ``profile`` (cProfile of the pipeline).
``preview``, ``parse-only``, ``decode-only``, ``subjects`` and ``profile`` need no broker.

Bounded in time: each contender run has a timeout, faust and quixstreams process a capped
number of events (their rates are steady long before), and once ``--budget`` is spent the
remaining probes are skipped (and say so). Every process started is stopped; the benchmark
topics and consumer groups (named ``bench.<run id>.*``, faust's and quixstreams' internal
topics included) are deleted at the end unless ``--keep-topics``.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import contenders as C
from benchmarks import report
from benchmarks.dataset import ensure_dataset
from benchmarks.measure import Measurement

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = ROOT / "benchmarks" / "results"
KAFKA_CONTENDERS = ("deidentify", "deidentify-alo", "faust", "faust-pipeline", "quixstreams",
                    "quixstreams-eos", "ceiling")
ALL_NAMES = C.CONTENDERS + C.OPTIONAL + C.PROBES
SCALING_PARTITIONS = (1, 2, 4)
GROUP_DELETE_WAIT_S = 40.0     # > the sidecar's session timeout (20 s)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks",
                                description="deidentify vs faust, quixstreams and the ceiling")
    p.add_argument("--events", type=int, default=None,
                   help="events in the data set (default 1,000,000; --quick: 100,000)")
    p.add_argument("--partitions", type=int, default=4, help="partitions of the main run")
    p.add_argument("--repeat", type=int, default=None, help="repeats (default 3; --quick: 1)")
    p.add_argument("--offline-repeat", type=int, default=None,
                   help="repeats of preview, parse-only and decode-only, which need no broker "
                        "and take seconds (default 7, at least --repeat; --quick: --repeat)")
    p.add_argument("--only", nargs="+", metavar="NAME", choices=ALL_NAMES,
                   help="run only these contenders/probes")
    p.add_argument("--quick", action="store_true",
                   help="100k events, 1 repeat, smaller caps, no end-to-end wait")
    p.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP") or "127.0.0.1:9092")
    p.add_argument("--faust-events", type=int, default=None,
                   help="events the faust agents process (default 30,000; --quick 10,000)")
    p.add_argument("--quix-events", type=int, default=None,
                   help="events quixstreams processes (default 200,000; --quick 50,000)")
    p.add_argument("--subjects", type=int, nargs="+", default=None,
                   help="distinct subjects per window for the RSS probe "
                        "(default 10000 100000 1000000)")
    p.add_argument("--profile-events", type=int, default=200_000)
    p.add_argument("--e2e", action=argparse.BooleanOptionalAction, default=None,
                   help="wait (once) until deidentify's committed offsets reach the end of "
                        "the raw topics and count the central topic (default on; off in --quick)")
    p.add_argument("--budget", type=float, default=18 * 60.0,
                   help="seconds after which remaining probes are skipped (default 1080)")
    p.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS)
    p.add_argument("--cache-dir", type=Path,
                   default=Path(tempfile.gettempdir()) / "deidentify-bench",
                   help="where the generated data set is cached between runs")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep-topics", action="store_true")
    p.add_argument("--keep-workdir", action="store_true", help="keep child logs and results")
    args = p.parse_args(argv)
    q = args.quick
    args.events = args.events or (100_000 if q else 1_000_000)
    args.repeat = args.repeat or (1 if q else 3)
    args.offline_repeat = max(args.repeat, args.offline_repeat or (args.repeat if q else 7))
    args.faust_events = min(args.events, args.faust_events or (10_000 if q else 30_000))
    args.quix_events = min(args.events, args.quix_events or (50_000 if q else 200_000))
    args.subjects = args.subjects or ([10_000, 100_000] if q else [10_000, 100_000, 1_000_000])
    args.e2e = (not q) if args.e2e is None else args.e2e
    if args.events < 1 or args.repeat < 1 or args.partitions < 1:
        p.error("--events, --repeat and --partitions must be at least 1")
    return args


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sidecar_alo_flag() -> list[str] | None:
    """The at-least-once switch of ``deidentify run``, if its --help shows one."""
    try:
        out = subprocess.run([sys.executable, "-m", "deidentify.cli", "run", "--help"],
                             capture_output=True, text=True, timeout=60, cwd=ROOT).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for flag in ("--at-least-once", "--no-exactly-once", "--no-transactions"):
        if re.search(rf"(^|\s){re.escape(flag)}\b", out):
            return [flag]
    for flag in ("--delivery", "--processing-guarantee", "--guarantee", "--semantics"):
        if re.search(rf"(^|\s){re.escape(flag)}\b", out) and "at-least-once" in out:
            return [flag, "at-least-once"]
    return None


def broker_answers(bootstrap: str) -> bool:
    try:
        from confluent_kafka.admin import AdminClient
    except ImportError:
        raise SystemExit("the Kafka contenders need the bench extra: "
                         "pip install -e '.[dev,bench]'") from None
    try:
        AdminClient({"bootstrap.servers": bootstrap, "log_level": 3}).list_topics(timeout=10)
        return True
    except Exception:
        return False


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.started = time.monotonic()
        self.runs: dict[str, list[Measurement]] = {}
        self.scaling: dict[str, dict[int, list[Measurement]]] = {}
        self.subjects: dict[int, Measurement] = {}
        self.profile: Measurement | None = None
        self.failures: list[str] = []
        self.skipped: list[str] = []
        self.notes: dict[str, str] = {}

    def over_budget(self) -> bool:
        return time.monotonic() - self.started > self.args.budget

    def attempt(self, label: str, fn, *a, **kw) -> Measurement | None:
        log(f"{label} ...")
        try:
            m = fn(*a, **kw)
        except C.ContenderFailed as exc:
            self.failures.append(str(exc))
            log(f"{label}: FAILED: {exc}")
            return None
        log(f"{label}: {m.events:,} events, {m.per_core:,.0f}/s per core, "
            f"{m.per_wall:,.0f}/s wall, peak RSS {m.peak_rss_bytes / 2**20:.0f} MB")
        return m


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    selected = list(args.only) if args.only else list(C.CONTENDERS + C.PROBES)
    if not args.only:
        selected.append("deidentify-alo")          # kept only if the sidecar has the switch
    needs_kafka = any(n in KAFKA_CONTENDERS or n == "partitions" for n in selected)
    load_before = report.load_average()
    bench = Bench(args)
    run_id = time.strftime("%m%d%H%M") + secrets.token_hex(2)
    workdir = Path(tempfile.mkdtemp(prefix=f"deidentify-bench-{run_id}-"))
    log(f"run {run_id}: {args.events:,} events, {args.partitions} partitions, "
        f"{args.repeat} repeat(s); load average {load_before}; work dir {workdir}")

    dataset = ensure_dataset(args.events, cache_dir=args.cache_dir, seed=args.seed, log=log)
    ctx = C.RunContext(bootstrap=args.bootstrap, run_id=run_id, workdir=workdir,
                       dataset=dataset, timeout_s=120.0 + args.events / 5000, log=log)
    alo = None
    if "deidentify-alo" in selected:
        alo = sidecar_alo_flag()
        ctx.sidecar_guarantee_flag = alo
        if alo is None:
            selected.remove("deidentify-alo")
            bench.notes["delivery"] = ("not measured: `deidentify run` has no at-least-once "
                                       "switch (exactly-once is the only mode)")
    try:
        if needs_kafka:
            if not broker_answers(args.bootstrap):
                raise SystemExit(f"no Kafka broker answers on {args.bootstrap} "
                                 "(start one: scripts/kafka.sh start, or make bench)")
            from benchmarks.dataset import produce
            wanted = {args.partitions}
            if "partitions" in selected:
                wanted |= set(SCALING_PARTITIONS)
            for p in sorted(wanted, reverse=True):
                ctx.produced[p] = produce(dataset, args.bootstrap, ctx.prefix(p), p, log=log)
        run_all(bench, ctx, selected)
    finally:
        if needs_kafka and not args.keep_topics:
            cleanup_kafka(args.bootstrap, run_id)
    load_after = report.load_average()
    doc = build_doc(bench, ctx, args, selected, load_before, load_after)
    paths = report.write(doc, args.results_dir)
    from benchmarks.plot import plot
    png = plot(doc, args.results_dir / "throughput.png")
    md = paths["md"].read_text()
    if args.results_dir.resolve() == DEFAULT_RESULTS.resolve():
        report.update_readme(ROOT / "benchmarks" / "README.md", md)
    print(md)
    log(f"results: {paths['json']}, {paths['md']}" + (f", {png}" if png else ""))
    if bench.failures or args.keep_workdir:
        log(f"child logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if bench.failures else 0


def run_all(bench: Bench, ctx: C.RunContext, selected: list[str]) -> None:
    args = bench.args
    P = args.partitions
    order = [n for n in C.CONTENDERS + C.OPTIONAL if n in selected]
    runners = {
        "deidentify": lambda rep: C.run_deidentify(ctx, rep, P, e2e=args.e2e and rep == 1),
        "deidentify-alo": lambda rep: C.run_deidentify(ctx, rep, P, at_least_once=True),
        "faust": lambda rep: C.run_faust(ctx, rep, P, args.faust_events, "table"),
        "faust-pipeline": lambda rep: C.run_faust(ctx, rep, P, args.faust_events, "pipeline"),
        "quixstreams": lambda rep: C.run_quix(ctx, rep, P, "at-least-once", args.quix_events),
        "quixstreams-eos": lambda rep: C.run_quix(ctx, rep, P, "exactly-once",
                                                  args.quix_events),
        "ceiling": lambda rep: C.run_ceiling(ctx, rep, P),
        "preview": lambda rep: C.run_preview(ctx, rep),
        "parse-only": lambda rep: C.run_parse_only(ctx, rep),
        "decode-only": lambda rep: C.run_decode_only(ctx, rep),
    }
    for rep in range(1, args.repeat + 1):
        if rep > 1 and bench.over_budget():
            bench.skipped.append(f"repeats {rep}..{args.repeat} (time budget spent)")
            break
        shift = (rep - 1) % max(1, len(order))
        for name in order[shift:] + order[:shift]:      # rotate: drift hits everyone alike
            m = bench.attempt(f"[{rep}/{args.repeat}] {name}", runners[name], rep)
            if m is not None:
                bench.runs.setdefault(name, []).append(m)
    # The offline rows take seconds and move by ±15% from run to run on a shared machine:
    # more repeats (still rotated, so preview and parse-only alternate) steady their medians.
    offline = [n for n in order if n not in KAFKA_CONTENDERS]
    for rep in range(args.repeat + 1, args.offline_repeat + 1):
        if bench.over_budget():
            bench.skipped.append(f"offline repeats {rep}..{args.offline_repeat} "
                                 "(time budget spent)")
            break
        shift = (rep - 1) % max(1, len(offline))
        for name in offline[shift:] + offline[:shift]:
            m = bench.attempt(f"[{rep}/{args.offline_repeat}] {name}", runners[name], rep)
            if m is not None:
                bench.runs.setdefault(name, []).append(m)
    if "partitions" in selected:
        for p in SCALING_PARTITIONS:
            for name in ("deidentify", "ceiling"):
                if p == P and name in bench.runs:
                    bench.scaling.setdefault(name, {})[p] = bench.runs[name]
                    continue
                for rep in range(1, args.repeat + 1):
                    if bench.over_budget():
                        bench.skipped.append(f"partitions={p} {name} (time budget spent)")
                        break
                    run = (C.run_deidentify if name == "deidentify" else C.run_ceiling)
                    m = bench.attempt(f"[partitions {p}, {rep}/{args.repeat}] {name}", run,
                                      ctx, 100 + rep, p)
                    if m is not None:
                        bench.scaling.setdefault(name, {}).setdefault(p, []).append(m)
    if "subjects" in selected:
        for n in args.subjects:
            if bench.over_budget():
                bench.skipped.append(f"subjects={n} (time budget spent)")
                continue
            m = bench.attempt(f"[subjects] {n:,} distinct subjects", C.run_subjects, ctx, n)
            if m is not None:
                bench.subjects[n] = m
    if "profile" in selected:
        if bench.over_budget():
            bench.skipped.append("profile (time budget spent)")
        else:
            bench.profile = bench.attempt("[profile] Pipeline.process_batch", C.run_profile,
                                          ctx, min(args.profile_events, ctx.dataset.events))


def cleanup_kafka(bootstrap: str, run_id: str) -> None:
    from benchmarks.dataset import delete_groups, delete_topics, list_groups, list_topics
    try:
        marker = f"bench.{run_id}."
        names = [t for t in list_topics(bootstrap, "") if marker in t]
        n = delete_topics(bootstrap, names)
        g, left = delete_groups(bootstrap, marker), 0
        # The sidecar is a static member (KIP-345): its group keeps the member, and refuses
        # deletion, until the session timeout has passed since it stopped.
        deadline = time.monotonic() + GROUP_DELETE_WAIT_S
        while (left := len(list_groups(bootstrap, marker))) and time.monotonic() < deadline:
            time.sleep(2.0)
            g += delete_groups(bootstrap, marker)
        log(f"deleted {n} benchmark topic(s) and {g} consumer group(s)"
            + (f"; {left} group(s) named {marker}* could not be deleted" if left else ""))
    except Exception as exc:
        log(f"could not delete the benchmark topics ({type(exc).__name__}); "
            f"they start with bench.{run_id}.")


def build_doc(bench: Bench, ctx: C.RunContext, args, selected, load_before, load_after) -> dict:
    summaries = {n: report.summarize(runs) for n, runs in bench.runs.items()}
    summaries = {n: s for n, s in summaries.items() if s is not None}
    ordered = [n for n in C.CONTENDERS + C.OPTIONAL if n in summaries]
    doc: dict = {
        "date": report.now_iso(),
        "machine": report.machine(),
        "versions": report.versions(report.kafka_version_from_pom(ROOT)),
        "load": {"before": load_before, "after": load_after},
        "elapsed_s": round(time.monotonic() - bench.started, 1),
        "settings": {"events": args.events, "partitions": args.partitions,
                     "repeat": args.repeat, "offline_repeat": args.offline_repeat,
                     "quick": args.quick,
                     "faust_events": args.faust_events, "quix_events": args.quix_events,
                     "selected": selected, "bootstrap": args.bootstrap},
        "dataset": ctx.dataset.describe(),
        "produced": {str(p): {k: v for k, v in s.items() if k != "end_offsets"}
                     for p, s in ctx.produced.items()},
        "summaries": {n: summaries[n].to_dict() for n in ordered},
        "runs": {n: [m.to_dict() for m in bench.runs[n]] for n in ordered},
        "ratios": report.ratios(summaries),
        "targets": [t for t in report.targets(summaries, bench.subjects)
                    if not args.only or t["met"] is not None],
        "partitions": {
            name: {str(p): report.summarize(runs).to_dict() for p, runs in by_p.items() if runs}
            for name, by_p in bench.scaling.items()},
        "subjects": {str(n): m.to_dict() for n, m in bench.subjects.items()},
        "failures": bench.failures,
        "skipped": bench.skipped,
    }
    doc["dataset"].pop("path", None)
    if "delivery" in bench.notes:
        doc["delivery"] = {"note": bench.notes["delivery"]}
    elif "deidentify-alo" in summaries and "deidentify" in summaries:
        a, e = summaries["deidentify-alo"], summaries["deidentify"]
        doc["delivery"] = {"note": f"at-least-once {a.per_core:,.0f} vs exactly-once "
                                   f"{e.per_core:,.0f} events/s per core "
                                   f"(exactly-once costs {(1 - e.per_core / a.per_core) * 100:.0f}%)"}
    first = bench.runs.get("deidentify", [None])[0]
    if first is not None and first.extra.get("e2e_committed"):
        c = first.extra.get("central", {})
        doc["e2e"] = (f"committed offsets reached the end of every raw partition "
                      f"{first.extra['e2e_s_from_start']:.1f} s after the sidecar started "
                      f"({first.extra['e2e_s_after_consumed']:.1f} s after the last event was "
                      f"consumed: the last windows close by wall clock once the partitions are "
                      f"idle, up to window + grace); the central topic holds "
                      f"{c.get('cells', 0):,} aggregates covering "
                      f"{c.get('events_counted', 0):,} events.")
    elif first is not None and args.e2e:
        doc["e2e"] = "committed offsets did not reach the end within 150 s of the last event"
    if bench.profile is not None:
        doc["profile"] = {"events": bench.profile.events,
                          "events_per_cpu_s": round(bench.profile.per_core, 1),
                          "top": bench.profile.extra.get("top", [])}
    return doc


if __name__ == "__main__":
    sys.exit(main())

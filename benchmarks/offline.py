"""Offline contenders and probes, each run as its own process by the harness.

``python -m benchmarks.offline MODE ... --result FILE``

``preview FILE``     ``deidentify.preview.run_preview`` (what ``deidentify preview FILE`` runs)
                     over the file, aggregates written to /dev/null
``parse FILE``       the same file, each line stripped and parsed with ``orjson.loads``
``decode FILE``      the same file, each line stripped and decoded by the shipped schemas'
                     allowlist decoder alone (the pipeline's decode stage: the UTF-8 check of
                     a non-ASCII line, then msgspec into the event type's Struct), nothing else
``subjects N``       RSS with ``N`` distinct subjects in one open window (no Kafka, no file)
``profile FILE``     cProfile over ``Pipeline.process_batch`` on the file's events (in memory)

The timed modes read the file once before the timed part (it is then in the page cache for
both) and time only the loop. Output: a :class:`benchmarks.measure.Measurement` as JSON.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time

import orjson

from benchmarks.measure import Measurement, max_rss_bytes, self_timer, write_result


def _count_lines(path: str) -> int:
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                n += 1
    return n


class _CountingSink(io.RawIOBase):
    """A binary stream that counts the aggregate lines written to it and keeps nothing."""

    def __init__(self) -> None:
        self.lines = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.lines += 1
        return len(b)


def run_preview(path: str) -> Measurement:
    from deidentify.preview import run_preview as preview
    from deidentify.schema import load_schemas

    events = _count_lines(path)
    schemas = load_schemas()
    sink = _CountingSink()
    err = io.StringIO()
    t0, c0 = self_timer()
    code = preview(schemas, path, region="bench", out=sink, err=err,
                   settle_heap=True)     # what ``deidentify preview`` does
    t1, c1 = self_timer()
    if code != 0:
        raise SystemExit(f"preview exited with {code}")
    report = err.getvalue().splitlines()
    return Measurement(events, c1 - c0, t1 - t0, max_rss_bytes(),
                       extra={"aggregates": sink.lines, "report_lines": len(report)})


def run_parse(path: str) -> Measurement:
    events = _count_lines(path)
    loads = orjson.loads
    parsed = 0
    t0, c0 = self_timer()
    with open(path, "rb") as fh:
        for line in fh:
            line = line.strip(b" \t\r\n")
            if line:
                loads(line)
                parsed += 1
    t1, c1 = self_timer()
    if parsed != events:
        raise SystemExit("parse-only counted a different number of lines")
    return Measurement(parsed, c1 - c0, t1 - t0, max_rss_bytes())


def run_decode(path: str) -> Measurement:
    from deidentify.schema import load_schemas

    events = _count_lines(path)
    decoder = load_schemas().decoder
    assert decoder is not None and decoder.decode is not None
    decode = decoder.decode
    errors = (ValueError, RecursionError)
    decoded = refused = 0
    t0, c0 = self_timer()
    with open(path, "rb") as fh:
        for line in fh:
            line = line.strip(b" \t\r\n")
            if line:
                try:
                    if not line.isascii():
                        line.decode()
                    decode(line)
                    decoded += 1
                except errors:
                    refused += 1
    t1, c1 = self_timer()
    if decoded + refused != events:
        raise SystemExit("decode-only counted a different number of lines")
    return Measurement(events, c1 - c0, t1 - t0, max_rss_bytes(), extra={"refused": refused})


def _rss_now() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_subjects(n: int, batch: int = 4096) -> Measurement:
    """Feed ``n`` http_request events with distinct user ids into one open 60 s window."""
    from benchmarks.dataset import START_MS
    from deidentify.generate import TelemetryGenerator
    from deidentify.pipeline import Pipeline
    from deidentify.schema import load_schemas

    templates = [ev for ev in TelemetryGenerator(seed=3, start_ms=START_MS).events(4000)
                 if ev["type"] == "http_request"]
    for ev in templates:
        ev.pop("client_ip", None)
        ev["ts"] = START_MS + 1000
    pipeline = Pipeline(load_schemas(), region="bench")
    rss_before = _rss_now()
    dumps = orjson.dumps
    t0, c0 = self_timer()
    records: list[tuple[int, bytes]] = []
    for i in range(n):
        ev = templates[i % len(templates)]
        ev["user"] = {"id": f"subject-{i}"}
        ev["ts"] = START_MS + 1000 + (i % 50_000)        # one window: [start, start + 60 s)
        records.append((i, dumps(ev)))
        if len(records) >= batch:
            pipeline.process_batch(records)
            records = []
    if records:
        pipeline.process_batch(records)
    still_open = pipeline.windows.open_window_count
    closed = pipeline.close_due()   # nothing is due: every event is in the one open window
    t1, c1 = self_timer()
    rss_after = _rss_now()
    cells = sum(len(w.cells) for w in pipeline.windows.open_windows())
    return Measurement(n, c1 - c0, t1 - t0, max_rss_bytes(),
                       extra={"rss_before_bytes": rss_before, "rss_after_bytes": rss_after,
                              "open_windows": still_open, "cells": cells,
                              "closed_early": len(closed),
                              "valid": sum(pipeline.valid.values())})


def run_profile(path: str, limit: int, top: int = 20) -> Measurement:
    """Time the in-memory pipeline, then cProfile it; the top costs go into ``extra``."""
    import cProfile
    import pstats

    from deidentify.pipeline import Pipeline
    from deidentify.schema import load_schemas

    records: list[tuple[int, bytes]] = []
    with open(path, "rb") as fh:
        for i, line in enumerate(fh):
            if i >= limit:
                break
            records.append((i, line.strip()))
    schemas = load_schemas()
    batches = [records[i:i + 4096] for i in range(0, len(records), 4096)]

    def feed(p: Pipeline) -> int:
        out = 0
        for b in batches:
            p.process_batch(b)
            out += len(p.close_due())
        return out + len(p.close_all())

    feed(Pipeline(schemas, region="bench"))             # warm caches, imports
    pipeline = Pipeline(schemas, region="bench")
    t0, c0 = self_timer()
    aggregates = feed(pipeline)
    t1, c1 = self_timer()

    prof = cProfile.Profile()
    prof.enable()
    feed(Pipeline(schemas, region="bench"))
    prof.disable()
    stats = pstats.Stats(prof)
    total = stats.total_tt
    rows = []
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for (file, line, name), (_cc, nc, tt, ct, _callers) in stats.stats.items():
        label = name if file == "~" else f"{os.path.relpath(file, root) if file.startswith(root) else os.path.basename(file)}:{line}({name})"
        rows.append({"function": label, "calls": nc, "tottime_s": round(tt, 4),
                     "cumtime_s": round(ct, 4), "share": round(tt / total, 4) if total else 0})
    rows.sort(key=lambda r: r["tottime_s"], reverse=True)
    return Measurement(len(records), c1 - c0, t1 - t0, max_rss_bytes(),
                       extra={"aggregates": aggregates, "profile_total_s": round(total, 3),
                              "top": rows[:top]})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.offline")
    parser.add_argument("mode", choices=("preview", "parse", "decode", "subjects", "profile"))
    parser.add_argument("arg", help="the JSON-lines file, or N for subjects")
    parser.add_argument("--result", required=True)
    parser.add_argument("--limit", type=int, default=200_000, help="profile: events to use")
    args = parser.parse_args(argv)
    t_start = time.monotonic()
    if args.mode == "preview":
        m = run_preview(args.arg)
    elif args.mode == "parse":
        m = run_parse(args.arg)
    elif args.mode == "decode":
        m = run_decode(args.arg)
    elif args.mode == "subjects":
        m = run_subjects(int(args.arg))
    else:
        m = run_profile(args.arg, args.limit)
    m.total_wall_s = time.monotonic() - t_start
    m.total_cpu_s = time.process_time()
    write_result(args.result, m)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``preview`` against parse-only on the benchmark events written the way other producers
write them.

``python -m benchmarks.shapes [--events N] [--repeat R] [--only SHAPE ...] [--out FILE]``

The side-by-side run (``python -m benchmarks``) measures one way of writing events: ``type``
the first key, a ``route`` field on most HTTP requests, identifiers drawn from bounded pools,
millisecond timestamps. The sidecar's cost depends on that shape (the allowlist decoder
finds ``type`` at once only when it comes first; a request without a route field is
templated from its URL, and an identifier never seen before is classified anew), while
``orjson.loads`` does not care. Each shape here is the same events rewritten one way, so
the ratio to parse-only of the same lines shows what the shape costs:

``as-generated``  the data set itself
``type-last``     the ``type`` key moved to the end of each event
``sorted-keys``   every object's keys sorted (``json.dumps(sort_keys=True)``, Go maps, ...)
``spaced``        Python's ``json.dumps`` separators (``", "``, ``": "``), non-ASCII kept
``no-route``      HTTP requests without their ``route`` field (templated from the URL)
``unique-ids``    as ``no-route``, and every identifier in a URL path is one never seen
                  before (each placeholder position of the dropped route gets a fresh token)
``microseconds``  ``ts`` as an ISO 8601 string with six fraction digits (same millisecond)

Every shape keeps every event valid; the content-preserving ones (all but ``no-route`` and
``unique-ids``) yield the same aggregates as the data set (``tests/test_benchmarks_shapes.py``).
Each measurement is ``benchmarks.offline`` in its own process, ``preview`` and parse-only
alternating, ``--repeat`` times; medians are reported with their ratio, per core. No broker.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import secrets
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import orjson

from benchmarks import contenders as C
from benchmarks.dataset import Dataset, ensure_dataset
from benchmarks.measure import python_argv

# A reshaped copy is cached next to the data set, keyed by this module's source as well, so
# that a changed rewrite is never measured from a stale copy.
_SOURCE_TAG = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]

Reshape = Callable[[dict, int], bytes]


def type_last(event: dict, n: int) -> bytes:
    if "type" in event:
        event["type"] = event.pop("type")
    return orjson.dumps(event)


def sorted_keys(event: dict, n: int) -> bytes:
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def spaced(event: dict, n: int) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


def no_route(event: dict, n: int) -> bytes:
    if event.get("type") == "http_request":
        event.pop("route", None)
    return orjson.dumps(event)


def unique_ids(event: dict, n: int) -> bytes:
    """No route field; where the dropped route had a placeholder, the URL path segment at
    that position becomes ``u<n as 8 hex digits><position>``, a token no other event has."""
    if event.get("type") != "http_request":
        return orjson.dumps(event)
    route, url = event.pop("route", None), event.get("url")
    if type(route) is str and type(url) is str and "://" in url:
        base, sep, query = url.partition("?")
        start = base.find("/", base.find("://") + 3)
        if start > 0:
            segments = base[start:].split("/")
            placeholders = route.split("/")
            if len(segments) == len(placeholders):
                for i, part in enumerate(placeholders):
                    if part.startswith("{"):
                        segments[i] = f"u{n:08x}{i}"
                event["url"] = base[:start] + "/".join(segments) + sep + query
    return orjson.dumps(event)


def microseconds(event: dict, n: int) -> bytes:
    """``ts`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``: the same millisecond, plus 0-999 µs."""
    ts = event.get("ts")
    if type(ts) is int:
        ms = ts
    elif type(ts) is str:
        parsed = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
        ms = int(parsed.timestamp() * 1000 + 0.5)
    else:
        return orjson.dumps(event)
    moment = datetime.datetime.fromtimestamp(ms // 1000, datetime.UTC)
    sub_us = (ms % 1000) * 1000 + (n * 7919) % 1000
    event["ts"] = moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{sub_us:06d}Z"
    return orjson.dumps(event)


AS_GENERATED = "as-generated"
"""The data set itself: measured from its own file, never rewritten."""
SHAPES: dict[str, Reshape] = {
    "type-last": type_last, "sorted-keys": sorted_keys, "spaced": spaced,
    "no-route": no_route, "unique-ids": unique_ids, "microseconds": microseconds,
}
"""The rewrites, by shape name."""
ALL = (AS_GENERATED, *SHAPES)
SAME_AGGREGATES = (AS_GENERATED, "type-last", "sorted-keys", "spaced", "microseconds")
"""The shapes that change only how an event is written, not what it says."""


def reshape_file(source: str, target: str, shape: str) -> int:
    """Write ``source``'s events reshaped to ``target`` (via a temporary file, so a cached
    target is always complete); returns the number of events."""
    fn = SHAPES[shape]
    n = 0
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(source, "rb") as src, open(tmp, "wb") as out:
        for line in src:
            if line.strip():
                out.write(fn(orjson.loads(line), n) + b"\n")
                n += 1
    os.replace(tmp, target)
    return n


def shaped_path(dataset: Dataset, shape: str) -> str:
    """The reshaped copy of ``dataset`` (made once, next to it)."""
    if shape == AS_GENERATED:
        return dataset.path
    target = f"{dataset.path.removesuffix('.jsonl')}.{shape}-{_SOURCE_TAG}.jsonl"
    if not os.path.exists(target):
        reshape_file(dataset.path, target, shape)
    return target


def measure(ctx: C.RunContext, shape: str, path: str, repeat: int) -> dict:
    """``preview`` and parse-only of ``path``, alternating, ``repeat`` times each."""
    rates: dict[str, list[float]] = {"preview": [], "parse": []}
    for rep in range(1, repeat + 1):
        order = ("preview", "parse") if rep % 2 else ("parse", "preview")
        for mode in order:
            result = ctx.path("shape", shape, mode, rep, "result.json")
            m = C._run_self_timed(ctx, f"{shape} {mode}",
                                  python_argv("benchmarks.offline", mode, path,
                                              "--result", result), result)
            rates[mode].append(m.per_core)
            ctx.log(f"  {shape} {mode} [{rep}/{repeat}]: {m.per_core:,.0f} events/s per core")
    preview, parse = statistics.median(rates["preview"]), statistics.median(rates["parse"])
    return {"shape": shape, "preview": preview, "parse": parse, "ratio": preview / parse,
            "preview_runs": rates["preview"], "parse_runs": rates["parse"]}


def table(rows: list[dict]) -> str:
    base = next((r for r in rows if r["shape"] == AS_GENERATED), None)
    lines = ["| shape | preview, events/s per core (min–max) | parse-only (min–max) "
             "| preview / parse-only | vs as-generated |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        rel = f"{r['ratio'] / base['ratio']:.2f}x" if base else "–"
        lines.append(
            f"| {r['shape']} | {r['preview']:,.0f} ({min(r['preview_runs']):,.0f}–"
            f"{max(r['preview_runs']):,.0f}) | {r['parse']:,.0f} ({min(r['parse_runs']):,.0f}–"
            f"{max(r['parse_runs']):,.0f}) | {r['ratio']:.2f}x | {rel} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.shapes",
                                description="preview vs parse-only per way of writing events")
    p.add_argument("--events", type=int, default=300_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--only", nargs="+", choices=ALL, metavar="SHAPE")
    p.add_argument("--cache-dir", default=os.path.join(tempfile.gettempdir(),
                                                       "deidentify-bench"))
    p.add_argument("--out", help="also write the rows as JSON to this file")
    args = p.parse_args(argv)
    if args.events < 1 or args.repeat < 1:
        p.error("--events and --repeat must be at least 1")
    dataset = ensure_dataset(args.events, cache_dir=args.cache_dir)
    with tempfile.TemporaryDirectory(prefix="deidentify-shapes-") as work:
        ctx = C.RunContext(bootstrap="", run_id=secrets.token_hex(4), workdir=Path(work),
                           dataset=dataset)
        rows = []
        for shape in args.only or ALL:
            path = shaped_path(dataset, shape)
            rows.append(measure(ctx, shape, path, args.repeat))
    text = table(rows)
    print(f"\n{dataset.events:,} events, {args.repeat} repeats, medians:\n\n{text}")
    if args.out:
        Path(args.out).write_text(json.dumps({"events": dataset.events, "repeat": args.repeat,
                                              "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

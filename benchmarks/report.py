"""Statistics, ratios, targets, and the results files (JSON + markdown).

Throughput is reported per core (events / CPU seconds of the contender's process) and per
wall second, as the median over the repeats with the spread (min–max). Ratios divide medians.
Targets are *reported* (met / missed by how much), never asserted.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from benchmarks.measure import Measurement

MB = 1024 * 1024

# (name, numerator, denominator or None, comparison, threshold, unit)
TARGETS = (
    ("end to end exactly-once, events/s per core", "deidentify", None, ">=", 250_000, "ev/s"),
    ("deidentify / quixstreams (per core)", "deidentify", "quixstreams", ">=", 5.0, "x"),
    ("deidentify / faust agent with a windowed table (per core)", "deidentify", "faust", ">=",
     20.0, "x"),
    ("deidentify / faust agent calling deidentify's Pipeline (per core)", "deidentify",
     "faust-pipeline", ">=", 20.0, "x"),
    ("deidentify / consume-only ceiling (per core)", "deidentify", "ceiling", ">=", 0.50, "x"),
    ("preview / parse-only (per core)", "preview", "parse-only", ">=", 0.60, "x"),
)
RSS_TARGET_BYTES = 300 * MB
RSS_TARGET_SUBJECTS = 1_000_000

RATIOS = (
    ("deidentify", "faust"),
    ("deidentify", "faust-pipeline"),
    ("deidentify", "quixstreams"),
    ("deidentify", "quixstreams-eos"),
    ("deidentify", "ceiling"),
    ("preview", "parse-only"),
    ("decode-only", "parse-only"),
    ("preview", "decode-only"),
    ("deidentify-alo", "deidentify"),
)


@dataclass
class Summary:
    runs: int
    events: int
    per_core: float
    per_core_min: float
    per_core_max: float
    per_wall: float
    per_wall_min: float
    per_wall_max: float
    peak_rss_bytes: int
    cpu_s: float

    def to_dict(self) -> dict:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in vars(self).items()}


def summarize(runs: list[Measurement]) -> Summary | None:
    if not runs:
        return None
    core = [m.per_core for m in runs]
    wall = [m.per_wall for m in runs]
    return Summary(len(runs), int(statistics.median(m.events for m in runs)),
                   statistics.median(core), min(core), max(core),
                   statistics.median(wall), min(wall), max(wall),
                   int(statistics.median(m.peak_rss_bytes for m in runs)),
                   statistics.median(m.cpu_s for m in runs))


def ratios(summaries: dict[str, Summary]) -> dict[str, dict]:
    out = {}
    for a, b in RATIOS:
        sa, sb = summaries.get(a), summaries.get(b)
        if sa is None or sb is None or not sb.per_core or not sb.per_wall:
            continue
        out[f"{a}/{b}"] = {"per_core": round(sa.per_core / sb.per_core, 3),
                           "per_wall": round(sa.per_wall / sb.per_wall, 3)}
    return out


def targets(summaries: dict[str, Summary], subjects: dict[int, Measurement]) -> list[dict]:
    rows = []
    for name, num, den, _op, threshold, unit in TARGETS:
        sn = summaries.get(num)
        if den is None:
            value = sn.per_core if sn else None
            against = None
        else:
            sd = summaries.get(den)
            against = den
            value = sn.per_core / sd.per_core if sn and sd and sd.per_core else None
        rows.append(_target_row(name, value, threshold, unit, against))
    sub = subjects.get(RSS_TARGET_SUBJECTS)
    rss = sub.peak_rss_bytes if sub else None
    row = {"target": f"peak RSS with {RSS_TARGET_SUBJECTS:,} distinct subjects in an open window",
           "threshold": f"< {RSS_TARGET_BYTES // MB} MB",
           "measured": None if rss is None else f"{rss / MB:.0f} MB",
           "met": None if rss is None else rss < RSS_TARGET_BYTES}
    if rss is not None and rss >= RSS_TARGET_BYTES:
        row["missed_by"] = f"{(rss - RSS_TARGET_BYTES) / MB:.0f} MB"
    rows.append(row)
    return rows


def _target_row(name: str, value: float | None, threshold: float, unit: str,
                against: str | None) -> dict:
    fmt = (lambda v: f"{v:,.0f} {unit}") if unit == "ev/s" else (lambda v: f"{v:.2f}{unit}")
    row = {"target": name, "threshold": f">= {fmt(threshold)}",
           "measured": None if value is None else fmt(value),
           "met": None if value is None else value >= threshold}
    if against:
        row["against"] = against
    if value is not None and value < threshold:
        row["missed_by"] = f"{(1 - value / threshold) * 100:.0f}% short (x{threshold / value:.2f} needed)"
    return row


# --------------------------------------------------------------------------- environment


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu_model": cpu or platform.processor(),
            "memory_gib": round(mem / 1024 ** 3, 1), "kernel": platform.release(),
            "platform": platform.platform()}


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def versions(kafka_version: str | None = None) -> dict:
    out = {"python": platform.python_version(), "kafka": kafka_version or "unknown"}
    for dist in ("deidentify", "aiokafka", "faust-streaming", "quixstreams", "confluent-kafka",
                 "orjson", "psutil", "matplotlib"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def kafka_version_from_pom(root: Path) -> str | None:
    """The broker version the project's scripts/kafka.sh runs (scripts/kafka/pom.xml)."""
    import re
    try:
        text = (root / "scripts" / "kafka" / "pom.xml").read_text()
    except OSError:
        return None
    m = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", text) or \
        re.search(r"<artifactId>kafka_2\.13</artifactId>\s*<version>([^<]+)</version>", text)
    return m.group(1) if m else None


# --------------------------------------------------------------------------- output


def _rate(v: float) -> str:
    return f"{v:,.0f}"


def _spread(s: Summary, core: bool) -> str:
    if core:
        return f"{_rate(s.per_core)} ({_rate(s.per_core_min)}–{_rate(s.per_core_max)})"
    return f"{_rate(s.per_wall)} ({_rate(s.per_wall_min)}–{_rate(s.per_wall_max)})"


def markdown(doc: dict) -> str:
    lines = [f"# Benchmark results — {doc['date']}", ""]
    m = doc["machine"]
    v = doc["versions"]
    lines += [
        f"Machine: {m['nproc']} cores ({m['cpu_model']}), {m['memory_gib']} GiB; "
        f"load average (1/5/15 min) before {doc['load']['before']}, "
        f"after {doc['load']['after']}.",
        f"Versions: Python {v['python']}, Kafka {v['kafka']}, aiokafka {v['aiokafka']}, "
        f"faust-streaming {v['faust-streaming']}, quixstreams {v['quixstreams']}, "
        f"confluent-kafka {v['confluent-kafka']}, orjson {v['orjson']}.",
        f"Data set: {doc['dataset']['events']:,} events "
        f"({doc['dataset']['mean_event_bytes']:.0f} bytes on average; "
        + ", ".join(f"{k} {n:,}" for k, n in sorted(doc['dataset']['by_kind'].items()))
        + f"), {doc['settings']['partitions']} partitions, "
        f"{doc['settings']['repeat']} repeat(s)"
        + (f" ({offline} of preview, parse-only and decode-only)"
           if (offline := doc['settings'].get('offline_repeat', 0)) > doc['settings']['repeat']
           else "")
        + f"; took {doc['elapsed_s']:.0f} s.",
        "",
        "| contender | events timed | events/s per core, median (min–max) "
        "| events/s wall, median (min–max) | peak RSS | runs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, s in doc["summaries"].items():
        ss = Summary(**s)
        lines.append(f"| {name} | {ss.events:,} | {_spread(ss, True)} | {_spread(ss, False)} "
                     f"| {ss.peak_rss_bytes / MB:.0f} MB | {ss.runs} |")
    if doc["ratios"]:
        lines += ["", "| ratio | per core | per wall |", "|---|---:|---:|"]
        for name, r in doc["ratios"].items():
            lines.append(f"| {name} | {r['per_core']:.2f}x | {r['per_wall']:.2f}x |")
    if doc["targets"]:
        lines += ["", "| target | threshold | measured | met |", "|---|---|---|---|"]
        for t in doc["targets"]:
            met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
            if t.get("missed_by"):
                met += f" — {t['missed_by']}"
            lines.append(f"| {t['target']} | {t['threshold']} "
                         f"| {t['measured'] or '—'} | {met} |")
    part = doc.get("partitions") or {}
    if part:
        lines += ["", "Scaling with partitions (one process; median events/s):", "",
                  "| contender | partitions | per core | per wall | peak RSS |",
                  "|---|---:|---:|---:|---:|"]
        for name, by_p in part.items():
            for p, s in sorted(by_p.items(), key=lambda kv: int(kv[0])):
                ss = Summary(**s)
                lines.append(f"| {name} | {p} | {_rate(ss.per_core)} | {_rate(ss.per_wall)} "
                             f"| {ss.peak_rss_bytes / MB:.0f} MB |")
    subj = doc.get("subjects") or {}
    if subj:
        lines += ["", "Memory with distinct subjects in one open window (offline pipeline):", "",
                  "| distinct subjects | RSS before | RSS after | peak RSS | cells |",
                  "|---:|---:|---:|---:|---:|"]
        for n, r in sorted(subj.items(), key=lambda kv: int(kv[0])):
            e = r["extra"]
            lines.append(f"| {int(n):,} | {e['rss_before_bytes'] / MB:.0f} MB "
                         f"| {e['rss_after_bytes'] / MB:.0f} MB "
                         f"| {r['peak_rss_bytes'] / MB:.0f} MB | {e['cells']} |")
    eos = doc.get("delivery") or {}
    if eos:
        lines += ["", f"Exactly-once vs at-least-once: {eos['note']}"]
    e2e = doc.get("e2e")
    if e2e:
        lines += ["", "End to end (first repeat): " + e2e]
    prof = doc.get("profile")
    if prof:
        lines += ["", f"Profile of `Pipeline.process_batch` over {prof['events']:,} events "
                  f"in memory ({_rate(prof['events_per_cpu_s'])} events/s per core without "
                  "the profiler):", "",
                  "| function | calls | own time | share |", "|---|---:|---:|---:|"]
        for row in prof["top"][:12]:
            lines.append(f"| `{row['function']}` | {row['calls']:,} | {row['tottime_s']:.3f} s "
                         f"| {row['share'] * 100:.1f}% |")
    if doc.get("failures"):
        lines += ["", "Failures:", ""] + [f"- {f}" for f in doc["failures"]]
    return "\n".join(lines) + "\n"


def write(doc: dict, results_dir: Path) -> dict[str, Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": results_dir / "latest.json", "md": results_dir / "latest.md"}
    paths["json"].write_text(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")
    paths["md"].write_text(markdown(doc))
    return paths


README_BEGIN = "<!-- results:begin -->"
README_END = "<!-- results:end -->"


def update_readme(readme: Path, md: str) -> bool:
    """Replace the marked results section of benchmarks/README.md; False if no markers."""
    try:
        text = readme.read_text()
    except OSError:
        return False
    a, b = text.find(README_BEGIN), text.find(README_END)
    if a < 0 or b < a:
        return False
    body = md.split("\n", 2)[2] if md.startswith("# ") else md   # drop the title line
    readme.write_text(text[:a + len(README_BEGIN)] + "\n" + body.strip() + "\n" + text[b:])
    return True


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

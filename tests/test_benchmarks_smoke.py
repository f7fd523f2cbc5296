"""The benchmark harness works: its offline part, end to end, on a tiny data set.

Runs ``python -m benchmarks --only preview parse-only subjects profile`` (no broker) on 2,000
events and checks the structure of the results and that the counts agree. No timing is
asserted: the figures are whatever this machine gives.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVENTS = 2000


def test_offline_harness_writes_consistent_results(tmp_path):
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--events", str(EVENTS),
           "--repeat", "1", "--only", "preview", "parse-only", "subjects", "profile",
           "--subjects", "3000", "--profile-events", str(EVENTS),
           "--results-dir", str(results), "--cache-dir", str(tmp_path / "cache")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]

    doc = json.loads((results / "latest.json").read_text())
    for key in ("date", "machine", "versions", "load", "settings", "dataset", "summaries",
                "runs", "ratios", "targets", "subjects", "profile"):
        assert key in doc, key
    assert doc["machine"]["nproc"] >= 1
    assert doc["versions"]["python"]
    assert doc["dataset"]["events"] == EVENTS
    assert sum(doc["dataset"]["by_kind"].values()) == EVENTS

    preview, parse = doc["summaries"]["preview"], doc["summaries"]["parse-only"]
    assert preview["events"] == parse["events"] == EVENTS
    for s in (preview, parse):
        assert s["runs"] == 1 and s["per_core"] > 0 and s["per_wall"] > 0
        assert s["per_core_min"] <= s["per_core"] <= s["per_core_max"]
        assert s["peak_rss_bytes"] > 0
    assert doc["runs"]["preview"][0]["extra"]["aggregates"] > 0
    assert doc["ratios"]["preview/parse-only"]["per_core"] > 0
    assert [t["target"] for t in doc["targets"]] == ["preview / parse-only (per core)"]

    subjects = doc["subjects"]["3000"]
    assert subjects["events"] == 3000
    assert subjects["extra"]["open_windows"] == 1          # one window, never closed
    assert subjects["extra"]["valid"] == 3000
    assert doc["profile"]["events"] == EVENTS and doc["profile"]["top"]

    md = (results / "latest.md").read_text()
    assert "| preview |" in md and "| parse-only |" in md and "preview/parse-only" in md
    assert "| preview |" in proc.stdout                      # the table is printed too


def test_sidecar_sampling_turns_fine_only_near_the_end():
    """The sidecar is scraped every 0.5 s while the end is far, every 0.1 s once the last two
    samples' rate would consume the rest within two coarse intervals."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from benchmarks.contenders import next_sample_in
    from benchmarks.measure import Sample

    def at(t, consumed):
        return Sample(t, 0.0, 0, consumed)

    total = 1_000_000
    # 100k events/s: 1.0 s of work left is exactly two intervals, not less: still coarse.
    assert next_sample_in(at(0.0, 0), at(1.0, 100_000), 200_000, 0.5, 0.1) == 0.5
    assert next_sample_in(at(0.0, 0), at(1.0, 100_000), 199_999, 0.5, 0.1) == 0.1
    assert next_sample_in(at(0.0, 0), at(1.0, 100_000), total, 0.5, 0.1) == 0.5
    # nothing to estimate a rate from, or no progress: coarse
    assert next_sample_in(None, at(1.0, 100_000), total, 0.5, 0.1) == 0.5
    assert next_sample_in(at(0.0, None), at(1.0, 100_000), total, 0.5, 0.1) == 0.5
    assert next_sample_in(at(0.0, 5), at(1.0, 5), 6, 0.5, 0.1) == 0.5
    assert next_sample_in(at(1.0, 0), at(1.0, 5), 6, 0.5, 0.1) == 0.5
